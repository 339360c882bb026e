CREATE TABLE `with space` (`id` int NOT NULL, PRIMARY KEY (`id`));
