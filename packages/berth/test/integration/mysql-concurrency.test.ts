/**
 * berth's run-time guarantees on MySQL / MariaDB (SPEC §4.1, §4.5): many runners apply each
 * migration once; a waiter names the holder; SIGKILL and SIGTERM mid-statement leave a state the
 * next run handles, with the server session (and its lock) gone.
 */
import { describe, expect, it } from 'vitest';
import { lockKey } from '../../src/core/lock.js';
import { lockName } from '../../src/drivers/mysql/mysql-driver.js';
import { jsonLines, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { mysqlServer, useMysqlDatabase, type MysqlTestDatabase } from '../helpers/mysql.js';

const server = await mysqlServer();

/** The connection id of the session running `statement` in this database, once it runs. */
async function sessionRunning(db: MysqlTestDatabase, statement: string): Promise<number | undefined> {
  for (let i = 0; i < 200; i++) {
    const rows = await db.query<{ id: string }>('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO = ?', [db.name, statement]);
    if (rows[0]) return Number(rows[0].id);
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

async function sessionGone(db: MysqlTestDatabase, id: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await db.query('SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [id])).length === 0) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe.skipIf(!server)('MySQL / MariaDB under concurrency and signals', () => {
  const db = useMysqlDatabase(server!, 'conc');

  it('16 runners at once apply each migration exactly once', async () => {
    const files: Record<string, string> = {
      '1_log.up.sql': 'CREATE TABLE applied_log (version INT NOT NULL, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6));\nINSERT INTO applied_log (version) VALUES (1);\n',
    };
    for (let v = 2; v <= 8; v++) files[`${v}_step.up.sql`] = `CREATE TABLE step_${v} (id INT PRIMARY KEY);\nINSERT INTO applied_log (version) VALUES (${v});\n`;
    const dir = writeMigrations(files);
    const runners = Array.from({ length: 16 }, () => runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--table', 'hist_conc'], {
      env: { DATABASE_URL: db().url }, timeoutMs: 60_000,
    }));
    const results = await Promise.all(runners);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(await db().query('SELECT version, COUNT(*) AS n FROM applied_log GROUP BY version ORDER BY version'))
      .toEqual(Array.from({ length: 8 }, (_, i) => ({ version: i + 1, n: '1' })));
    expect(await db().query("SELECT COUNT(*) AS n FROM hist_conc WHERE status = 'applied'")).toEqual([{ n: '8' }]);
    const applied = results.map((r) => jsonLines(r.stderr).find((e) => e.event === 'run.summary')?.applied as number);
    expect(applied.reduce((a, b) => a + b, 0)).toBe(8);
  });

  it('a waiter names the holder of the lock and gives up at --lock-timeout (exit 4)', async () => {
    const holder = await db().connect();
    const [[row]] = await holder.query<any[]>('SELECT GET_LOCK(?, 0) AS ok, CONNECTION_ID() AS id', [lockName(lockKey(db().name, { schema: db().name, table: 'hist_held' }))]);
    expect(Number(row.ok)).toBe(1);
    try {
      const result = await runBerth(['migrate', '--dir', writeMigrations({ '1_a.up.sql': 'SELECT 1;' }), '--log-format', 'json', '--table', 'hist_held', '--lock-timeout', '1s'], {
        env: { DATABASE_URL: db().url },
      });
      expect(result.code).toBe(4);
      const error = jsonLines(result.stderr).find((e) => e.event === 'run.error');
      expect(error).toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
      expect(String(error?.msg)).toContain(`held by pid ${row.id}, user root`);
    } finally {
      await holder.end();
    }
  });

  it('SIGKILL mid-statement: the session and its lock go, and the next run stops (exit 5) naming resolve', async () => {
    const files = { '1_slow.up.sql': 'CREATE TABLE k_before (id INT);\nSELECT SLEEP(30);\nCREATE TABLE k_after (id INT);\n' };
    const runner = spawnBerth(['migrate', '--dir', writeMigrations(files), '--log-format', 'json', '--table', 'hist_kill'], { env: { DATABASE_URL: db().url } });
    const id = await sessionRunning(db(), 'SELECT SLEEP(30)');
    expect(id).toBeDefined();
    runner.kill('SIGKILL');
    await runner.exited;
    // The server notices the closed socket while SLEEP waits (it checks the connection every few
    // seconds), not only when the 30 s are over; with the session goes the GET_LOCK lock.
    expect(await sessionGone(db(), id!, 15_000)).toBe(true);
    expect(await db().query('SELECT status, statements_applied FROM hist_kill')).toEqual([{ status: 'started', statements_applied: 1 }]);

    const next = await runBerth(['migrate', '--dir', writeMigrations(files), '--log-format', 'json', '--table', 'hist_kill', '--lock-timeout', '5s'], { env: { DATABASE_URL: db().url } });
    expect(next.code).toBe(5);
    expect(next.stderr).toContain('berth resolve 1');
    expect(jsonLines(next.stderr).find((e) => e.event === 'lock.acquired')?.lockWaitMs).toBeLessThan(1_000);
  });

  it('SIGTERM during SELECT SLEEP(30) exits 143 within 5 s, and the query is gone from the processlist', async () => {
    const files = { '1_sleep.up.sql': 'SELECT SLEEP(30);\nCREATE TABLE t_after (id INT);\n' };
    const runner = spawnBerth(['migrate', '--dir', writeMigrations(files), '--log-format', 'json', '--table', 'hist_term'], { env: { DATABASE_URL: db().url } });
    const id = await sessionRunning(db(), 'SELECT SLEEP(30)');
    expect(id).toBeDefined();
    const sent = Date.now();
    runner.kill('SIGTERM');
    const result = await runner.exited;
    expect(result.code).toBe(143);
    expect(Date.now() - sent).toBeLessThan(5_000);
    expect(await db().query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(30)' AND DB = ?", [db().name])).toEqual([]);
    expect(await sessionGone(db(), id!, 2_000)).toBe(true);
    expect(await db().query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 't_after'")).toEqual([]);
    const [row] = await db().query<{ status: string }>('SELECT status FROM hist_term');
    expect(row?.status).toBe('failed');
  });
});
