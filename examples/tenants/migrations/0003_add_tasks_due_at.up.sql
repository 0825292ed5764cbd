-- berth:lock-timeout 5s
-- Nullable and without a default: no table rewrite, safe while the old release still writes.
ALTER TABLE tasks ADD COLUMN due_at timestamptz;
