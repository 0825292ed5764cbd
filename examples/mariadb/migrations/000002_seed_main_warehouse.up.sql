-- The warehouse every installation starts with. DML only, so the file makes itself atomic: on
-- MySQL and MariaDB berth runs a file statement by statement, without a transaction of its own.
START TRANSACTION;
INSERT INTO warehouses (code, name) VALUES ('MAIN', 'Main warehouse');
COMMIT;
