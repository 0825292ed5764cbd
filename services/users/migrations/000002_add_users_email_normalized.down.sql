-- berth:lock-timeout 5s
ALTER TABLE users DROP COLUMN email_normalized;
