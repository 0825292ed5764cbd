/**
 * The lease (`--lock lease|auto`, docs/locking.md) behind a real PgBouncer in pool_mode =
 * transaction, where a session advisory lock cannot work: many runners apply each migration once,
 * a frozen holder is taken over and fenced (it commits nothing once resumed, exit 7), a killed one
 * is taken over after the expiry, SIGTERM releases the lease. In session mode `auto` keeps the
 * advisory lock, and `--lock advisory` through a transaction pool is still refused (exit 6).
 *
 * Lease timings are shortened with --lease-ttl so that a takeover takes seconds; no test asserts
 * a duration (bench/lease-takeover.mjs measures them).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, jsonLines, runBerth, spawnBerth, writeMigrations, type RunResult, type SpawnedProcess } from '../helpers/cli.js';
import { connect, useTestDatabase } from '../helpers/db.js';
import { pgbouncerMissing, usePgBouncer } from '../helpers/pgbouncer.js';

const missing = pgbouncerMissing();
if (missing) console.log(`[berth-test] ${missing}`);

/** Short enough for a takeover in seconds, long enough for a loaded machine's heartbeats (every 333 ms). */
const TTL = '2s';

/**
 * Every migration writes a row to `applied_log` as it runs, in its own transaction or (the
 * no-transaction one) in autocommit: a migration applied twice would leave two rows.
 */
const MIGRATIONS = {
  '1_log.up.sql': "CREATE TABLE applied_log (version int NOT NULL, at timestamptz DEFAULT clock_timestamp());\nINSERT INTO applied_log (version) VALUES (1);",
  '2_accounts.up.sql': "CREATE TABLE accounts (id int PRIMARY KEY);\nINSERT INTO applied_log (version) VALUES (2);",
  '3_index.up.sql': "-- berth:no-transaction\nINSERT INTO applied_log (version) VALUES (3);\nCREATE INDEX CONCURRENTLY accounts_id ON accounts (id);\nINSERT INTO applied_log (version) VALUES (3);",
  '4_slow.up.sql': "SELECT pg_sleep(0.3);\nINSERT INTO applied_log (version) VALUES (4);",
};

/**
 * A code migration that, where BERTH_TEST_HOLD is set, keeps its transaction open doing client-side
 * work in short steps (a statement every 200 ms, locking nothing another runner needs), so the test
 * can freeze or kill it there; then it writes its log row. Elsewhere it only writes the row.
 */
const HOLDING_MIGRATION = [
  'export async function up(ctx: { sql(text: string): Promise<unknown[]>; log(m: string): void }) {',
  '  if (process.env.BERTH_TEST_HOLD) {',
  "    ctx.log('working');",
  '    for (let i = 0; i < Number(process.env.BERTH_TEST_HOLD); i++) {',
  '      await new Promise((resolve) => setTimeout(resolve, 200));',
  "      await ctx.sql('SELECT 1');",
  '    }',
  '  }',
  "  await ctx.sql('INSERT INTO applied_log (version) VALUES (5)');",
  '}',
  '',
].join('\n');

const ajv = new Ajv2020({ allErrors: true, strict: false });
ajv.addFormat('date-time', (t: string) => !Number.isNaN(Date.parse(t)) && /^\d{4}-\d\d-\d\dT/.test(t));
const validate = ajv.compile(JSON.parse(readFileSync(path.join(REPO_ROOT, 'docs/events/v1.schema.json'), 'utf8')));

/** The lines of `results` that the published event schema refuses (none expected). */
function invalidLines(...results: RunResult[]): unknown[] {
  return results.flatMap((r) => jsonLines(r.stderr)).filter((e) => !validate(e)).map((e) => ({ e, errors: validate.errors?.slice(0, 3) }));
}

function summary(result: RunResult): Record<string, unknown> | undefined {
  return jsonLines(result.stderr).find((e) => e.event === 'run.summary');
}

describe.skipIf(missing)('the lease, behind PgBouncer in transaction mode', () => {
  const db = useTestDatabase('lease');
  const bouncer = usePgBouncer({ poolMode: 'transaction', poolSize: 5 });
  const session = usePgBouncer({ poolMode: 'session', poolSize: 20 });

  async function reset(): Promise<void> {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  }

  async function logRows(): Promise<number[]> {
    const { rows } = await db().admin.query<{ version: number }>('SELECT version FROM applied_log ORDER BY version');
    return rows.map((r) => r.version);
  }

  async function history(): Promise<{ version: string; host: string }[]> {
    return (await db().admin.query<{ version: string; host: string }>('SELECT version, host FROM berth_migrations ORDER BY version')).rows;
  }

  async function leaseRow(): Promise<{ token: string; holder_pod: string; released: boolean }> {
    return (await db().admin.query<{ token: string; holder_pod: string; released: boolean }>('SELECT token::text, holder_pod, released FROM berth_migrations_lock')).rows[0]!;
  }

  it('16 runners with --lock auto apply each migration exactly once, and all exit 0', { timeout: 120_000 }, async () => {
    await reset();
    const dir = writeMigrations({ ...MIGRATIONS, '5_code.ts': HOLDING_MIGRATION });
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) =>
      runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--lock', 'auto', '--lock-timeout', '60s'], {
        env: { DATABASE_URL: bouncer().url(db().name), HOSTNAME: `runner-${i}` }, timeoutMs: 90_000,
      })));
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      expect(summary(result)).toMatchObject({ current: 5 });
    }
    // Each migration ran once: one log row each, two for the no-transaction file's two inserts.
    expect(await logRows()).toEqual([1, 2, 3, 3, 4, 5]);
    const applied = results.map((r) => Number(summary(r)?.applied ?? 0));
    expect(applied.reduce((a, b) => a + b, 0)).toBe(5);
    // Those that took a lock took the lease (auto found the transaction pooler), and gave it back.
    const acquired = results.flatMap((r) => jsonLines(r.stderr).filter((e) => e.event === 'lock.acquired'));
    expect(acquired.length).toBeGreaterThan(0);
    for (const e of acquired) expect(e).toMatchObject({ lock: 'lease' });
    expect((await leaseRow()).released).toBe(true);
    const { rows } = await db().admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    expect(rows[0]!.n).toBe(0);
    expect(invalidLines(...results)).toEqual([]);
  });

  /** Freezes `holder` (SIGSTOP), runs a second runner with `args` to its end, then resumes the holder. */
  async function whileFrozen(holder: SpawnedProcess, args: string[]): Promise<RunResult> {
    expect(holder.kill('SIGSTOP')).toBe(true);
    try {
      return await runBerth(args, { env: { DATABASE_URL: bouncer().url(db().name), HOSTNAME: 'second-runner' }, timeoutMs: 60_000 });
    } finally {
      holder.kill('SIGCONT');
    }
  }

  it('a holder frozen with SIGSTOP past its lease is taken over; resumed, it commits nothing and exits 7', { timeout: 120_000 }, async () => {
    await reset();
    const dir = writeMigrations({ ...MIGRATIONS, '5_code.ts': HOLDING_MIGRATION, '6_after.up.sql': 'INSERT INTO applied_log (version) VALUES (6);' });
    const args = ['migrate', '--dir', dir, '--log-format', 'json', '--lock', 'auto', '--lease-ttl', TTL, '--lock-timeout', '60s'];
    const holder = spawnBerth(args, { env: { DATABASE_URL: bouncer().url(db().name), HOSTNAME: 'frozen-holder', BERTH_TEST_HOLD: '50' } });
    await holder.waitForOutput(/"event":"migration.log"/, 30_000);
    const second = await whileFrozen(holder, args);
    expect(second.code, second.stderr).toBe(0);
    const events = jsonLines(second.stderr);
    expect(events.some((e) => e.event === 'lock.wait')).toBe(true);
    const takeover = events.find((e) => e.event === 'lease.takeover');
    expect(takeover, second.stderr).toMatchObject({ previous: { pod: 'frozen-holder', released: false } });
    expect(second.stderr).toContain('took over the expired migration lease');
    expect(summary(second)).toMatchObject({ applied: 2, current: 6 });

    const first = await holder.exited;
    expect(first.code, first.stderr).toBe(7);
    expect(summary(first)).toMatchObject({ code: 'ERR_LEASE_LOST' });
    // The takeover, the lost lease and the waits are events of the published schema.
    expect(invalidLines(first, second)).toEqual([]);
    // The holder's own insert of migration 5 was rolled back by the fence: one row per migration.
    expect(await logRows()).toEqual([1, 2, 3, 3, 4, 5, 6]);
    expect(await history()).toEqual([
      ...['1', '2', '3', '4'].map((version) => ({ version, host: 'frozen-holder' })),
      { version: '5', host: 'second-runner' }, { version: '6', host: 'second-runner' },
    ]);
  });

  it('a holder frozen while the server runs its SQL migration (sent in one message) is fenced at COMMIT: its insert is rolled back, exit 7', { timeout: 120_000 }, async () => {
    await reset();
    const dir = writeMigrations({ ...MIGRATIONS, '4_slow.up.sql': "SELECT pg_sleep(4);\nINSERT INTO applied_log (version) VALUES (4);" });
    const args = ['migrate', '--dir', dir, '--log-format', 'json', '--lock', 'auto', '--lease-ttl', TTL, '--lock-timeout', '60s'];
    const holder = spawnBerth(args, { env: { DATABASE_URL: bouncer().url(db().name), HOSTNAME: 'frozen-holder', BERTH_DEBUG: '1' } });
    await holder.waitForOutput(/"event":"migration.start".*"version":4/, 30_000);
    // The whole migration, COMMIT included, is on the server: the freeze cannot stop it, only the fence.
    await expect.poll(async () => (await db().admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND state = 'active' AND pid <> pg_backend_pid()")).rows[0]!.n).toBe(1);
    const second = await whileFrozen(holder, args);
    expect(second.code, second.stderr).toBe(0);
    expect(jsonLines(second.stderr).find((e) => e.event === 'lease.takeover')).toMatchObject({ previous: { pod: 'frozen-holder' } });
    const first = await holder.exited;
    expect(first.code, first.stderr).toBe(7);
    expect(summary(first)).toMatchObject({ code: 'ERR_LEASE_LOST' });
    expect(await logRows()).toEqual([1, 2, 3, 3, 4]);
    expect((await history()).map((r) => r.host)).toEqual(['frozen-holder', 'frozen-holder', 'frozen-holder', 'second-runner']);
  });

  it('SIGKILL of the holder: the next run takes the lease over after its expiry and applies everything', { timeout: 120_000 }, async () => {
    await reset();
    const dir = writeMigrations({ ...MIGRATIONS, '5_code.ts': HOLDING_MIGRATION });
    const args = ['migrate', '--dir', dir, '--log-format', 'json', '--lock', 'auto', '--lease-ttl', TTL, '--lock-timeout', '60s'];
    const holder = spawnBerth(args, { env: { DATABASE_URL: bouncer().url(db().name), HOSTNAME: 'killed-holder', BERTH_TEST_HOLD: '300' } });
    await holder.waitForOutput(/"event":"migration.log"/, 30_000);
    expect(holder.kill('SIGKILL')).toBe(true);
    await holder.exited;
    // The killed holder's lease has not expired yet.
    expect(await leaseRow()).toMatchObject({ holder_pod: 'killed-holder', released: false });
    const next = await runBerth(args, { env: { DATABASE_URL: bouncer().url(db().name), HOSTNAME: 'next-run' }, timeoutMs: 60_000 });
    expect(next.code, next.stderr).toBe(0);
    expect(jsonLines(next.stderr).find((e) => e.event === 'lease.takeover')).toMatchObject({ previous: { pod: 'killed-holder' } });
    expect(summary(next)).toMatchObject({ applied: 1, current: 5 });
    expect(await logRows()).toEqual([1, 2, 3, 3, 4, 5]);
    expect(await leaseRow()).toMatchObject({ holder_pod: 'next-run', released: true });
  });

  it('SIGTERM of the holder cancels its statement through the pooler, rolls back, releases the lease at once, and exits 143', { timeout: 60_000 }, async () => {
    await reset();
    const dir = writeMigrations({ ...MIGRATIONS, '4_slow.up.sql': "SELECT pg_sleep(60);\nINSERT INTO applied_log (version) VALUES (4);" });
    const args = ['migrate', '--dir', dir, '--log-format', 'json', '--lock', 'lease', '--lock-timeout', '10s'];
    const holder = spawnBerth(args, { env: { DATABASE_URL: bouncer().url(db().name), HOSTNAME: 'stopped-holder' } });
    await holder.waitForOutput(/"event":"migration.applied".*"version":3/, 30_000);
    // The slow statement runs on a server session the pooler chose: pg_cancel_backend of the
    // process id the pooler announced would not reach it.
    await expect.poll(async () => (await db().admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()")).rows[0]!.n).toBe(1);
    holder.kill('SIGTERM');
    const first = await holder.exited;
    expect(first.code, first.stderr).toBe(143);
    expect(await leaseRow()).toMatchObject({ holder_pod: 'stopped-holder', released: true });
    expect((await db().admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()")).rows[0]!.n).toBe(0);
    // Released, not expired: the default 30 s lease does not hold up the next run.
    const quick = writeMigrations(MIGRATIONS);
    const next = await runBerth(['migrate', '--dir', quick, '--log-format', 'json', '--lock', 'lease', '--lock-timeout', '10s'], { env: { DATABASE_URL: bouncer().url(db().name), HOSTNAME: 'next-run' } });
    expect(next.code, next.stderr).toBe(0);
    expect(jsonLines(next.stderr).some((e) => e.event === 'lease.takeover' || e.event === 'lock.wait')).toBe(false);
    expect(await logRows()).toEqual([1, 2, 3, 3, 4]);
  });

  it('--single-transaction and down work under the lease, and nothing berth SETs stays on the pooled server sessions', { timeout: 60_000 }, async () => {
    await reset();
    const files = {
      ...MIGRATIONS,
      '3_index.up.sql': '-- berth:no-transaction\n-- berth:statement-timeout 10s\n' + MIGRATIONS['3_index.up.sql'].split('\n').slice(1).join('\n'),
      '4_slow.down.sql': 'DELETE FROM applied_log WHERE version = 4;',
    };
    const dir = writeMigrations(files);
    const env = { DATABASE_URL: bouncer().url(db().name), BERTH_LOCK: 'lease', BERTH_STATEMENT_TIMEOUT: '20s' };
    const first = await runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--to', '2', '--single-transaction'], { env });
    expect(first.code, first.stderr).toBe(0);
    // The run ends with the no-transaction file: no later migration's RESET ALL tidies up after it.
    const third = await runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--to', '3'], { env });
    expect(third.code, third.stderr).toBe(0);
    // Its timeout could not be SET for its statements through the pool.
    expect(jsonLines(third.stderr).find((e) => e.event === 'plan.warning' && e.code === 'W_POOLER_TIMEOUTS')).toMatchObject({ version: 3 });
    // Every server session of the pool (five transactions at once take all of them) shows the defaults.
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(bouncer().url(db().name))));
    try {
      await Promise.all(clients.map((c) => c.query('BEGIN')));
      const seen = await Promise.all(clients.map(async (c) => (await c.query<{ s: string; i: string }>(
        "SELECT current_setting('statement_timeout') AS s, current_setting('idle_in_transaction_session_timeout') AS i")).rows[0]));
      for (const row of seen) expect(row).toEqual({ s: '0', i: '0' });
      await Promise.all(clients.map((c) => c.query('COMMIT')));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const rest = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env });
    expect(rest.code, rest.stderr).toBe(0);
    const down = await runBerth(['down', '--dir', dir, '--log-format', 'json', '--steps', '1'], { env });
    expect(down.code, down.stderr).toBe(0);
    expect(await logRows()).toEqual([1, 2, 3, 3]);
    expect((await history()).map((r) => r.version)).toEqual(['1', '2', '3']);
  });

  it('--lock advisory (and the default) through the transaction pool is still refused, exit 6', async () => {
    await reset();
    const dir = writeMigrations(MIGRATIONS);
    for (const env of [{ BERTH_LOCK: 'advisory' }, {}]) {
      const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: bouncer().url(db().name), ...env } });
      expect(result.code, result.stderr).toBe(6);
      expect(summary(result)).toMatchObject({ code: 'ERR_DB_POOLER' });
    }
    expect((await db().admin.query("SELECT to_regclass('berth_migrations') AS h, to_regclass('berth_migrations_lock') AS l")).rows[0]).toEqual({ h: null, l: null });
  });

  it('in session mode, auto takes the advisory lock: an advisory lock is held while it migrates, and no lease table exists', { timeout: 60_000 }, async () => {
    await reset();
    const dir = writeMigrations({ ...MIGRATIONS, '4_slow.up.sql': "SELECT pg_sleep(2);\nINSERT INTO applied_log (version) VALUES (4);" });
    const runner = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json', '--lock', 'auto'], { env: { DATABASE_URL: session().url(db().name) } });
    await runner.waitForOutput(/"event":"migration.applied".*"version":3/, 30_000);
    const { rows } = await db().admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    expect(rows[0]!.n).toBe(1);
    const done = await runner.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(jsonLines(done.stderr).find((e) => e.event === 'lock.acquired')).toMatchObject({ lock: 'advisory' });
    expect((await db().admin.query("SELECT to_regclass('berth_migrations_lock') AS l")).rows[0]).toEqual({ l: null });
  });

  it('auto on a direct connection and auto through the transaction pool exclude each other: 4 + 4 runners apply each migration once', { timeout: 120_000 }, async () => {
    await reset();
    const dir = writeMigrations({ ...MIGRATIONS, '5_code.ts': HOLDING_MIGRATION });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--lock', 'auto', '--lock-timeout', '60s'], {
        env: { DATABASE_URL: i % 2 ? db().url : bouncer().url(db().name), HOSTNAME: `runner-${i}` }, timeoutMs: 90_000,
      })));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    expect(await logRows()).toEqual([1, 2, 3, 3, 4, 5]);
  });
});
