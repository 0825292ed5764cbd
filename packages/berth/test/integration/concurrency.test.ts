import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

const RUNNERS = 32;
const MIGRATIONS = 50;

function fiftyMigrations(): Record<string, string> {
  const files: Record<string, string> = {
    '0001_log.up.sql': 'CREATE TABLE applied_log (version int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());',
  };
  for (let v = 2; v <= MIGRATIONS; v++) {
    const n = String(v).padStart(4, '0');
    files[`${n}_step.up.sql`] =
      `CREATE TABLE t${n} (id int PRIMARY KEY);\n` +
      // Not idempotent on purpose: a second application would add a second row.
      `INSERT INTO applied_log (version) VALUES (${v});\n`;
  }
  return files;
}

describe('exactly once under concurrency', () => {
  const db = useTestDatabase('concurrency');

  it(`${RUNNERS} runners started together apply each of ${MIGRATIONS} migrations once`, async () => {
    const dir = writeMigrations(fiftyMigrations());
    const results = await Promise.all(
      Array.from({ length: RUNNERS }, () => runBerth(['migrate', '--dir', dir, '--log-format', 'json'], {
        env: { DATABASE_URL: db().url }, timeoutMs: 120_000,
      })),
    );
    const failures = results.filter((r) => r.code !== 0);
    expect(failures.map((f) => f.stderr.slice(-2000))).toEqual([]);

    const history = await db().admin.query<{ n: string; applied: string }>(
      "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'applied') AS applied FROM berth_migrations");
    expect(history.rows[0]).toEqual({ n: String(MIGRATIONS), applied: String(MIGRATIONS) });
    const log = await db().admin.query<{ version: number; n: string }>(
      'SELECT version, count(*) AS n FROM applied_log GROUP BY version ORDER BY version');
    expect(log.rows).toHaveLength(MIGRATIONS - 1);
    expect(log.rows.every((r) => r.n === '1')).toBe(true);
    // Runners that found the work done report it instead of failing.
    const appliedCounts = results.map((r) => r.stderr.match(/"event":"run.summary".*?"applied":(\d+)/)?.[1]).map(Number);
    expect(appliedCounts.reduce((a, b) => a + b, 0)).toBe(MIGRATIONS);
  });

  it('a runner waiting for the lock stops waiting, without taking it, once the holder has applied everything', async () => {
    const dir = writeMigrations({
      '1_slow.up.sql': 'CREATE TABLE slow_done (id int);\nSELECT pg_sleep(1.5);',
      '2_after.up.sql': 'CREATE TABLE after_slow (id int);',
    });
    const holder = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json', '--table', 'waiter_history'], { env: { DATABASE_URL: db().url } });
    await holder.waitForOutput(/"event":"lock.acquired"/);
    const waiter = await runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--table', 'waiter_history'], { env: { DATABASE_URL: db().url } });
    const held = await holder.exited;
    expect(held.code, held.stderr).toBe(0);
    expect(waiter.code, waiter.stderr).toBe(0);
    const events = jsonLines(waiter.stderr);
    expect(events.some((e) => e.event === 'lock.wait')).toBe(true);
    expect(events.some((e) => e.event === 'lock.acquired')).toBe(false);
    expect(events.find((e) => e.event === 'run.summary')).toMatchObject({ exitCode: 0, applied: 0, current: 2 });
  });
});
