-- berth:lock-timeout 5s
-- Expand: a nullable column the running release ignores. The lock timeout makes the ALTER give
-- up (and the deploy retry) instead of queueing every query on accounts behind a long one.
ALTER TABLE accounts ADD COLUMN display_name text;
