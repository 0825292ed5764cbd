-- berth:lock-timeout 5s
-- Expand/contract, step 4 of 5: check the existing rows.
--
-- VALIDATE CONSTRAINT scans the table under SHARE UPDATE EXCLUSIVE, which lets reads and writes
-- go on. From here on every row is known to have email_normalized (a validated CHECK is what
-- the issue asks for; on PostgreSQL 12+ a later `SET NOT NULL` would use it and skip the scan).
ALTER TABLE users VALIDATE CONSTRAINT users_email_normalized_not_null;
