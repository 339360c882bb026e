CREATE TABLE `bad` (
  `id` int NOT NULL,
  `i` int DEFAULT NULL,
  `d` date DEFAULT NULL,
  `dt` datetime DEFAULT NULL,
  `n` decimal(6,2) DEFAULT NULL,
  `f` double DEFAULT NULL,
  `e` enum('a','b') DEFAULT NULL,
  PRIMARY KEY (`id`)
);
