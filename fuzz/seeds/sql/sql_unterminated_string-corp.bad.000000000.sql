INSERT INTO `bad` VALUES (1,'one'),(2,'two);
INSERT INTO `bad` VALUES (3,'three');
