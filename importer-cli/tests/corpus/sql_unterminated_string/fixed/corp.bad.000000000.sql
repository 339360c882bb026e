INSERT INTO `bad` VALUES (1,'one'),(2,'tw');
INSERT INTO `bad` VALUES (3,'three');
