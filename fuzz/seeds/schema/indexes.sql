CREATE TABLE `t` (
 `id` bigint unsigned NOT NULL AUTO_INCREMENT,
 `c` varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT 'x',
 `d` decimal(12,4) DEFAULT NULL,
 `e` enum('a','b') NOT NULL,
 `j` json,
 `g` int GENERATED ALWAYS AS (`id` + 1) VIRTUAL,
 PRIMARY KEY (`id`),
 UNIQUE KEY `uc` (`c`(10),`d`),
 KEY `k` (`e`)
) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4;
