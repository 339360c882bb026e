CREATE TABLE `per%cent/slash` (`id` int NOT NULL, PRIMARY KEY (`id`));
