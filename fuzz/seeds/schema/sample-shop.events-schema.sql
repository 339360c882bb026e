/*!40101 SET NAMES binary*/;
CREATE TABLE `events` (
  `ts` datetime(3) NOT NULL,
  `kind` varchar(16) NOT NULL,
  `payload` varbinary(64) DEFAULT NULL,
  `weight` double DEFAULT NULL,
  `flags` tinyint(3) unsigned NOT NULL DEFAULT 0,
  KEY `idx_kind_ts` (`kind`,`ts`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
