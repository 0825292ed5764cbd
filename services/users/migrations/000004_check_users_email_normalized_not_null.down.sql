-- berth:lock-timeout 5s
ALTER TABLE users DROP CONSTRAINT users_email_normalized_not_null;
