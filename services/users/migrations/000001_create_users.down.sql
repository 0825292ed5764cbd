-- berth:lock-timeout 5s
DROP TABLE users;
