CREATE TABLE `tëst✓` (`id` int NOT NULL, PRIMARY KEY (`id`));
