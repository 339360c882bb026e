CREATE TABLE `bad` (
  `id` int NOT NULL,
  `v` longtext,
  PRIMARY KEY (`id`)
);
