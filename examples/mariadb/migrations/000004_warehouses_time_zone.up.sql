-- berth:lock-timeout 5s
-- Each warehouse gets a time zone, required from now on: added as NULL, filled in for the rows
-- that exist, then made NOT NULL (and the name longer) with ALTER TABLE ... MODIFY. Every
-- statement commits on its own (DDL commits implicitly); berth counts the ones done in the
-- history row, so if the MODIFY fails the migration is recorded `failed` after the UPDATE, and
-- `berth resolve` settles it once the database is put right.
ALTER TABLE warehouses ADD COLUMN time_zone VARCHAR(64) NULL AFTER name;
UPDATE warehouses SET time_zone = 'UTC' WHERE time_zone IS NULL;
ALTER TABLE warehouses
  MODIFY time_zone VARCHAR(64)  NOT NULL DEFAULT 'UTC',
  MODIFY name      VARCHAR(200) NOT NULL;
