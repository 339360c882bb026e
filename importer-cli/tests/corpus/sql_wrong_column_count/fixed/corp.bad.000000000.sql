INSERT INTO `bad` VALUES (1,'one'),(2,'two'),(3,NULL);
INSERT INTO `bad` VALUES (4,'four');
