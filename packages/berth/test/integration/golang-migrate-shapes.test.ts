/**
 * golang-migrate folders run unchanged (SPEC §2), with berth's guarantees: files wrapped in
 * BEGIN ... COMMIT, single-statement CREATE INDEX CONCURRENTLY files, version 0, and the files
 * golang-migrate itself could not run refused before the first migration of the run is applied.
 */
import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

describe('golang-migrate shapes', () => {
  const db = useTestDatabase('gm_shapes');
  const env = () => ({ DATABASE_URL: db().url });
  const reset = () => db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  const history = async () =>
    (await db().admin.query<{ version: string; status: string; statements_total: number }>(
      'SELECT version, status, statements_total FROM berth_migrations ORDER BY version')).rows
      .map((r) => [Number(r.version), r.status, r.statements_total]);

  it('a file wrapped in BEGIN; ... COMMIT; is one transaction with its history row', async () => {
    await reset();
    const dir = writeMigrations({
      '0_initial.up.sql': 'CREATE TABLE accounts (id bigint PRIMARY KEY);',
      '1_wrapped.up.sql': 'BEGIN;\n\nCREATE TABLE wrapped (id int);\nINSERT INTO wrapped VALUES (1);\n\nCOMMIT;\n',
      '2_start.up.sql': 'START TRANSACTION;\nCREATE TABLE started (id int);\nEND;\n',
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(await history()).toEqual([[0, 'applied', 1], [1, 'applied', 2], [2, 'applied', 1]]);
    expect((await db().admin.query('SELECT count(*)::int AS n FROM wrapped')).rows[0]).toEqual({ n: 1 });
  });

  it('a wrapped file that fails half-way leaves nothing of it and no history row', async () => {
    await reset();
    const dir = writeMigrations({
      '1_ok.up.sql': 'CREATE TABLE ok (id int);',
      '2_half.up.sql': 'BEGIN;\nCREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nINSERT INTO missing VALUES (1);\nCOMMIT;\n',
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('2_half.up.sql:4:13');
    expect(await history()).toEqual([[1, 'applied', 1]]);
    expect((await db().admin.query("SELECT to_regclass('half') AS t")).rows[0]).toEqual({ t: null });
  });

  it('a single CREATE INDEX CONCURRENTLY file runs outside a transaction, recorded like no-transaction', async () => {
    await reset();
    const dir = writeMigrations({
      '1_t.up.sql': 'CREATE TABLE t (id int, email text);',
      '2_index.up.sql': '-- index without blocking writes\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_email ON t (email);\n',
      '2_index.down.sql': 'DROP INDEX CONCURRENTLY IF EXISTS t_email;\n',
    });
    const dry = await runBerth(['migrate', '--dir', dir, '--dry-run', '--log-format', 'json'], { env: env() });
    expect(dry.code, dry.stderr).toBe(0);
    expect(jsonLines(dry.stderr).find((e) => e.event === 'migration.planned' && e.version === 2), dry.stderr).toMatchObject({ transaction: false });

    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(await history()).toEqual([[1, 'applied', 1], [2, 'applied', 1]]);
    expect((await db().admin.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_email'::regclass")).rows).toEqual([{ indisvalid: true }]);

    const down = await runBerth(['down', '--steps', '1', '--dir', dir], { env: env() });
    expect(down.code, down.stderr).toBe(0);
    expect((await db().admin.query("SELECT to_regclass('t_email') AS i")).rows[0]).toEqual({ i: null });
  });

  it('VACUUM alone in a file runs as golang-migrate runs it', async () => {
    await reset();
    const dir = writeMigrations({ '1_t.up.sql': 'CREATE TABLE t (id int);', '2_vacuum.up.sql': 'VACUUM (ANALYZE) t;' });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(await history()).toEqual([[1, 'applied', 1], [2, 'applied', 1]]);
  });

  it('a mixed file is refused before the first migration of the run is applied, by migrate, --dry-run and validate', async () => {
    await reset();
    const dir = writeMigrations({
      '1_first.up.sql': 'CREATE TABLE first (id int);',
      '2_second.up.sql': 'CREATE TABLE second (id int);',
      '3_mixed.up.sql': 'CREATE TABLE third (email text);\nCREATE INDEX CONCURRENTLY third_email ON third (email);\n',
    });
    for (const args of [['migrate'], ['migrate', '--dry-run'], ['validate'], ['status']]) {
      const result = await runBerth([...args, '--dir', dir, '--log-format', 'json'], { env: env() });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(5);
      expect(result.stderr).toContain('3_mixed.up.sql:2: CREATE INDEX CONCURRENTLY cannot run inside a transaction block');
      expect(result.stderr).toContain('-- berth:no-transaction');
    }
    expect((await db().admin.query("SELECT to_regclass('berth_migrations') AS h, to_regclass('first') AS f")).rows[0]).toEqual({ h: null, f: null });
  });

  it('a broken down file stops migrate before any write, and every problem is reported at once', async () => {
    await reset();
    const dir = writeMigrations({
      '1_a.up.sql': 'CREATE TABLE a (id int);',
      '1_a.down.sql': 'DROP TABLE a;\nCOMMIT;\n',
      '2_b.up.sql': "SELECT 'unterminated;",
      '3_c.up.sql': 'CREATE TABLE c (id int);',
      '3_c.down.sql': 'DROP TABLE c; DISCARD ALL;',
    });
    for (const command of ['migrate', 'status', 'validate', 'down']) {
      const result = await runBerth([command, ...(command === 'down' ? ['--all'] : []), '--dir', dir], { env: env() });
      expect(result.code, `${command}: ${result.stderr}`).toBe(5);
      expect(result.stderr, command).toContain('has 3 problems');
      for (const where of ['1_a.down.sql:2', '2_b.up.sql:1', '3_c.down.sql:1']) expect(result.stderr, command).toContain(where);
    }
    expect((await db().admin.query("SELECT to_regclass('berth_migrations') AS h")).rows[0]).toEqual({ h: null });
  });

  it('version 0 is a migration like any other: applied, shown, rolled back', async () => {
    await reset();
    const dir = writeMigrations({
      '0_initial.up.sql': 'CREATE TABLE zero (id int);',
      '0_initial.down.sql': 'DROP TABLE zero;',
      '1_next.up.sql': 'CREATE TABLE one (id int);',
      '1_next.down.sql': 'DROP TABLE one;',
    });
    expect((await runBerth(['migrate', '--dir', dir, '--to', '0'], { env: env() })).code).toBe(0);
    expect(await history()).toEqual([[0, 'applied', 1]]);
    const status = await runBerth(['status', '--json', '--dir', dir], { env: env() });
    expect(JSON.parse(status.stdout)).toMatchObject({ current: 0, pending: [{ version: 1 }] });
    const check = await runBerth(['check', '--expect', '0', '--dir', dir], { env: env() });
    expect(check.code, check.stderr).toBe(5);
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(0);
    expect((await runBerth(['check', '--expect', '0', '--dir', dir], { env: env() })).code).toBe(0);
    // --to 0 keeps version 0; --all removes it too.
    expect((await runBerth(['down', '--to', '0', '--dir', dir], { env: env() })).code).toBe(0);
    expect(await history()).toEqual([[0, 'applied', 1]]);
    expect((await runBerth(['down', '--all', '--dir', dir], { env: env() })).code).toBe(0);
    expect(await history()).toEqual([]);
  });

  it('an empty file is applied with a warning saying it ran nothing', async () => {
    await reset();
    const dir = writeMigrations({ '1_placeholder.up.sql': '', '2_comments.up.sql': '-- nothing here yet\n' });
    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    const warnings = jsonLines(result.stderr).filter((e) => e.code === 'W_EMPTY_MIGRATION').map((e) => e.version);
    expect(warnings).toEqual([1, 2]);
    expect(await history()).toEqual([[1, 'applied', 0], [2, 'applied', 0]]);
  });
});
