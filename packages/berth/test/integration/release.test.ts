/**
 * The release that migrated (--release, BERTH_RELEASE, the pod's workload): recorded on each
 * history row, shown by status, awaited by `await --release`, and added to a history table an
 * older berth created, under the lock, without it being needed to read one.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonLines, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

/** The history table as berth created it before the release and backup columns existed. */
const OLD_TABLE = `CREATE TABLE berth_migrations (
  version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
  status text NOT NULL CHECK (status IN ('applied', 'started', 'failed')),
  statements_applied integer, statements_total integer, applied_at timestamptz NOT NULL DEFAULT now(),
  duration_ms integer, applied_by text DEFAULT current_user, host text, berth_version text)`;

describe('--release', () => {
  const db = useTestDatabase('release');

  it('is recorded on each row the run writes, from the flag, BERTH_RELEASE, or the pod name in Kubernetes; status shows it', async () => {
    const dir = writeMigrations({ '0001_a.up.sql': 'CREATE TABLE a (id int);' });
    expect((await runBerth(['migrate', '--dir', dir, '-d', db().url, '--release', 'v1.4.2'])).code).toBe(0);
    writeMigrationsInto(dir, { '0002_b.up.sql': 'CREATE TABLE b (id int);' });
    expect((await runBerth(['migrate', '--dir', dir, '-d', db().url], { env: { BERTH_RELEASE: 'sha256:abc123' } })).code).toBe(0);
    writeMigrationsInto(dir, { '0003_c.up.sql': 'CREATE TABLE c (id int);' });
    // A Job's pod: the Job's name; outside Kubernetes the same host name gives nothing.
    expect((await runBerth(['migrate', '--dir', dir, '-d', db().url], { env: { HOSTNAME: 'orders-migrate-42-x7k2p', KUBERNETES_SERVICE_HOST: '10.0.0.1' } })).code).toBe(0);
    writeMigrationsInto(dir, { '0004_d.up.sql': 'CREATE TABLE d (id int);' });
    expect((await runBerth(['migrate', '--dir', dir, '-d', db().url], { env: { HOSTNAME: 'orders-migrate-42-x7k2p' } })).code).toBe(0);
    writeMigrationsInto(dir, { '0005_e.up.sql': 'CREATE TABLE e (id int);' });
    // A Deployment's pod: its ReplicaSet, one pod template.
    expect((await runBerth(['migrate', '--dir', dir, '-d', db().url], { env: { HOSTNAME: 'orders-7d9f8c6b5-bcd2z', KUBERNETES_SERVICE_HOST: '10.0.0.1' } })).code).toBe(0);
    const rows = (await db().admin.query('SELECT version::int AS v, release FROM berth_migrations ORDER BY version')).rows;
    expect(rows).toEqual([
      { v: 1, release: 'v1.4.2' }, { v: 2, release: 'sha256:abc123' }, { v: 3, release: 'orders-migrate-42' },
      { v: 4, release: null }, { v: 5, release: 'orders-7d9f8c6b5' },
    ]);
    const status = await runBerth(['status', '--dir', dir, '-d', db().url]);
    const lines = status.stdout.split('\n');
    expect(lines[0]).toMatch(/^VERSION\s+NAME\s+STATE\s+APPLIED AT\s+DURATION\s+RELEASE$/);
    expect(lines[1]).toMatch(/^1\s+a\s+applied\s+\S+\s+\d+ms\s+v1\.4\.2$/);
    expect(lines[3]).toMatch(/\sorders-migrate-42$/);
    expect(lines[4]).toMatch(/^4\s+d\s+applied\s+\S+\s+\d+ms$/);
    const json = JSON.parse((await runBerth(['status', '--json', '--dir', dir, '-d', db().url])).stdout);
    expect(json.applied.map((e: { release: string | null }) => e.release)).toEqual(['v1.4.2', 'sha256:abc123', 'orders-migrate-42', null, 'orders-7d9f8c6b5']);
  });

  it('await --release waits until a row carries the release and the version is reached, and says why it waits', async () => {
    const dir = writeMigrations({ '0001_a.up.sql': 'CREATE TABLE a (id int);', '0002_b.up.sql': 'CREATE TABLE b (id int);' });
    await db().admin.query('DROP TABLE IF EXISTS berth_migrations, a, b, c, d, e');
    expect((await runBerth(['migrate', '--dir', dir, '--to', '1', '-d', db().url, '--release', 'r-1'])).code).toBe(0);
    // Already at 1 but not by this release, and 2 pending: times out (exit 3) naming what it waits for.
    const early = await runBerth(['await', '--dir', dir, '-d', db().url, '--release', 'r-2', '--timeout', '1s']);
    expect(early.code, early.stderr).toBe(3);
    const waiter = spawnBerth(['await', '--dir', dir, '-d', db().url, '--release', 'r-2', '--timeout', '30s', '--log-format', 'json']);
    await new Promise((r) => setTimeout(r, 500));
    expect(waiter.child.exitCode).toBeNull();
    expect((await runBerth(['migrate', '--dir', dir, '-d', db().url, '--release', 'r-2'])).code).toBe(0);
    const done = await waiter.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe('schema is at version 2 (expected 2, migrated by release r-2)\n');
    expect(jsonLines(done.stderr).find((e) => e.event === 'await.reached')).toMatchObject({ current: 2, expected: 2, release: 'r-2' });
    // A release that applied nothing recorded nothing: the wait says so instead of hanging silently.
    const noop = await runBerth(['await', '--dir', dir, '-d', db().url, '--release', 'r-3', '--timeout', '1s']);
    expect(noop.code).toBe(3);
    expect(noop.stderr).toMatch(/no migration was recorded by release r-3 yet \(a release with nothing to apply records none/);
    // await never discovers a release from its own pod name (the app's, not the Job's).
    const app = await runBerth(['await', '--dir', dir, '-d', db().url, '--timeout', '1s'], { env: { HOSTNAME: 'orders-7d9f8c6b5-bcd2z', KUBERNETES_SERVICE_HOST: '10.0.0.1' } });
    expect(app.code, app.stderr).toBe(0);
  });
});

describe('a history table an older berth created', () => {
  const db = useTestDatabase('release_old');

  it('is read as it is (status, check, a no-op migrate), and gets the columns under the lock when something is applied', async () => {
    const dir = writeMigrations({ '0001_a.up.sql': 'CREATE TABLE a (id int);' });
    await db().admin.query('CREATE TABLE a (id int)');
    await db().admin.query(OLD_TABLE);
    expect((await runBerth(['baseline', '1', '--dir', dir, '-d', db().url, '--release', 'old'])).code).toBe(0);
    // baseline took the lock: the columns are there now; make the table old again, with its row.
    await db().admin.query('ALTER TABLE berth_migrations DROP COLUMN release, DROP COLUMN backup');
    const columns = async () => (await db().admin.query<{ c: string }>(
      "SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'berth_migrations' ORDER BY ordinal_position")).rows.map((r) => r.c);
    const old = await columns();
    expect(old).not.toContain('release');
    const status = await runBerth(['status', '--json', '--dir', dir, '-d', db().url]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).applied).toEqual([expect.objectContaining({ version: 1, release: null })]);
    expect((await runBerth(['check', '--dir', dir, '-d', db().url])).code).toBe(0);
    expect((await runBerth(['migrate', '--dir', dir, '-d', db().url, '--release', 'new'])).code).toBe(0);
    expect(await columns()).toEqual(old);

    writeMigrationsInto(dir, { '0002_b.up.sql': 'CREATE TABLE b (id int);' });
    const run = await runBerth(['migrate', '--dir', dir, '-d', db().url, '--release', 'new', '--log-format', 'json']);
    expect(run.code, run.stderr).toBe(0);
    expect(jsonLines(run.stderr).find((e) => e.event === 'history.upgraded')).toMatchObject({ table: 'public.berth_migrations' });
    expect(await columns()).toEqual([...old, 'release', 'backup']);
    expect((await db().admin.query('SELECT version::int AS v, release FROM berth_migrations ORDER BY version')).rows).toEqual([
      { v: 1, release: null }, { v: 2, release: 'new' },
    ]);
  });
});

describe('an older history table owned by another role', () => {
  const db = useTestDatabase('release_owner');
  const role = () => `writer_${db().name.slice(-8)}`;
  afterAll(async () => {
    await db().admin.query(`DROP OWNED BY ${role()}`).catch(() => undefined);
    await db().admin.query(`DROP ROLE IF EXISTS ${role()}`).catch(() => undefined);
  });

  it('a role that may write its rows but not alter it migrates without the new columns, and says why', async () => {
    await db().admin.query(OLD_TABLE);
    await db().admin.query(`CREATE ROLE ${role()} LOGIN PASSWORD 'writer'`);
    await db().admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON berth_migrations TO ${role()}`);
    await db().admin.query(`GRANT CREATE ON SCHEMA public TO ${role()}`);
    const url = new URL(db().url);
    url.username = role();
    url.password = 'writer';
    const dir = writeMigrations({ '0001_a.up.sql': 'CREATE TABLE a (id int);', '0002_b.up.sql': '-- berth:no-transaction\nCREATE TABLE b (id int);' });
    const run = await runBerth(['migrate', '--dir', dir, '-d', url.toString(), '--release', 'r9', '--log-format', 'json']);
    expect(run.code, run.stderr).toBe(0);
    expect(jsonLines(run.stderr).find((e) => e.code === 'W_HISTORY_COLUMNS')?.msg).toMatch(/may not add its release and backup columns \(only the table's owner may\)/);
    expect((await db().admin.query('SELECT version::int AS v, status FROM berth_migrations ORDER BY version')).rows).toEqual([
      { v: 1, status: 'applied' }, { v: 2, status: 'applied' },
    ]);
    // The owner's next run adds them.
    writeMigrationsInto(dir, { '0003_c.up.sql': 'CREATE TABLE c (id int);' });
    expect((await runBerth(['migrate', '--dir', dir, '-d', db().url, '--release', 'r10'])).code).toBe(0);
    expect((await db().admin.query('SELECT version::int AS v, release FROM berth_migrations ORDER BY version')).rows).toEqual([
      { v: 1, release: null }, { v: 2, release: null }, { v: 3, release: 'r10' },
    ]);
  });
});

function writeMigrationsInto(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
}
