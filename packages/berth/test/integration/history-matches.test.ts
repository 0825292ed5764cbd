import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver } from '../../src/drivers/driver.js';
import { postgresDialect } from '../../src/drivers/postgres/dialect.js';
import { readMigrations } from '../../src/source/read-migrations.js';
import { runBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { connectDriver } from '../helpers/driver.js';

// The up-to-date check of every pod start: the server compares its history with the text berth
// renders from the files. If the two renderings ever disagreed, every no-op would quietly take
// the slow path; if the comparison were too loose, a changed history would pass as current.
describe('the history matches the files', () => {
  const db = useTestDatabase('matches');
  const table = { schema: 'public', table: 'berth_migrations' };
  let driver: Driver;
  let dir: string;

  beforeAll(async () => {
    driver = await connectDriver(db().url);
    dir = writeMigrations({
      '0001_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY);',
      '0002_orders.up.sql': 'CREATE TABLE orders (id bigint PRIMARY KEY);',
      // A version above 2^31: bigint in the table, a plain number in JavaScript.
      '20261122073000_index.up.sql': '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY orders_id ON orders (id);',
    });
  });
  afterAll(() => driver?.close());

  const matches = async () => (await driver.historySummary(table, await readMigrations(dir, { dialect: postgresDialect, bodies: 'lazy' })))?.matches === true;

  it('is false before the history table exists, true once everything is applied', async () => {
    expect(await matches()).toBe(false);
    const run = await runBerth(['migrate', '--dir', dir, '-d', db().url]);
    expect(run.code, run.stderr).toBe(0);
    expect(await matches()).toBe(true);
  });

  it('is false for a pending file, a changed checksum, an unsettled row and a row without a file', async () => {
    writeFileSync(path.join(dir, '20261122080000_later.up.sql'), 'SELECT 1;');
    expect(await matches()).toBe(false);
    const run = await runBerth(['migrate', '--dir', dir, '-d', db().url]);
    expect(run.code, run.stderr).toBe(0);
    expect(await matches()).toBe(true);

    const changes = [
      ["UPDATE berth_migrations SET checksum = repeat('0', 64) WHERE version = 2", "UPDATE berth_migrations SET checksum = $1 WHERE version = 2"],
      ["UPDATE berth_migrations SET status = 'failed' WHERE version = 2", "UPDATE berth_migrations SET status = 'applied' WHERE version = 2"],
      ["INSERT INTO berth_migrations (version, name, checksum, status) SELECT 3, 'gone', checksum, 'applied' FROM berth_migrations WHERE version = 2", 'DELETE FROM berth_migrations WHERE version = 3'],
    ];
    const original = (await db().admin.query('SELECT checksum FROM berth_migrations WHERE version = 2')).rows[0]?.checksum;
    for (const [change, undo] of changes) {
      await db().admin.query(change!);
      expect(await matches(), change).toBe(false);
      await db().admin.query(undo!, undo!.includes('$1') ? [original] : []);
      expect(await matches(), undo).toBe(true);
    }
  });

  it('a no-op migrate still refuses a changed file', async () => {
    writeFileSync(path.join(dir, '0002_orders.up.sql'), 'CREATE TABLE orders (id bigint PRIMARY KEY, note text);');
    const run = await runBerth(['migrate', '--dir', dir, '-d', db().url]);
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('0002_orders.up.sql) was changed after it was applied');
  });
});
