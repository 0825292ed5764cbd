/**
 * berth behind a real PgBouncer (SPEC §4.1, §4.5): a transaction-mode pool is refused before the
 * lock, whatever its size and however many runners start at once, and leaves nothing locked; a
 * session-mode pool with stock settings works, with berth's session settings in force.
 */
import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, writeMigrations, type RunResult } from '../helpers/cli.js';
import { connect, useTestDatabase } from '../helpers/db.js';
import { pgbouncerMissing, usePgBouncer } from '../helpers/pgbouncer.js';

const missing = pgbouncerMissing();
if (missing) console.log(`[berth-test] ${missing}`);

const MIGRATIONS = {
  '1_accounts.up.sql': 'CREATE TABLE accounts (id int PRIMARY KEY);',
  '2_settings.up.sql': [
    // What the migration's session sees: berth's settings, not the database's.
    "CREATE TABLE seen AS SELECT current_setting('idle_session_timeout') AS idle_session_timeout,",
    "  current_setting('statement_timeout') AS statement_timeout, current_setting('tcp_keepalives_idle') AS keepalives_idle;",
  ].join('\n'),
  '3_slow.up.sql': 'SELECT pg_sleep(1.2);\nCREATE TABLE after_sleep (id int);',
};

function summary(result: RunResult): Record<string, unknown> | undefined {
  return jsonLines(result.stderr).find((e) => e.event === 'run.summary');
}

describe.skipIf(missing)('behind PgBouncer', () => {
  const db = useTestDatabase('pgbouncer');

  async function advisoryLocks(): Promise<number> {
    const { rows } = await db().admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    return rows[0]!.n;
  }

  async function reset(): Promise<void> {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  }

  describe.each([1, 5])('in transaction mode, pool size %i', (poolSize) => {
    const bouncer = usePgBouncer({ poolMode: 'transaction', poolSize });

    it.each([1, 8])('%i runner(s) at once: every one exits 6 before the lock, nothing stays locked, a direct run then goes at once', async (runners) => {
      await reset();
      const dir = writeMigrations(MIGRATIONS);
      const results = await Promise.all(Array.from({ length: runners }, () =>
        runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--lock-timeout', '20s'], { env: { DATABASE_URL: bouncer().url(db().name) } })));
      for (const result of results) {
        expect(result.code, result.stderr).toBe(6);
        expect(summary(result)).toMatchObject({ code: 'ERR_DB_POOLER' });
        expect(result.stderr).toContain('pool_mode = session');
        // Refused before the lock: no runner ever got that far.
        expect(jsonLines(result.stderr).some((e) => e.event === 'lock.acquired' || e.event === 'lock.wait')).toBe(false);
      }
      expect(await advisoryLocks()).toBe(0);
      expect((await db().admin.query("SELECT to_regclass('berth_migrations') AS h, to_regclass('accounts') AS a")).rows[0]).toEqual({ h: null, a: null });

      const direct = await runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--lock-timeout', '5s'], { env: { DATABASE_URL: db().url } });
      expect(direct.code, direct.stderr).toBe(0);
      expect(jsonLines(direct.stderr).some((e) => e.event === 'lock.wait')).toBe(false);
      expect(summary(direct)).toMatchObject({ applied: 3, current: 3 });
    });

    it('reading through it works and leaves nothing of berth\'s in the pooled sessions: status, check, and a migrate with nothing to do (which warns)', async () => {
      await reset();
      const dir = writeMigrations(MIGRATIONS);
      expect((await runBerth(['migrate', '--dir', dir], { env: { DATABASE_URL: db().url } })).code).toBe(0);
      const env = { DATABASE_URL: bouncer().url(db().name) };
      const status = await runBerth(['status', '--dir', dir, '--json'], { env });
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ current: 3, pending: [] });
      expect((await runBerth(['check', '--dir', dir], { env })).code).toBe(0);
      const noOp = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env });
      expect(noOp.code, noOp.stderr).toBe(0);
      expect(jsonLines(noOp.stderr).find((e) => e.event === 'connect.ok')).toMatchObject({ pooled: true });
      expect(jsonLines(noOp.stderr).find((e) => e.event === 'plan.warning')).toMatchObject({ code: 'W_TRANSACTION_POOLER' });
      // berth SET nothing on the pooled server sessions: other clients still get the defaults.
      const client = await connect(bouncer().url(db().name));
      try {
        const { rows } = await client.query("SELECT current_setting('idle_session_timeout') AS idle, current_setting('tcp_keepalives_idle') AS ka");
        expect(rows[0].idle).toBe('0');
        expect(rows[0].ka).not.toBe('10');
        // With a pool of one, that is the very session berth used.
        if (poolSize === 1) expect((await client.query('SELECT pg_listening_channels() AS c')).rows).toEqual([]);
      } finally {
        await client.end();
      }
    });
  });

  describe('in session mode with stock settings', () => {
    const bouncer = usePgBouncer({ poolMode: 'session' });

    it('migrates: the start-up options PgBouncer refuses are SET after connecting, and the migrations see them', async () => {
      await reset();
      await db().admin.query(`ALTER DATABASE ${db().name} SET statement_timeout = '1s'`);
      try {
        const result = await runBerth(['migrate', '--dir', writeMigrations(MIGRATIONS), '--log-format', 'json'], { env: { DATABASE_URL: bouncer().url(db().name) } });
        expect(result.code, result.stderr).toBe(0);
        expect(summary(result)).toMatchObject({ applied: 3, current: 3 });
        expect(jsonLines(result.stderr).find((e) => e.event === 'connect.ok')).toMatchObject({ pooled: true });
        expect(jsonLines(result.stderr).some((e) => e.event === 'connect.warning')).toBe(false);
        // The database's 1 s did not reach 3_slow (it sleeps 1.2 s): berth's statement_timeout (none) did.
        const seen = await db().admin.query('SELECT * FROM seen');
        expect(seen.rows).toEqual([{ idle_session_timeout: '30s', statement_timeout: '0', keepalives_idle: '10' }]);
      } finally {
        await db().admin.query(`ALTER DATABASE ${db().name} RESET statement_timeout`);
      }
    });

    it('PGOPTIONS, which PgBouncer refuses, is a target rejected at once (exit 6), not retried for the whole --wait', async () => {
      const result = await runBerth(['migrate', '--dir', writeMigrations(MIGRATIONS), '--log-format', 'json', '--wait', '20s'],
        { env: { DATABASE_URL: bouncer().url(db().name), PGOPTIONS: '-c work_mem=7MB' } });
      expect(result.code, result.stderr).toBe(6);
      expect(summary(result)).toMatchObject({ code: 'ERR_DB_UNSUPPORTED' });
      expect(result.stderr).toContain('unsupported startup parameter: options');
      expect(result.stderr).toContain('Unset PGOPTIONS');
      expect(jsonLines(result.stderr).some((e) => e.event === 'connect.retry')).toBe(false);
    });

    it('a lock lost behind the pooler: exit 7, and the message points at the pooler rather than asking about pg_advisory_unlock_all()', async () => {
      await reset();
      const dir = writeMigrations({ '1_unlock.up.sql': 'CREATE TABLE unlocked (id int);\nSELECT pg_advisory_unlock_all();' });
      const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: bouncer().url(db().name) } });
      expect(result.code, result.stderr).toBe(7);
      expect(summary(result)).toMatchObject({ code: 'ERR_LOCK_LOST' });
      const message = String(jsonLines(result.stderr).find((e) => e.event === 'run.error')?.msg);
      expect(message).toContain('goes through a pooler');
      expect(message).not.toContain('pg_advisory_unlock_all');
      expect((await db().admin.query("SELECT to_regclass('unlocked') AS t")).rows[0]).toEqual({ t: null });
    });

    it('8 runners at once through the pool apply each migration once and all exit 0', async () => {
      await reset();
      const dir = writeMigrations(MIGRATIONS);
      const results = await Promise.all(Array.from({ length: 8 }, () =>
        runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: bouncer().url(db().name) } })));
      expect(results.map((r) => r.code), results.map((r) => r.stderr.slice(-1500)).join('\n')).toEqual(Array(8).fill(0));
      expect(results.map((r) => Number(summary(r)?.applied)).reduce((a, b) => a + b, 0)).toBe(3);
      expect((await db().admin.query('SELECT count(*)::int AS n FROM berth_migrations')).rows[0]).toEqual({ n: 3 });
      expect(await advisoryLocks()).toBe(0);
    });
  });

  describe('in session mode with ignore_startup_parameters = options', () => {
    const bouncer = usePgBouncer({ poolMode: 'session', settings: { ignore_startup_parameters: 'options' } });

    it('the settings PgBouncer dropped silently are found missing and SET, so the database\'s statement_timeout does not reach the migrations', async () => {
      await reset();
      await db().admin.query(`ALTER DATABASE ${db().name} SET statement_timeout = '1s'`);
      try {
        const result = await runBerth(['migrate', '--dir', writeMigrations(MIGRATIONS), '--log-format', 'json'], { env: { DATABASE_URL: bouncer().url(db().name) } });
        expect(result.code, result.stderr).toBe(0);
        const seen = await db().admin.query('SELECT * FROM seen');
        expect(seen.rows).toEqual([{ idle_session_timeout: '30s', statement_timeout: '0', keepalives_idle: '10' }]);
      } finally {
        await db().admin.query(`ALTER DATABASE ${db().name} RESET statement_timeout`);
      }
    });
  });
});
