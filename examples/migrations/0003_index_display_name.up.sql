-- berth:no-transaction
-- Built concurrently so writes to accounts are not blocked while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_display_name_idx ON accounts (display_name);
