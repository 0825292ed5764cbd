/**
 * Adopting a database another migration tool managed, driving the built CLI against the real
 * server. dbmate and node-pg-migrate are the real tools (the workspace's dev dependencies: the npm
 * package of dbmate ships its Go binary); golang-migrate is not on npm, so its table is written with
 * the exact statements of its PostgreSQL driver (database/postgres/postgres.go).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, runNode, writeMigrations, type RunResult } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const require = createRequire(import.meta.url);

/** A tool's entry script, installed by `npm ci` at the repository root (bench/package.json). */
function toolScript(pkg: string, script: string): string {
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), script);
  } catch {
    throw new Error(`${pkg} is not installed; run npm ci at the repository root (it is a dev dependency of bench/)`);
  }
}
const DBMATE = toolScript('dbmate', 'dist/cli.js');
const NODE_PG_MIGRATE = toolScript('node-pg-migrate', 'bin/node-pg-migrate.js');

async function withDatabase(prefix: string, fn: (db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase(prefix);
  try {
    await fn(db);
  } finally {
    await db.drop();
  }
}

/** golang-migrate's SetVersion: TRUNCATE and INSERT in one transaction. */
async function setVersion(client: pg.Client, version: number, dirty: boolean): Promise<void> {
  await client.query('BEGIN');
  await client.query('TRUNCATE "public"."schema_migrations"');
  if (version >= 0 || dirty) await client.query('INSERT INTO "public"."schema_migrations" (version, dirty) VALUES ($1, $2)', [version, dirty]);
  await client.query('COMMIT');
}

/**
 * `migrate up` as golang-migrate runs it: its table as ensureVersionTable creates it, then for each
 * file the version set dirty, the file as one simple query, the version set clean. Stops, dirty,
 * at the first file that fails, as golang-migrate does.
 */
async function golangMigrateUp(db: TestDatabase, dir: string, files: readonly string[]): Promise<void> {
  const client = await db.admin.connect();
  try {
    await client.query('CREATE TABLE IF NOT EXISTS "public"."schema_migrations" (version bigint not null primary key, dirty boolean not null)');
    for (const file of files) {
      const version = Number(/^(\d+)_/.exec(file)![1]);
      await setVersion(client, version, true);
      try {
        await client.query(readFileSync(path.join(dir, file), 'utf8'));
      } catch {
        return;
      }
      await setVersion(client, version, false);
    }
  } finally {
    await client.end();
  }
}

const sha256 = (dir: string, file: string) => createHash('sha256').update(readFileSync(path.join(dir, file))).digest('hex');

/** Every row with its xmin: a rewritten row (UPDATE, DELETE + INSERT, TRUNCATE) changes it. */
async function snapshot(db: TestDatabase, table: string): Promise<unknown[]> {
  return (await db.admin.query(`SELECT xmin::text AS xmin, * FROM ${table} ORDER BY 2`)).rows;
}

async function berthRows(db: TestDatabase): Promise<{ version: number; name: string; checksum: string; status: string }[]> {
  return (await db.admin.query('SELECT version, name, checksum, status FROM berth_migrations ORDER BY version')).rows.map((r) => ({ ...r, version: Number(r.version) })) as never;
}

async function exists(db: TestDatabase, relation: string): Promise<boolean> {
  return (await db.admin.query('SELECT to_regclass($1) IS NOT NULL AS e', [relation])).rows[0]?.e === true;
}

/** The run's error line (JSON log): its code and message. */
function runError(r: RunResult): { code: unknown; msg: string } {
  const line = jsonLines(r.stderr).find((l) => l.event === 'run.error');
  expect(line, r.stderr).toBeDefined();
  return { code: line!.code, msg: String(line!.msg) };
}

const applied = (r: RunResult) => jsonLines(r.stderr).filter((l) => l.event === 'migration.applied').map((l) => l.version);

describe('adopting a database another tool migrated', () => {
  it('golang-migrate: migrate, status, check, validate and a dry run stop with its version; baseline --from adopts it; migrate applies only what is newer', async () => {
    await withDatabase('adopt_gm', async (db) => {
      const dir = writeMigrations({
        '1_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);',
        '1_users.down.sql': 'DROP TABLE users;',
        '2_orders.up.sql': 'CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\nCREATE INDEX orders_user_id ON orders (user_id);',
        '2_orders.down.sql': 'DROP TABLE orders;',
        '3_email_index.up.sql': 'CREATE UNIQUE INDEX users_email ON users (email);',
      });
      await golangMigrateUp(db, dir, ['1_users.up.sql', '2_orders.up.sql']);
      const before = await snapshot(db, 'schema_migrations');
      expect(before).toEqual([{ xmin: expect.any(String), version: '2', dirty: false }]);

      const env = { DATABASE_URL: db.url };
      const refusals = await Promise.all([['migrate'], ['migrate', '--dry-run'], ['status'], ['check'], ['validate']]
        .map((args) => runBerth([...args, '--dir', dir, '--log-format', 'json'], { env })));
      for (const r of refusals) {
        expect(r.code, r.stderr).toBe(5);
        const error = runError(r);
        expect(error.code).toBe('ERR_ADOPT_REQUIRED');
        expect(error.msg).toContain("public.schema_migrations is golang-migrate's history table and is at version 2; adopt it with: berth baseline --from golang-migrate");
        expect(error.msg).toContain('no berth history table (public.berth_migrations)');
      }
      expect(new Set(refusals.map((r) => runError(r).msg)).size).toBe(1);
      expect(await exists(db, 'berth_migrations')).toBe(false);
      expect(await exists(db, 'users_email')).toBe(false);

      const adopt = await runBerth(['baseline', '--from', 'golang-migrate', '--dir', dir], { env });
      expect(adopt.code, adopt.stderr).toBe(0);
      expect(adopt.stdout).toBe(
        '1 users: recorded as applied without running 1_users.up.sql (golang-migrate is at version 2 in public.schema_migrations)\n' +
        '2 orders: recorded as applied without running 2_orders.up.sql (golang-migrate is at version 2 in public.schema_migrations)\n');
      expect(await berthRows(db)).toEqual([
        { version: 1, name: 'users', checksum: sha256(dir, '1_users.up.sql'), status: 'applied' },
        { version: 2, name: 'orders', checksum: sha256(dir, '2_orders.up.sql'), status: 'applied' },
      ]);

      const migrate = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env });
      expect(migrate.code, migrate.stderr).toBe(0);
      expect(applied(migrate)).toEqual([3]);
      expect(await exists(db, 'users_email')).toBe(true);
      // golang-migrate's table is exactly as it was, so going back to golang-migrate stays possible.
      expect(await snapshot(db, 'schema_migrations')).toEqual(before);
      // Adopting again records nothing.
      const again = await runBerth(['baseline', '--from', 'golang-migrate', '--dir', dir], { env });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toBe("nothing to record: every migration golang-migrate recorded is already in berth's history\n");
    });
  });

  it('golang-migrate left dirty: refused with what to check and how to settle it; once settled as its force does, adoption works', async () => {
    await withDatabase('adopt_gm_dirty', async (db) => {
      const dir = writeMigrations({
        '1_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY);',
        '2_orders.up.sql': 'CREATE TABLE orders (id bigint PRIMARY KEY);',
        '3_broken.up.sql': 'CREATE TABLE audit (id bigint);\nSELECT 1 / 0;',
        '3_broken.down.sql': 'DROP TABLE audit;',
      });
      await golangMigrateUp(db, dir, ['1_users.up.sql', '2_orders.up.sql', '3_broken.up.sql']);
      expect((await db.admin.query('SELECT version::int, dirty FROM schema_migrations')).rows).toEqual([{ version: 3, dirty: true }]);

      const env = { DATABASE_URL: db.url };
      for (const args of [['migrate'], ['status'], ['baseline', '--from', 'golang-migrate']]) {
        const r = await runBerth([...args, '--dir', dir, '--log-format', 'json'], { env });
        expect(r.code, r.stderr).toBe(5);
        const error = runError(r);
        expect(error.code).toBe('ERR_ADOPT_DIRTY');
        expect(error.msg).toContain("public.schema_migrations is golang-migrate's history table and it is dirty at 3");
        expect(error.msg).toContain('3_broken.up.sql');
        expect(error.msg).toMatch(/migrate -path <dir> -database <url> force 3 +# the database is at version 3: all of 3_broken.up.sql is in place\n/);
        expect(error.msg).toMatch(/migrate -path <dir> -database <url> force 2 +# nothing of 3_broken.up.sql is in place\n/);
      }
      expect(await exists(db, 'berth_migrations')).toBe(false);

      // The operator checked: nothing of 3 is there (its transaction rolled back). golang-migrate's `force 2`:
      const client = await db.admin.connect();
      await setVersion(client, 2, false);
      await client.end();
      const adopt = await runBerth(['baseline', '--from', 'golang-migrate', '--dir', dir], { env });
      expect(adopt.code, adopt.stderr).toBe(0);
      expect((await berthRows(db)).map((r) => r.version)).toEqual([1, 2]);
    });
  });

  it('dbmate (the real binary): detected, adopted version by version with its gaps; a recorded version with no file is refused', async () => {
    await withDatabase('adopt_dbmate', async (db) => {
      const dbmateDir = writeMigrations({
        '20240101000001_users.sql': '-- migrate:up\nCREATE TABLE users (id bigint PRIMARY KEY);\n-- migrate:down\nDROP TABLE users;\n',
        '20240101000003_orders.sql': '-- migrate:up\nCREATE TABLE orders (id bigint PRIMARY KEY);\n-- migrate:down\nDROP TABLE orders;\n',
      });
      const url = new URL(db.url);
      url.searchParams.set('sslmode', 'disable');
      const dbmate = await runNode([DBMATE, '--url', url.toString(), '--migrations-dir', dbmateDir, '--no-dump-schema', 'migrate'], { timeoutMs: 60_000 });
      expect(dbmate.code, dbmate.stderr + dbmate.stdout).toBe(0);
      const before = await snapshot(db, 'schema_migrations');
      expect(before.map((r) => (r as { version: string }).version)).toEqual(['20240101000001', '20240101000003']);

      const files = {
        '20240101000001_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY);',
        '20240101000001_users.down.sql': 'DROP TABLE users;',
        // Never run by dbmate: a gap below its newest version.
        '20240101000002_tags.up.sql': 'CREATE TABLE tags (id bigint PRIMARY KEY);',
        '20240101000003_orders.up.sql': 'CREATE TABLE orders (id bigint PRIMARY KEY);',
        '20240101000004_payments.up.sql': 'CREATE TABLE payments (id bigint PRIMARY KEY);',
      };
      const env = { DATABASE_URL: db.url };

      // A file dbmate recorded is not in this folder.
      const { '20240101000003_orders.up.sql': _orders, ...withoutOrders } = files;
      const mismatch = await runBerth(['baseline', '--from', 'dbmate', '--dir', writeMigrations(withoutOrders), '--log-format', 'json'], { env });
      expect(mismatch.code, mismatch.stderr).toBe(5);
      expect(runError(mismatch).code).toBe('ERR_ADOPT_MISMATCH');
      expect(runError(mismatch).msg).toContain('records 1 migration(s) that have no file in');
      expect(runError(mismatch).msg).toContain('20240101000003 (version 20240101000003)');
      expect(await exists(db, 'berth_migrations')).toBe(false);

      const dir = writeMigrations(files);
      const status = await runBerth(['status', '--dir', dir, '--log-format', 'json'], { env });
      expect(status.code, status.stderr).toBe(5);
      expect(runError(status).code).toBe('ERR_ADOPT_REQUIRED');
      expect(runError(status).msg).toContain("public.schema_migrations is dbmate's history table and records 2 migration(s), the newest 20240101000003; adopt it with: berth baseline --from dbmate");

      const wrongTool = await runBerth(['baseline', '--from', 'golang-migrate', '--dir', dir, '--log-format', 'json'], { env });
      expect(wrongTool.code, wrongTool.stderr).toBe(5);
      expect(runError(wrongTool).code).toBe('ERR_ADOPT_NOT_FOUND');
      expect(runError(wrongTool).msg).toContain("public.schema_migrations has columns version character varying (dbmate's history table)");

      const adopt = await runBerth(['baseline', '--from', 'dbmate', '--dir', dir, '--log-format', 'json'], { env });
      expect(adopt.code, adopt.stderr).toBe(0);
      expect((await berthRows(db)).map((r) => [r.version, r.checksum])).toEqual([
        [20240101000001, sha256(dir, '20240101000001_users.up.sql')],
        [20240101000003, sha256(dir, '20240101000003_orders.up.sql')],
      ]);
      const warning = jsonLines(adopt.stderr).find((l) => l.code === 'W_ADOPT_NOT_RECORDED');
      expect(String(warning?.msg)).toContain('20240101000002_tags.up.sql');

      // The gap is pending out of order: berth asks, as for any late migration.
      const migrate = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env });
      expect(migrate.code, migrate.stderr).toBe(5);
      expect(runError(migrate).msg).toContain('migration 20240101000002 (20240101000002_tags.up.sql) is pending but version 20240101000003 is already applied');
      const late = await runBerth(['migrate', '--allow-out-of-order', '--dir', dir, '--log-format', 'json'], { env });
      expect(late.code, late.stderr).toBe(0);
      expect(applied(late)).toEqual([20240101000002, 20240101000004]);
      expect(await snapshot(db, 'schema_migrations')).toEqual(before);
    });
  });

  it('dbmate with --migrations-table: not found at the default name, adopted with --from-table', async () => {
    await withDatabase('adopt_dbmate_table', async (db) => {
      const dbmateDir = writeMigrations({ '7_users.sql': '-- migrate:up\nCREATE TABLE users (id bigint);\n-- migrate:down\nDROP TABLE users;\n' });
      const url = new URL(db.url);
      url.searchParams.set('sslmode', 'disable');
      const dbmate = await runNode([DBMATE, '--url', url.toString(), '--migrations-dir', dbmateDir, '--migrations-table', 'dbmate_history', '--no-dump-schema', 'migrate'], { timeoutMs: 60_000 });
      expect(dbmate.code, dbmate.stderr + dbmate.stdout).toBe(0);
      const dir = writeMigrations({ '7_users.up.sql': 'CREATE TABLE users (id bigint);', '8_more.up.sql': 'CREATE TABLE more (id bigint);' });
      const env = { DATABASE_URL: db.url };
      const notThere = await runBerth(['baseline', '--from', 'dbmate', '--dir', dir, '--log-format', 'json'], { env });
      expect(notThere.code, notThere.stderr).toBe(5);
      expect(runError(notThere).code).toBe('ERR_ADOPT_NOT_FOUND');
      expect(runError(notThere).msg).toContain('looked for public.schema_migrations, and none of them exists');
      expect(runError(notThere).msg).toContain('--migrations-table');
      const adopt = await runBerth(['baseline', '--from', 'dbmate', '--from-table', 'dbmate_history', '--dir', dir], { env });
      expect(adopt.code, adopt.stderr).toBe(0);
      expect(adopt.stdout).toBe('7 users: recorded as applied without running 7_users.up.sql (dbmate recorded 7 in public.dbmate_history)\n');
      const migrate = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env });
      expect(applied(migrate)).toEqual([8]);
    });
  });

  it('node-pg-migrate (the real tool): detected by its file stems, adopted, then migrate applies only what is newer', async () => {
    await withDatabase('adopt_npm', async (db) => {
      const npmDir = writeMigrations({
        '1700000000001_create-users.sql': '-- Up Migration\nCREATE TABLE users (id bigint PRIMARY KEY);\n-- Down Migration\nDROP TABLE users;\n',
        '1700000000002_add-orders.sql': '-- Up Migration\nCREATE TABLE orders (id bigint PRIMARY KEY);\n-- Down Migration\nDROP TABLE orders;\n',
      });
      const npm = await runNode([NODE_PG_MIGRATE, 'up', '-m', npmDir, '--no-verbose'], { env: { DATABASE_URL: db.url }, timeoutMs: 60_000 });
      expect(npm.code, npm.stderr + npm.stdout).toBe(0);
      const before = await snapshot(db, 'pgmigrations');
      expect(before.map((r) => (r as { name: string }).name)).toEqual(['1700000000001_create-users', '1700000000002_add-orders']);

      const dir = writeMigrations({
        '1700000000001_create-users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY);',
        '1700000000001_create-users.down.sql': 'DROP TABLE users;',
        '1700000000002_add-orders.up.sql': 'CREATE TABLE orders (id bigint PRIMARY KEY);',
        '1700000000003_add-payments.up.sql': 'CREATE TABLE payments (id bigint PRIMARY KEY);',
      });
      const env = { DATABASE_URL: db.url };
      const refused = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env });
      expect(refused.code, refused.stderr).toBe(5);
      expect(runError(refused).code).toBe('ERR_ADOPT_REQUIRED');
      expect(runError(refused).msg).toContain("public.pgmigrations is node-pg-migrate's history table and records 2 migration(s), the newest 1700000000002_add-orders; adopt it with: berth baseline --from node-pg-migrate");
      expect(await exists(db, 'payments')).toBe(false);

      const adopt = await runBerth(['baseline', '--from', 'node-pg-migrate', '--dir', dir], { env });
      expect(adopt.code, adopt.stderr).toBe(0);
      expect(adopt.stdout).toContain('1700000000002 add-orders: recorded as applied without running 1700000000002_add-orders.up.sql (node-pg-migrate recorded 1700000000002_add-orders in public.pgmigrations)');
      expect((await berthRows(db)).map((r) => r.version)).toEqual([1700000000001, 1700000000002]);

      const migrate = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env });
      expect(migrate.code, migrate.stderr).toBe(0);
      expect(applied(migrate)).toEqual([1700000000003]);
      expect(await snapshot(db, 'pgmigrations')).toEqual(before);
    });
  });

  it('--table naming a table that is not a berth history table is refused before any write, saying what it found', async () => {
    await withDatabase('adopt_foreign_table', async (db) => {
      await db.admin.query("CREATE TABLE users (id bigint PRIMARY KEY, email text); INSERT INTO users VALUES (1, 'a@example.com')");
      await db.admin.query('CREATE TABLE schema_migrations (version bigint not null primary key, dirty boolean not null); INSERT INTO schema_migrations VALUES (4, false)');
      const users = await snapshot(db, 'users');
      const gm = await snapshot(db, 'schema_migrations');
      const dir = writeMigrations({ '1_a.up.sql': 'CREATE TABLE a (id int);', '1_a.down.sql': 'DROP TABLE a;' });
      const env = { DATABASE_URL: db.url };
      for (const args of [['migrate'], ['migrate', '--dry-run'], ['status'], ['check'], ['validate'], ['baseline', '1'], ['down', '--steps', '1'], ['repair'], ['baseline', '--from', 'golang-migrate']]) {
        const r = await runBerth([...args, '--table', 'users', '--dir', dir, '--log-format', 'json'], { env });
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(5);
        const error = runError(r);
        expect(error.code, args.join(' ')).toBe('ERR_HISTORY_TABLE_FOREIGN');
        expect(error.msg).toContain('public.users is not a berth history table (its columns: id bigint, email text)');
        expect(error.msg).toContain('Leave --table unset (berth_migrations), or set it to a table that does not exist yet');
      }
      const gmTable = await runBerth(['migrate', '--table', 'schema_migrations', '--dir', dir, '--log-format', 'json'], { env });
      expect(gmTable.code, gmTable.stderr).toBe(5);
      expect(runError(gmTable).msg).toContain("It is golang-migrate's history table: berth keeps its own history next to it, and berth baseline --from golang-migrate records the state it holds");
      expect(await snapshot(db, 'users')).toEqual(users);
      expect(await snapshot(db, 'schema_migrations')).toEqual(gm);
      expect(await exists(db, 'a')).toBe(false);
      expect(await exists(db, 'berth_migrations')).toBe(false);
    });
  });
});
