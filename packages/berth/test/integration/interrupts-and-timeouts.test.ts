/**
 * What berth says when a run is cut short: an interrupt during a no-transaction migration (which
 * cannot be rolled back), and a statement timeout berth did not set.
 */
import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

describe('interrupts and timeouts', () => {
  const db = useTestDatabase('interrupts');
  const env = () => ({ DATABASE_URL: db().url });
  const reset = () => db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');

  it('SIGTERM in a no-transaction migration: exit 143, and the message says what stays applied instead of "rolled back"', async () => {
    await reset();
    const dir = writeMigrations({
      '1_index.up.sql': '-- berth:no-transaction\nCREATE TABLE kept (id int);\nSELECT pg_sleep(30);\nCREATE TABLE never (id int);\n',
    });
    const runner = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: env() });
    const sleeping = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep' AND query LIKE '%pg_sleep(30)%'";
    let seen = false;
    for (let i = 0; i < 200 && !seen; i++) {
      seen = (await db().admin.query(sleeping)).rows.length > 0;
      if (!seen) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toBe(true);
    runner.kill('SIGTERM');
    const result = await runner.exited;
    expect(result.code).toBe(143);
    const error = jsonLines(result.stderr).find((e) => e.event === 'run.error');
    expect(error).toMatchObject({ code: 'ERR_INTERRUPTED', exitCode: 143 });
    const message = String(error?.msg);
    expect(message).not.toContain('rolled back');
    expect(message).toContain('1_index.up.sql');
    expect(message).toContain('recorded as failed after 1 of 3 statements');
    expect(message).toContain('berth resolve 1 --applied');
    const row = await db().admin.query('SELECT status, statements_applied FROM berth_migrations');
    expect(row.rows).toEqual([{ status: 'failed', statements_applied: 1 }]);
    expect((await db().admin.query("SELECT to_regclass('kept') AS kept, to_regclass('never') AS never")).rows[0]).toEqual({ kept: 'kept', never: null });
  });

  it('a statement timeout that the migration set itself is not blamed on --statement-timeout', async () => {
    await reset();
    const dir = writeMigrations({ '1_own_timeout.up.sql': "SET statement_timeout = '200ms';\nSELECT pg_sleep(5);" });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('1_own_timeout.up.sql:2:1');
    expect(result.stderr).toContain('a statement_timeout the migration set itself: berth sets none (--statement-timeout 0)');
    expect(result.stderr).not.toContain('0ms from --statement-timeout');
  });
});
