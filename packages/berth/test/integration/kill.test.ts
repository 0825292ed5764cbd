import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

describe('killed mid-migration', () => {
  const db = useTestDatabase('kill');

  it('SIGKILL during a long migration leaves no row, no partial object, and no lock behind', async () => {
    const dir = writeMigrations({
      '1_base.up.sql': 'CREATE TABLE base (id int);',
      '2_slow.up.sql': 'CREATE TABLE partial (id int);\nSELECT pg_sleep(60);\nCREATE TABLE after_sleep (id int);',
    });
    const runner = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: db().url, BERTH_DEBUG: '1' } });
    await runner.waitForOutput(/"event":"migration.start".*"version":2/);
    // Wait until the server is really inside pg_sleep, so the kill lands mid-statement.
    let backend: number | undefined;
    for (let i = 0; i < 100 && backend === undefined; i++) {
      const { rows } = await db().admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep' AND query LIKE '%pg_sleep(60)%'");
      backend = rows[0]?.pid;
      if (backend === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(backend).toBeDefined();
    runner.kill('SIGKILL');
    await runner.exited;
    // The server notices the dead client within client_connection_check_interval, not when the
    // 60 s statement ends: the session, its transaction and its lock are gone within seconds.
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      const { rows } = await db().admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [backend]);
      gone = rows.length === 0;
      if (!gone) await new Promise((r) => setTimeout(r, 50));
    }
    expect(gone).toBe(true);

    const next = await runBerth(['migrate', '--dir', writeMigrations({
      '1_base.up.sql': 'CREATE TABLE base (id int);',
      '2_slow.up.sql': 'CREATE TABLE partial (id int);\nSELECT pg_sleep(60);\nCREATE TABLE after_sleep (id int);',
    }), '--dry-run', '--log-format', 'json'], { env: { DATABASE_URL: db().url } });
    expect(next.code).toBe(0);
    expect(next.stdout).toContain('would apply 2 slow');

    const rows = await db().admin.query<{ version: string }>('SELECT version FROM berth_migrations ORDER BY version');
    expect(rows.rows).toEqual([{ version: '1' }]);
    const objects = await db().admin.query("SELECT to_regclass('partial') AS partial, to_regclass('after_sleep') AS after");
    expect(objects.rows[0]).toEqual({ partial: null, after: null });

    // The killed session is gone with its lock: a new runner takes it without waiting.
    const fixed = writeMigrations({ '1_base.up.sql': 'CREATE TABLE base (id int);', '2_slow.up.sql': 'CREATE TABLE partial (id int);' });
    const rerun = await runBerth(['migrate', '--dir', fixed, '--log-format', 'json', '--lock-timeout', '10s'], { env: { DATABASE_URL: db().url } });
    // 2_slow.up.sql changed, but it was never applied: no drift, it simply runs.
    expect(rerun.code, rerun.stderr).toBe(0);
    const events = jsonLines(rerun.stderr);
    expect(events.some((e) => e.event === 'lock.wait')).toBe(false);
    expect(events.find((e) => e.event === 'lock.acquired')?.lockWaitMs).toBeLessThan(1_000);
    expect(events.find((e) => e.event === 'run.summary')).toMatchObject({ applied: 1, current: 2 });
  });
});
