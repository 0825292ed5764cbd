import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, makeTempDir, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

const FILES = {
  '0001_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);',
  '0001_users.down.sql': 'DROP TABLE users;',
  '0002_orders.up.sql': 'CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));',
  '0003_index.up.sql': '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);',
};

describe('status, check and dry runs', () => {
  const db = useTestDatabase('status');
  const env = () => ({ DATABASE_URL: db().url });

  it('status --json has the documented shape before and after migrating; check exits 0 only when current', async () => {
    const dir = writeMigrations(FILES);
    const before = await runBerth(['status', '--json', '--dir', dir], { env: env() });
    expect(before.code, before.stderr).toBe(0);
    const empty = JSON.parse(before.stdout);
    expect(Object.keys(empty).sort()).toEqual(['ahead', 'applied', 'current', 'drifted', 'failed', 'lastBackup', 'missing', 'pending']);
    expect(empty.lastBackup).toBeNull();
    expect(empty.current).toBeNull();
    expect(empty.pending.map((p: { version: number }) => p.version)).toEqual([1, 2, 3]);

    const notYet = await runBerth(['check', '--dir', dir], { env: env() });
    expect(notYet.code).toBe(5);
    expect(notYet.stderr).toMatch(/3 migration\(s\) pending/);

    const dry = await runBerth(['migrate', '--dir', dir, '--dry-run', '--to', '2'], { env: env() });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe('would apply 1 users (0001_users.up.sql)\nwould apply 2 orders (0002_orders.up.sql)\n');
    const untouched = await db().admin.query("SELECT to_regclass('berth_migrations') AS h, to_regclass('users') AS u");
    expect(untouched.rows[0]).toEqual({ h: null, u: null });

    const to2 = await runBerth(['migrate', '--dir', dir, '--to', '2'], { env: env() });
    expect(to2.code).toBe(0);
    expect(await runBerth(['check', '--dir', dir], { env: env() })).toMatchObject({ code: 5 });
    expect(await runBerth(['check', '--dir', dir, '--expect', '2'], { env: env() })).toMatchObject({ code: 5 });

    expect(await runBerth(['migrate', '--dir', dir], { env: env() })).toMatchObject({ code: 0 });
    const current = await runBerth(['check', '--dir', dir, '--expect', '3'], { env: env() });
    expect(current.code, current.stderr).toBe(0);
    expect(current.stdout).toContain('current at version 3');

    const after = JSON.parse((await runBerth(['status', '--json', '--dir', dir], { env: env() })).stdout);
    expect(after.current).toBe(3);
    expect(after.pending).toEqual([]);
    for (const entry of after.applied) {
      expect(entry).toMatchObject({ version: expect.any(Number), name: expect.any(String), appliedAt: expect.any(String), durationMs: expect.any(Number), checksum: expect.stringMatching(/^[0-9a-f]{64}$/) });
    }
    // appliedAt is the server's applied_at, to the millisecond.
    const stamps = await db().admin.query("SELECT version::int, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS at FROM berth_migrations ORDER BY version");
    expect(after.applied.map((e: { version: number; appliedAt: string }) => ({ version: e.version, at: e.appliedAt }))).toEqual(stamps.rows);
    const row = await db().admin.query('SELECT name, status, statements_applied, statements_total, applied_by, host, berth_version FROM berth_migrations WHERE version = 3');
    expect(row.rows[0]).toMatchObject({ name: 'index', status: 'applied', statements_applied: 1, statements_total: 1, applied_by: 'postgres', berth_version: expect.any(String) });

    const table = await runBerth(['status', '--dir', dir], { env: env() });
    expect(table.stdout).toMatch(/^VERSION\s+NAME\s+STATE/);
    expect(table.stdout).toMatch(/3\s+index\s+applied/);
  });

  it('records names and hosts with quotes and backslashes exactly; a broken pending file still stops the run', async () => {
    const dir = writeMigrations({
      "0001_o'neil \\ co.up.sql": 'CREATE TABLE quoted (id int);',
      '0002_later.up.sql': 'SELECT 1;',
    });
    const host = "ci\\runner's box";
    // Its own history table: the database is shared with the other tests of this file.
    const first = await runBerth(['migrate', '--dir', dir, '--table', 'quoted_history'], { env: { ...env(), HOSTNAME: host } });
    expect(first.code, first.stderr).toBe(0);
    const rows = await db().admin.query('SELECT version, name, host FROM quoted_history ORDER BY version');
    expect(rows.rows).toEqual([
      { version: '1', name: "o'neil \\ co", host },
      { version: '2', name: 'later', host },
    ]);
    // Applied files are only checksummed; a pending one is parsed, and a broken directive stops
    // the run before anything is written.
    writeFileSync(path.join(dir, '0003_typo.up.sql'), '-- berth:no-transacton\nCREATE TABLE t3 (id int);');
    const broken = await runBerth(['migrate', '--dir', dir, '--table', 'quoted_history'], { env: env() });
    expect(broken.code).toBe(5);
    expect(broken.stderr).toContain('0003_typo.up.sql:1: unknown directive');
    const count = await db().admin.query('SELECT count(*)::int AS n FROM quoted_history');
    expect(count.rows[0]).toEqual({ n: 2 });
  });

  it('PGOPTIONS reaches the session, as with libpq, and berth\'s own session settings still apply', async () => {
    await db().admin.query('CREATE SCHEMA app');
    const dir = writeMigrations({
      '0001_t.up.sql': 'CREATE TABLE t (id int);',
      // Fails the run unless both the caller's option and berth's session limits are in force.
      '0002_settings.up.sql': "SELECT 1 / (current_setting('work_mem') = '7MB' AND current_setting('idle_in_transaction_session_timeout') = '30s')::int;",
    });
    const run = await runBerth(['migrate', '--dir', dir], { env: { ...env(), PGOPTIONS: '-c search_path=app -c work_mem=7MB' } });
    expect(run.code, run.stderr).toBe(0);
    const tables = await db().admin.query("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'app' ORDER BY 1");
    expect(tables.rows.map((r) => r.t)).toEqual(['berth_migrations', 't']);
  });

  it('a second runner waits for the lock, names the holder, and gives up with exit 4 at --lock-timeout', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations({ '1_slow.up.sql': 'SELECT pg_sleep(20);' });
    const first = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { ...env(), HOSTNAME: 'first-runner' } });
    await first.waitForOutput(/"event":"lock.acquired"/);
    const second = await runBerth(['migrate', '--dir', dir, '--lock-timeout', '1s', '--log-format', 'json'], { env: env() });
    expect(second.code).toBe(4);
    expect(second.durationMs).toBeLessThan(8_000);
    expect(second.stderr).toContain('application berth/');
    expect(second.stderr).toContain('/first-runner');
    const wait = jsonLines(second.stderr).find((e) => e.event === 'lock.wait');
    expect(wait).toMatchObject({ holder: { pid: expect.any(Number), user: 'postgres' } });
    first.kill('SIGKILL');
    await first.exited;
  });

  it('runs as an arbitrary non-root UID with no home directory, writing nothing', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations(FILES);
    chmodSync(dir, 0o755);
    const cwd = makeTempDir('berth-ro-', 0o555);
    const result = await runBerth(['migrate', '--dir', dir], { env: { ...env(), HOME: undefined }, cwd, uid: 54321, gid: 54321 });
    expect(result.code, result.stderr).toBe(0);
    const rows = await db().admin.query('SELECT count(*)::int AS n FROM berth_migrations');
    expect(rows.rows[0]).toEqual({ n: 3 });
  });

  it('the same migrations run on pglite://memory', async () => {
    const dir = writeMigrations(FILES);
    const result = await runBerth(['migrate', '--dir', dir, '-d', 'pglite://memory', '--log-format', 'json']);
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stderr).find((e) => e.event === 'run.summary')).toMatchObject({ applied: 3, current: 3 });
  });

  it('status against pglite://<dir> persists between runs', async () => {
    const dir = writeMigrations(FILES);
    const data = makeTempDir('berth-pglite-');
    expect((await runBerth(['migrate', '--dir', dir, '-d', `pglite://${data}`])).code).toBe(0);
    const status = await runBerth(['status', '--json', '--dir', dir, '-d', `pglite://${data}`]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ current: 3, pending: [] });
  });
});
