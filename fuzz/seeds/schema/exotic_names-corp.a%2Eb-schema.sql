CREATE TABLE `a.b` (`id` int NOT NULL, PRIMARY KEY (`id`));
