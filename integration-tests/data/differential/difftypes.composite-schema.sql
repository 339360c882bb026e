CREATE TABLE `composite` (
  `region` varchar(16) NOT NULL,
  `code` int NOT NULL,
  `seq` bigint unsigned NOT NULL,
  `label` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT '',
  `amount` decimal(12,4) DEFAULT NULL,
  `raw` varbinary(16) DEFAULT NULL,
  PRIMARY KEY (`region`,`code`),
  UNIQUE KEY `uk_seq` (`seq`),
  KEY `idx_label_amount` (`label`,`amount`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
