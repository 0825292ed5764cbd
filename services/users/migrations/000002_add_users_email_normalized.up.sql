-- berth:lock-timeout 5s
-- Expand/contract, step 1 of 5: e-mail addresses become unique regardless of case.
--
-- Expand: a nullable column without a default is a catalog-only change (no table rewrite), so
-- the ACCESS EXCLUSIVE lock is held for milliseconds. The lock timeout makes the file fail fast
-- (rolled back; run berth again later) rather than wait behind a long transaction while every
-- other query on the table queues behind this one.
-- From this release on the service writes email_normalized = lower(email) on every insert.
ALTER TABLE users ADD COLUMN email_normalized text;
