INSERT INTO `bad` VALUES (1,'one'),(2,'two','extra'),(3);
INSERT INTO `bad` VALUES (4,'four');
