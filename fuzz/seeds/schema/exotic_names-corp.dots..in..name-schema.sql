CREATE TABLE `dots..in..name` (`id` int NOT NULL, PRIMARY KEY (`id`));
