/*!40101 SET NAMES binary*/;
CREATE TABLE `orders` (
  `order_id` int(11) NOT NULL,
  `customer_id` bigint(20) NOT NULL,
  `status` enum('new','paid','shipped') NOT NULL DEFAULT 'new',
  `amount` decimal(10,2) DEFAULT NULL,
  `note` text DEFAULT NULL,
  `placed` date DEFAULT NULL,
  PRIMARY KEY (`order_id`),
  KEY `idx_customer` (`customer_id`,`placed`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
