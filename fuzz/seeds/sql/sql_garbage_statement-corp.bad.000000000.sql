INSERT INTO `bad` VALUES (1,'one');
DROP TABLE `bad`;
INSERT INTO `bad` VALUES (2,'two');
