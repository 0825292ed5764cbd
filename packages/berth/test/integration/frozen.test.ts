/**
 * A frozen runner (SIGSTOP, a paused VM) loses its session, and the lock with it, within the
 * bound of SPEC §4.5, while a live runner that is busy is never cut (README "Dead runners"):
 * berth sends a heartbeat while its session is idle, and the server's idle timeouts (30 s) end
 * the session of a client that cannot send one. The kernel still answers TCP keepalives for a
 * stopped process, so only something the process itself must do tells frozen from busy.
 *
 * These tests take ~40 s each (the timeouts are real, not shortened for tests); they run
 * concurrently, each on its own database.
 */
import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

/** SPEC §4.5: a frozen holder loses the lock within this (ms). */
const FROZEN_BOUND_MS = 60_000;
/** Longer than the server's idle timeouts (30 s): only a heartbeat keeps such a session. */
const CLIENT_SIDE_WORK_MS = 36_000;

/**
 * A code migration that does client-side work for `CLIENT_SIDE_WORK_MS` (as one that calls an
 * API between statements) when BERTH_TEST_HOLD is set, and none otherwise.
 */
const CODE_MIGRATION = [
  'export async function up(ctx: { sql(text: string): Promise<unknown[]>; log(m: string): void }) {',
  "  await ctx.sql('CREATE TABLE started_work (id int)');",
  `  if (process.env.BERTH_TEST_HOLD) {`,
  "    ctx.log('working on the client');",
  `    await new Promise((resolve) => setTimeout(resolve, ${CLIENT_SIDE_WORK_MS}));`,
  '  }',
  "  await ctx.sql('CREATE TABLE finished_work (id int)');",
  '}',
  '',
].join('\n');

/**
 * The holder of the SIGSTOP test: it works in short steps, each with a statement, so that once
 * resumed it finds out at once that its session is gone.
 */
const STEPPING_MIGRATION = [
  'export async function up(ctx: { sql(text: string): Promise<unknown[]>; log(m: string): void }) {',
  "  await ctx.sql('CREATE TABLE started_work (id int)');",
  '  if (process.env.BERTH_TEST_HOLD) {',
  "    ctx.log('working');",
  '    for (let i = 0; i < 600; i++) {',
  '      await new Promise((resolve) => setTimeout(resolve, 200));',
  "      await ctx.sql('SELECT 1');",
  '    }',
  '  }',
  "  await ctx.sql('CREATE TABLE finished_work (id int)');",
  '}',
  '',
].join('\n');

describe.concurrent('a frozen lock holder, and busy ones', () => {
  const frozenDb = useTestDatabase('frozen');
  const busyDb = useTestDatabase('busy_client');
  const slowDb = useTestDatabase('busy_server');

  it('SIGSTOP of the holder: a second runner (--lock-timeout 90s) gets the lock within the bound and applies everything; after SIGCONT the first exits 7 having applied nothing', { timeout: 120_000 }, async () => {
    const dir = writeMigrations({ '1_work.ts': STEPPING_MIGRATION, '2_after.up.sql': 'CREATE TABLE after_work (id int);' });
    const holder = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json'], {
      env: { DATABASE_URL: frozenDb().url, BERTH_TEST_HOLD: '1', HOSTNAME: 'frozen-holder' },
    });
    const started = Date.now();
    const at = (what: string) => `${what} ${Date.now() - started} ms after the holder started`;
    const timeline: string[] = [];
    await holder.waitForOutput(/"event":"migration.log"/, 30_000);
    expect(holder.kill('SIGSTOP')).toBe(true);
    timeline.push(at('stopped'));
    try {
      const second = await runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--lock-timeout', '90s'], {
        env: { DATABASE_URL: frozenDb().url, HOSTNAME: 'second-runner' }, timeoutMs: 100_000,
      });
      timeline.push(at('second runner done'));
      expect(second.code, `${timeline.join(', ')}\n${second.stderr}`).toBe(0);
      const events = jsonLines(second.stderr);
      expect(events.some((e) => e.event === 'lock.wait')).toBe(true);
      const acquired = events.find((e) => e.event === 'lock.acquired');
      expect(acquired?.lockWaitMs).toBeLessThan(FROZEN_BOUND_MS);
      expect(events.find((e) => e.event === 'run.summary')).toMatchObject({ applied: 2, current: 2 });
    } finally {
      holder.kill('SIGCONT');
    }
    const first = await holder.exited;
    timeline.push(at('holder exited'));
    expect(first.code, `${timeline.join(', ')}\n${first.stderr}`).toBe(7);
    expect(jsonLines(first.stderr).find((e) => e.event === 'run.summary')).toMatchObject({ code: 'ERR_CONNECTION_LOST' });
    // Everything there was applied once, by the second runner.
    const rows = await frozenDb().admin.query<{ version: string; host: string }>('SELECT version, host FROM berth_migrations ORDER BY version');
    expect(rows.rows).toEqual([{ version: '1', host: 'second-runner' }, { version: '2', host: 'second-runner' }]);
  });

  it(`a code migration doing ${CLIENT_SIDE_WORK_MS / 1000} s of client-side work inside its transaction is not cut`, { timeout: 100_000 }, async () => {
    const dir = writeMigrations({ '1_work.ts': CODE_MIGRATION, '2_after.up.sql': 'CREATE TABLE after_work (id int);' });
    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], {
      env: { DATABASE_URL: busyDb().url, BERTH_TEST_HOLD: '1' }, timeoutMs: 120_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stderr).find((e) => e.event === 'run.summary')).toMatchObject({ applied: 2, current: 2 });
    expect((await busyDb().admin.query("SELECT to_regclass('finished_work') AS t")).rows[0]).toEqual({ t: 'finished_work' });
  });

  it(`a statement running for ${CLIENT_SIDE_WORK_MS / 1000} s on the server is not cut`, { timeout: 100_000 }, async () => {
    const dir = writeMigrations({ '1_slow.up.sql': `SELECT pg_sleep(${CLIENT_SIDE_WORK_MS / 1000});\nCREATE TABLE after_sleep (id int);` });
    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: slowDb().url }, timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    expect((await slowDb().admin.query("SELECT to_regclass('after_sleep') AS t")).rows[0]).toEqual({ t: 'after_sleep' });
  });
});
