-- berth:lock-timeout 5s
-- Expand/contract, step 3 of 5: NOT NULL without a long lock.
--
-- `ALTER COLUMN ... SET NOT NULL` would scan the whole table under ACCESS EXCLUSIVE. A CHECK
-- constraint added NOT VALID takes the lock only for a catalog change and applies to new and
-- updated rows at once; existing rows are checked by VALIDATE in the next file.
ALTER TABLE users
  ADD CONSTRAINT users_email_normalized_not_null CHECK (email_normalized IS NOT NULL) NOT VALID;
