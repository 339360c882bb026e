CREATE TABLE `BAD` (
  `id` bigint NOT NULL,
  PRIMARY KEY (`id`)
);
