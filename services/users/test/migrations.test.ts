/**
 * The expand/contract sequence on a table that already has rows: migrate to version 2 (column
 * added), insert rows the way an older release did (email_normalized NULL), then migrate the rest.
 * The batched backfill commits per batch inside a no-transaction file run by berth.
 */
import { createMigrator } from 'berth';
import { useTestDatabase } from '@berth-example/service-kit/testing';
import { expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS_DIR } from '../src/config.js';

const db = useTestDatabase('svc_users_migr');
/** More than two batches of the backfill (1000 rows each). */
const ROWS = 2_500;

it('backfills existing rows in batches, validates the NOT NULL check, builds the unique index, and steps back down', async () => {
  const migrator = createMigrator({ databaseUrl: db().url, dir: DEFAULT_MIGRATIONS_DIR });
  try {
    expect((await migrator.up({ to: 2 })).current).toBe(2);
    await db().admin.query(
      `insert into users (username, email) select 'old' || i, 'Old' || i || '@Example.org' from generate_series(1, ${ROWS}) i`,
    );

    const result = await migrator.up();
    expect(result.applied.map((m) => m.version)).toEqual([3, 4, 5, 6]);
  } finally {
    await migrator.close();
  }

  const { rows: [counts] } = await db().admin.query(
    `select count(*)::int as total, count(*) filter (where email_normalized = lower(email))::int as normalized from users`,
  );
  expect(counts).toEqual({ total: ROWS, normalized: ROWS });

  const { rows: [constraint] } = await db().admin.query(
    `select convalidated from pg_constraint where conname = 'users_email_normalized_not_null'`,
  );
  expect(constraint).toEqual({ convalidated: true });
  const { rows: [index] } = await db().admin.query(
    `select i.indisvalid, i.indisunique from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'users_email_normalized_key'`,
  );
  expect(index).toEqual({ indisvalid: true, indisunique: true });

  // The check now holds for new rows too.
  await expect(db().admin.query(`insert into users (username, email) values ('late', 'late@example.org')`))
    .rejects.toThrow(/users_email_normalized_not_null/);

  // Every migration has a down file: the whole sequence can be stepped back.
  const back = createMigrator({ databaseUrl: db().url, dir: DEFAULT_MIGRATIONS_DIR });
  try {
    expect((await back.down({ all: true })).reverted.map((m) => m.version)).toEqual([6, 5, 4, 3, 2, 1]);
  } finally {
    await back.close();
  }
  const { rows: [table] } = await db().admin.query(`select to_regclass('public.users') as users`);
  expect(table).toEqual({ users: null });
});
