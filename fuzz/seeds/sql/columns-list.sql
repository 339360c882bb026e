INSERT INTO `t` (`a`,`b`) VALUES (1,'x'),(2,'y');
INSERT INTO t (b,a) VALUES ('z',3);
