CREATE TABLE `bad` (
  `id` int NOT NULL,
  `t` tinyint DEFAULT NULL,
  `u` int unsigned DEFAULT NULL,
  `b` bigint DEFAULT NULL,
  `n` decimal(4,2) DEFAULT NULL,
  `s` varchar(3) DEFAULT NULL,
  PRIMARY KEY (`id`)
);
