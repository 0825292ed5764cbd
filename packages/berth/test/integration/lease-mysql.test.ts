/**
 * `--lock lease` on MySQL / MariaDB (docs/locking.md): the same lease row and fence as on
 * PostgreSQL, checked in every history write, which every MySQL migration passes through (its DDL
 * commits on its own). Many runners apply each migration once; a frozen holder is taken over and,
 * resumed, runs nothing more and exits 7.
 */
import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, spawnBerth, writeMigrations, type RunResult } from '../helpers/cli.js';
import { mysqlServer, useMysqlDatabase } from '../helpers/mysql.js';

const server = await mysqlServer();

const FILES: Record<string, string> = {
  '1_log.up.sql': 'CREATE TABLE applied_log (version INT NOT NULL);\nINSERT INTO applied_log (version) VALUES (1);\n',
  '2_accounts.up.sql': 'CREATE TABLE accounts (id INT PRIMARY KEY);\nINSERT INTO applied_log (version) VALUES (2);\n',
  '3_slow.up.sql': 'DO SLEEP(0.3);\nINSERT INTO applied_log (version) VALUES (3);\n',
};

/** Works on the client in short steps where BERTH_TEST_HOLD is set (so it can be frozen there), then logs its row. */
const HOLDING_MIGRATION = [
  'export async function up(ctx: { sql(text: string): Promise<unknown[]>; log(m: string): void }) {',
  '  if (process.env.BERTH_TEST_HOLD) {',
  "    ctx.log('working');",
  '    for (let i = 0; i < 50; i++) {',
  '      await new Promise((resolve) => setTimeout(resolve, 200));',
  "      await ctx.sql('SELECT 1');",
  '    }',
  '  }',
  "  await ctx.sql('INSERT INTO applied_log (version) VALUES (4)');",
  '}',
  '',
].join('\n');

function summary(result: RunResult): Record<string, unknown> | undefined {
  return jsonLines(result.stderr).find((e) => e.event === 'run.summary');
}

describe.skipIf(!server)('the lease on MySQL / MariaDB', () => {
  const db = useMysqlDatabase(server!, 'lease');

  async function logRows(): Promise<number[]> {
    return (await db().query<{ version: number }>('SELECT version FROM applied_log ORDER BY version')).map((r) => Number(r.version));
  }

  it('12 runners with --lock lease apply each migration exactly once, and all exit 0', { timeout: 90_000 }, async () => {
    const dir = writeMigrations({ ...FILES, '4_code.ts': HOLDING_MIGRATION });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => runBerth(
      ['migrate', '--dir', dir, '--log-format', 'json', '--table', 'hist_many', '--lock', 'lease', '--lock-timeout', '60s'],
      { env: { DATABASE_URL: db().url, HOSTNAME: `runner-${i}` }, timeoutMs: 80_000 })));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(await logRows()).toEqual([1, 2, 3, 4]);
    expect(results.map((r) => Number(summary(r)?.applied ?? 0)).reduce((a, b) => a + b, 0)).toBe(4);
    for (const e of results.flatMap((r) => jsonLines(r.stderr)).filter((e) => e.event === 'lock.acquired')) expect(e).toMatchObject({ lock: 'lease' });
    expect(await db().query('SELECT released FROM hist_many_lock')).toEqual([{ released: 1 }]);
  });

  it('a holder frozen past its lease is taken over; resumed, it is fenced before its next statement and exits 7', { timeout: 90_000 }, async () => {
    await db().query('DROP TABLE IF EXISTS applied_log, accounts');
    const dir = writeMigrations({ ...FILES, '4_code.ts': HOLDING_MIGRATION });
    const args = ['migrate', '--dir', dir, '--log-format', 'json', '--table', 'hist_frozen', '--lock', 'lease', '--lease-ttl', '2s', '--lock-timeout', '60s'];
    const holder = spawnBerth(args, { env: { DATABASE_URL: db().url, HOSTNAME: 'frozen-holder', BERTH_TEST_HOLD: '1' } });
    await holder.waitForOutput(/"event":"migration.log"/, 30_000);
    expect(holder.kill('SIGSTOP')).toBe(true);
    let second: RunResult;
    try {
      second = await runBerth(args, { env: { DATABASE_URL: db().url, HOSTNAME: 'second-runner' }, timeoutMs: 60_000 });
    } finally {
      holder.kill('SIGCONT');
    }
    // It took the lease over, and found the frozen holder's migration started (MySQL DDL cannot be
    // rolled back): that is for an operator to settle, as after a crash.
    expect(jsonLines(second.stderr).find((e) => e.event === 'lease.takeover')).toMatchObject({ previous: { pod: 'frozen-holder', released: false } });
    expect(second.code, second.stderr).toBe(5);
    expect(second.stderr).toContain('berth resolve 4');
    const first = await holder.exited;
    expect(first.code, first.stderr).toBe(7);
    expect(summary(first)).toMatchObject({ code: 'ERR_LEASE_LOST' });
    // Fenced before its next statement: the holder's insert of migration 4 never ran.
    expect(await logRows()).toEqual([1, 2, 3]);
    expect(await db().query('SELECT version, status, host FROM hist_frozen WHERE version = 4')).toEqual([{ version: '4', status: 'started', host: 'frozen-holder' }]);
  });
});
