import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

const THREE = {
  '1_a.up.sql': 'CREATE TABLE a (id int);',
  '1_a.down.sql': 'DROP TABLE a;',
  '2_b.up.sql': 'CREATE TABLE b (id int);',
  '2_b.down.sql': 'DROP TABLE b;',
  '3_c.up.sql': 'CREATE TABLE c (id int);',
  '3_c.down.sql': 'DROP TABLE c;',
};

describe('the migration lifecycle', () => {
  const db = useTestDatabase('lifecycle');
  const env = () => ({ DATABASE_URL: db().url });
  const reset = () => db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  const versions = async () => (await db().admin.query<{ version: string; status: string }>('SELECT version, status FROM berth_migrations ORDER BY version')).rows;
  const tables = async () => (await db().admin.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'berth_migrations' ORDER BY 1")).rows.map((r) => r.t);

  it('down --steps 2 after three migrations leaves only the first, history included', async () => {
    await reset();
    const dir = writeMigrations(THREE);
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(0);
    const result = await runBerth(['down', '--steps', '2', '--dir', dir, '--log-format', 'json'], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stderr).filter((e) => e.event === 'migration.reverted').map((e) => e.version)).toEqual([3, 2]);
    expect(await versions()).toEqual([{ version: '1', status: 'applied' }]);
    expect(await tables()).toEqual(['a']);
  });

  it('down refuses before running anything when a migration in range has no down file', async () => {
    await reset();
    const files: Record<string, string> = { ...THREE };
    delete files['2_b.down.sql'];
    const dir = writeMigrations(files);
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(0);
    const result = await runBerth(['down', '--steps', '2', '--dir', dir], { env: env() });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('2_b.down.sql');
    expect(await versions()).toHaveLength(3);
    expect(await tables()).toEqual(['a', 'b', 'c']);
  });

  it('an edited applied file stops validate and migrate (exit 5) until repair; a deleted one stops validate', async () => {
    await reset();
    const dir = writeMigrations(THREE);
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(0);
    writeFileSync(path.join(dir, '2_b.up.sql'), 'CREATE TABLE b (id int); -- edited\n');
    const validate = await runBerth(['validate', '--dir', dir], { env: env() });
    expect(validate.code).toBe(5);
    expect(validate.stderr).toContain('2_b.up.sql');
    const migrate = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(migrate.code).toBe(5);
    expect(migrate.stderr).toContain('2_b.up.sql');

    const repair = await runBerth(['repair', '--dir', dir], { env: env() });
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stdout).toMatch(/^2 b: checksum [0-9a-f]{12} -> [0-9a-f]{12} \(2_b\.up\.sql\)$/m);
    expect((await runBerth(['validate', '--dir', dir], { env: env() })).code).toBe(0);

    rmSync(path.join(dir, '2_b.up.sql'));
    rmSync(path.join(dir, '2_b.down.sql'));
    const missing = await runBerth(['validate', '--dir', dir], { env: env() });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/migration 2 \(b\) is applied but its file is missing/);
  });

  it('a new pending migration below the newest applied one exits 5; --allow-out-of-order applies it', async () => {
    await reset();
    const dir = writeMigrations({ '1_a.up.sql': 'CREATE TABLE a (id int);', '3_c.up.sql': 'CREATE TABLE c (id int);' });
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(0);
    writeFileSync(path.join(dir, '2_b.up.sql'), 'CREATE TABLE b (id int);');
    const refused = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('2_b.up.sql');
    expect(refused.stderr).toContain('--allow-out-of-order');
    const allowed = await runBerth(['migrate', '--dir', dir, '--allow-out-of-order'], { env: env() });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(await tables()).toEqual(['a', 'b', 'c']);
  });

  it('after a failed no-transaction migration, resolve --rolled-back lets a fixed file run', async () => {
    await reset();
    const dir = writeMigrations({
      '1_t.up.sql': 'CREATE TABLE t (id int);',
      '2_idx.up.sql': '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE INDEX CONCURRENTLY t_bad ON t (nope);\n',
    });
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(1);
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(5);
    // The operator undoes what ran (the first index) and fixes the file.
    await db().admin.query('DROP INDEX t_id');
    writeFileSync(path.join(dir, '2_idx.up.sql'), '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n');
    const resolved = await runBerth(['resolve', '2', '--rolled-back', '--dir', dir], { env: env() });
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stdout).toContain('2 idx: failed -> rolled back');
    const rerun = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await versions()).toEqual([{ version: '1', status: 'applied' }, { version: '2', status: 'applied' }]);
    const idx = await db().admin.query("SELECT indexname FROM pg_indexes WHERE tablename = 't' ORDER BY 1");
    expect(idx.rows).toEqual([{ indexname: 't_id' }]);
  });

  it('resolve --applied settles a failed migration whose effects are complete', async () => {
    await reset();
    const dir = writeMigrations({ '1_x.up.sql': '-- berth:no-transaction\nCREATE TABLE x (id int);\nSELECT 1/0;\n' });
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(1);
    const resolved = await runBerth(['resolve', '1', '--applied', '--dir', dir], { env: env() });
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(await versions()).toEqual([{ version: '1', status: 'applied' }]);
    expect((await runBerth(['resolve', '1', '--applied', '--dir', dir], { env: env() })).code).toBe(2);
  });

  it('baseline 2 on a database that already has the objects of 1–2, then migrate applies only 3', async () => {
    await reset();
    await db().admin.query('CREATE TABLE a (id int); CREATE TABLE b (id int);');
    const dir = writeMigrations(THREE);
    const baseline = await runBerth(['baseline', '2', '--dir', dir], { env: env() });
    expect(baseline.code, baseline.stderr).toBe(0);
    expect(baseline.stdout).toContain('1 a: recorded as applied without running 1_a.up.sql');
    expect(baseline.stdout).toContain('2 b: recorded as applied');
    const migrate = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: env() });
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(jsonLines(migrate.stderr).filter((e) => e.event === 'migration.applied').map((e) => e.version)).toEqual([3]);
    expect(await tables()).toEqual(['a', 'b', 'c']);
  });

  it('a TypeScript migration with typed code runs up and down, in the same transaction as SQL ones', async () => {
    await reset();
    const dir = writeMigrations({
      '1_people.up.sql': 'CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL);',
      '1_people.down.sql': 'DROP TABLE people;',
      '2_seed_people.ts': [
        "import type { MigrationContext } from 'berth';",
        'interface Person { id: number; name: string }',
        'const people: readonly Person[] = [{ id: 1, name: "Ada" }, { id: 2, name: "Grace" }];',
        'function names<T extends { name: string }>(rows: readonly T[]): string[] { return rows.map((r) => r.name); }',
        'export async function up(ctx: MigrationContext): Promise<void> {',
        '  for (const p of people) await ctx.sql("INSERT INTO people (id, name) VALUES ($1, $2)", [p.id, p.name]);',
        '  const rows = await ctx.sql<{ n: string }>`SELECT count(*) AS n FROM people WHERE id <= ${people.length}`;',
        '  ctx.log(`seeded ${rows[0]?.n} people: ${names(people).join(", ")}`);',
        '}',
        'export async function down(ctx: MigrationContext): Promise<void> {',
        '  await ctx.sql("DELETE FROM people WHERE id = ANY($1::int[])", [people.map((p) => p.id)]);',
        '}',
      ].join('\n'),
    });
    const up = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: env() });
    expect(up.code, up.stderr).toBe(0);
    expect(jsonLines(up.stderr).find((e) => e.event === 'migration.log')).toMatchObject({ version: 2, message: 'seeded 2 people: Ada, Grace' });
    expect((await db().admin.query('SELECT name FROM people ORDER BY id')).rows).toEqual([{ name: 'Ada' }, { name: 'Grace' }]);
    const row = await db().admin.query("SELECT status, statements_applied FROM berth_migrations WHERE version = 2");
    expect(row.rows).toEqual([{ status: 'applied', statements_applied: 3 }]);
    const down = await runBerth(['down', '--steps', '1', '--dir', dir], { env: env() });
    expect(down.code, down.stderr).toBe(0);
    expect((await db().admin.query('SELECT count(*)::int AS n FROM people')).rows).toEqual([{ n: 0 }]);
    expect(await versions()).toEqual([{ version: '1', status: 'applied' }]);
  });

  it('a failing code migration rolls back with the SQL ones of its transaction and names its line', async () => {
    await reset();
    const dir = writeMigrations({
      '1_t.up.sql': 'CREATE TABLE t (id int);',
      '2_bad.mjs': 'export async function up(ctx) {\n  await ctx.sql("INSERT INTO t VALUES (1)");\n  await ctx.sql("INSERT INTO nowhere VALUES (1)");\n}\n',
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('2_bad.mjs:3:');
    expect((await db().admin.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
    expect(await versions()).toEqual([{ version: '1', status: 'applied' }]);
  });

  it('a code migration that does not load stops the run before anything is written', async () => {
    await reset();
    const dir = writeMigrations({ '1_broken.ts': 'export async function up(ctx: { sql(s: string): Promise<unknown> }) {\n  await ctx.sql("SELECT 1"\n}\n' });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('1_broken.ts');
    expect((await db().admin.query("SELECT to_regclass('berth_migrations') AS h")).rows).toEqual([{ h: null }]);
  });

  it('SIGTERM while a migration sleeps on the server: exit 143 within 5 s, nothing applied, nothing left running, lock free', async () => {
    await reset();
    const dir = writeMigrations({ '1_sleep.up.sql': 'CREATE TABLE slept (id int);\nSELECT pg_sleep(30);' });
    const runner = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: env() });
    // A migration runs as one message: wait until its session is inside pg_sleep.
    const sleeping = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep' AND query LIKE '%pg_sleep(30)%'";
    let seen = false;
    for (let i = 0; i < 200 && !seen; i++) {
      seen = (await db().admin.query(sleeping)).rows.length > 0;
      if (!seen) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toBe(true);
    const sent = Date.now();
    runner.kill('SIGTERM');
    const result = await runner.exited;
    expect(result.code).toBe(143);
    expect(Date.now() - sent).toBeLessThan(5_000);
    expect(jsonLines(result.stderr).find((e) => e.event === 'run.summary')).toMatchObject({ exitCode: 143, code: 'ERR_INTERRUPTED' });
    const running = await db().admin.query(sleeping);
    expect(running.rows).toEqual([]);
    expect(await db().admin.query("SELECT to_regclass('slept') AS t")).toMatchObject({ rows: [{ t: null }] });
    expect(await versions()).toEqual([]);
    const next = await runBerth(['migrate', '--dir', writeMigrations({ '1_sleep.up.sql': 'CREATE TABLE slept (id int);' }), '--log-format', 'json', '--lock-timeout', '1s'], { env: env() });
    expect(next.code, next.stderr).toBe(0);
    expect(jsonLines(next.stderr).some((e) => e.event === 'lock.wait')).toBe(false);
  });

  it('SIGTERM while waiting for the lock exits 143 at once', async () => {
    await reset();
    const dir = writeMigrations({ '1_sleep.up.sql': 'SELECT pg_sleep(20);' });
    const holder = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: env() });
    await holder.waitForOutput(/"event":"lock.acquired"/);
    const waiter = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { ...env(), BERTH_DEBUG: '1' } });
    await waiter.waitForOutput(/"event":"lock.wait"/);
    waiter.kill('SIGTERM');
    const result = await waiter.exited;
    expect(result.code).toBe(143);
    holder.kill('SIGKILL');
    await holder.exited;
  });

  it('a statement over --statement-timeout fails with exit 1 naming the timeout', async () => {
    await reset();
    const dir = writeMigrations({ '1_slow.up.sql': 'SELECT pg_sleep(5);' });
    const result = await runBerth(['migrate', '--dir', dir, '--statement-timeout', '300ms'], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('statement_timeout 300ms from --statement-timeout');
    const directive = writeMigrations({ '1_slow.up.sql': '-- berth:statement-timeout 200ms\nSELECT pg_sleep(5);' });
    const viaFile = await runBerth(['migrate', '--dir', directive], { env: env() });
    expect(viaFile.code).toBe(1);
    expect(viaFile.stderr).toContain('statement_timeout 200ms from -- berth:statement-timeout');
  });

  it('a lock timeout directive fires when a table is locked by another session', async () => {
    await reset();
    await db().admin.query('CREATE TABLE busy (id int)');
    const blocker = await db().admin.connect();
    await blocker.query('BEGIN; LOCK TABLE busy IN ACCESS EXCLUSIVE MODE');
    try {
      const dir = writeMigrations({ '1_alter.up.sql': '-- berth:lock-timeout 300ms\nALTER TABLE busy ADD COLUMN note text;' });
      const result = await runBerth(['migrate', '--dir', dir], { env: env() });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('lock_timeout 300ms from -- berth:lock-timeout');
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
  });
});
