CREATE TABLE `nopk` (
  `a` int DEFAULT NULL,
  `b` varchar(32) DEFAULT NULL,
  `c` double DEFAULT NULL,
  KEY `idx_b` (`b`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
