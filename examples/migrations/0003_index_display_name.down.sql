-- berth:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS accounts_display_name_idx;
