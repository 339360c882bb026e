INSERT INTO `bad` VALUES (1,'one');
INSERT INTO `bad` VALUES (2,'two');
