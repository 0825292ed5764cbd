-- berth:no-transaction
-- Expand/contract, step 2 of 5: backfill existing rows in batches.
--
-- One UPDATE of the whole table would lock every row until it commits and produce one huge
-- transaction. Instead the DO block commits after each batch of 1000 rows (PostgreSQL 11+ allows
-- COMMIT in a DO block run outside a transaction, hence no-transaction), so row locks are
-- short and an interrupted backfill keeps its progress: running it again continues where it
-- stopped. Rows inserted meanwhile already carry the value (step 1's release writes it).
DO $$
DECLARE
  batch_size constant integer := 1000;
  updated integer;
BEGIN
  LOOP
    UPDATE users SET email_normalized = lower(email)
     WHERE id IN (SELECT id FROM users WHERE email_normalized IS NULL ORDER BY id LIMIT batch_size);
    GET DIAGNOSTICS updated = ROW_COUNT;
    EXIT WHEN updated = 0;
    COMMIT;
  END LOOP;
END
$$;
