import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

describe('a failing migration leaves a clear state', () => {
  const db = useTestDatabase('failures');
  const env = () => ({ DATABASE_URL: db().url });

  it('a transactional migration failing on line N: exit 1, file and line named, nothing of it or after it applied', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations({
      '1_ok.up.sql': 'CREATE TABLE ok (id int);',
      '2_bad.up.sql': [
        '-- creates two tables, the second statement is broken',
        'CREATE TABLE bad_first (id int);',
        '',
        'INSERT INTO bad_first (id)',
        '  SELECT id FROM no_such_table;',
        'CREATE TABLE bad_last (id int);',
      ].join('\n'),
      '3_after.up.sql': 'CREATE TABLE after_bad (id int);',
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code).toBe(1);
    // The server points at "no_such_table": line 5 of the file, column 18.
    expect(result.stderr).toContain('2_bad.up.sql:5:18');
    expect(result.stderr).toContain('relation \\"no_such_table\\" does not exist');
    const rows = await db().admin.query<{ version: string }>('SELECT version FROM berth_migrations ORDER BY version');
    expect(rows.rows).toEqual([{ version: '1' }]);
    const objects = await db().admin.query("SELECT to_regclass('bad_first') AS a, to_regclass('bad_last') AS b, to_regclass('after_bad') AS c, to_regclass('ok') AS ok");
    expect(objects.rows[0]).toEqual({ a: null, b: null, c: null, ok: 'ok' });
  });

  it('a migration is one message, yet an error without a position still names the statement that failed', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations({
      '1_dup.up.sql': [
        'CREATE TABLE dup (id int PRIMARY KEY);',
        'INSERT INTO dup VALUES (1);',
        '-- the duplicate: a unique violation carries no position',
        'INSERT INTO dup VALUES (1);',
        'CREATE TABLE dup_after (id int);',
      ].join('\n'),
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('1_dup.up.sql:4:1');
    expect(result.stderr).toContain('SQLSTATE 23505');
    expect((await db().admin.query("SELECT to_regclass('dup') AS a, to_regclass('berth_migrations') AS h")).rows[0]).toEqual({ a: null, h: 'berth_migrations' });
  });

  it('maps a server position in code points back to the file, past emoji and accents in earlier statements', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations({
      '1_text.up.sql': [
        "CREATE TABLE café (note text DEFAULT '😀😀 déjà vu');",
        "INSERT INTO café VALUES ('🚀 ünïcode');",
        "SELECT note FROM café WHERE nope = '😀';",
      ].join('\n'),
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code).toBe(1);
    // "nope" starts at column 29 of line 3.
    expect(result.stderr).toContain('1_text.up.sql:3:29');
    expect(result.stderr).toContain('column \\"nope\\" does not exist');
  });

  it('a migration that gives up the lock is not committed: exit 7, ERR_LOCK_LOST, nothing of it applied', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations({
      '1_ok.up.sql': 'CREATE TABLE before_unlock (id int);',
      '2_unlock.up.sql': 'CREATE TABLE unlocked (id int);\nSELECT pg_advisory_unlock_all();',
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code).toBe(7);
    expect(jsonLines(result.stderr).find((e) => e.event === 'run.summary')).toMatchObject({ code: 'ERR_LOCK_LOST' });
    expect(result.stderr).toContain('2_unlock.up.sql');
    const rows = await db().admin.query<{ version: string }>('SELECT version FROM berth_migrations ORDER BY version');
    expect(rows.rows).toEqual([{ version: '1' }]);
    expect((await db().admin.query("SELECT to_regclass('unlocked') AS t")).rows[0]).toEqual({ t: null });
  });

  it('a deferred constraint that fails at COMMIT is a failed migration (exit 1), not a lost connection', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations({
      '1_parent.up.sql': 'CREATE TABLE parent (id int PRIMARY KEY);',
      '2_orphan.up.sql': [
        'CREATE TABLE child (parent_id int REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);',
        'INSERT INTO child VALUES (42);',
      ].join('\n'),
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('COMMIT of 2_orphan.up.sql');
    expect(result.stderr).toContain('SQLSTATE 23503');
    const rows = await db().admin.query<{ version: string }>('SELECT version FROM berth_migrations ORDER BY version');
    expect(rows.rows).toEqual([{ version: '1' }]);
    expect((await db().admin.query("SELECT to_regclass('child') AS t")).rows[0]).toEqual({ t: null });
  });

  it('a statement the server refuses in a transaction block, unknown to berth, fails naming the no-transaction directive', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations({
      '1_t.up.sql': 'CREATE TABLE t (id int);',
      // The server refuses it once the transaction has run a query (berth's own checks, here).
      '2_isolation.up.sql': 'CREATE TABLE u (id int);\nSET TRANSACTION ISOLATION LEVEL SERIALIZABLE;',
    });
    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'pretty'], { env: env() });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('2_isolation.up.sql:2:1');
    expect(result.stderr).toContain('-- berth:no-transaction');
    expect((await db().admin.query("SELECT to_regclass('u') AS u")).rows[0]).toEqual({ u: null });
  });

  it('a failing no-transaction migration is recorded failed; the next migrate exits 5 and says how to settle it', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const files = {
      '1_t.up.sql': 'CREATE TABLE t (id int, email text);',
      '2_idx.up.sql': '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE INDEX CONCURRENTLY t_missing ON t (missing_column);\n',
    };
    const first = await runBerth(['migrate', '--dir', writeMigrations(files)], { env: env() });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('2_idx.up.sql:3:');
    expect(first.stderr).toContain('berth resolve 2 --applied');
    const row = await db().admin.query('SELECT status, statements_applied, statements_total FROM berth_migrations WHERE version = 2');
    expect(row.rows).toEqual([{ status: 'failed', statements_applied: 1, statements_total: 2 }]);

    const second = await runBerth(['migrate', '--dir', writeMigrations(files), '--log-format', 'json'], { env: env() });
    expect(second.code).toBe(5);
    expect(second.stderr).toContain('berth resolve 2 --applied');
    expect(second.stderr).toContain('--rolled-back');
    const summary = jsonLines(second.stderr).find((e) => e.event === 'run.summary');
    expect(summary).toMatchObject({ ok: false, exitCode: 5, code: 'ERR_VALIDATION_FAILED' });
  });

  it('transaction control in a transactional file is refused before anything runs', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations({
      '1_t.up.sql': 'CREATE TABLE t (id int);',
      '2_commit.up.sql': 'BEGIN;\nCREATE TABLE u (id int);\nCOMMIT;\nCREATE TABLE v (id int);\n',
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/2_commit\.up\.sql:1/);
    expect(result.stderr).toMatch(/2_commit\.up\.sql:3/);
    const exists = await db().admin.query("SELECT to_regclass('berth_migrations') AS h, to_regclass('t') AS t");
    expect(exists.rows[0]).toEqual({ h: null, t: null });
  });

  it('a migration that leaks SET search_path does not change where the next one runs', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA IF EXISTS other CASCADE; CREATE SCHEMA other');
    const dir = writeMigrations({
      '1_leak.up.sql': 'SET search_path = other;\nCREATE TABLE in_other (id int);',
      '2_next.up.sql': 'CREATE TABLE in_default (id int);',
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    const where = await db().admin.query("SELECT to_regclass('other.in_other') AS a, to_regclass('public.in_default') AS b, to_regclass('public.berth_migrations') AS h");
    expect(where.rows[0]).toEqual({ a: 'other.in_other', b: 'in_default', h: 'berth_migrations' });
  });

  it('--single-transaction rolls every migration back when one fails', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations({
      '1_a.up.sql': 'CREATE TABLE a (id int);',
      '2_b.up.sql': 'CREATE TABLE b (id int);',
      '3_c.up.sql': 'SELECT 1/0;',
    });
    const result = await runBerth(['migrate', '--dir', dir, '--single-transaction'], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('3_c.up.sql:1:1');
    const objects = await db().admin.query("SELECT to_regclass('a') AS a, to_regclass('b') AS b");
    expect(objects.rows[0]).toEqual({ a: null, b: null });
    const rows = await db().admin.query('SELECT count(*)::int AS n FROM berth_migrations');
    expect(rows.rows[0]).toEqual({ n: 0 });
  });
});
