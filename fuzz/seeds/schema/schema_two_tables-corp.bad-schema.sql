CREATE TABLE `bad` (
  `id` int NOT NULL,
  `v` varchar(20) DEFAULT NULL,
  PRIMARY KEY (`id`)
);
CREATE TABLE `other` (`id` int);
