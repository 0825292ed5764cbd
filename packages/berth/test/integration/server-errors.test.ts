/**
 * Every error the server raises is classified (docs/errors.md, "SQLSTATE classes"): a migration's
 * statement that fails is exit 1 with file, line and column, also when PostgreSQL rejects the whole
 * message at parse time; a failure of berth's own statements is the exit of its family, never 70.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonLines, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase, withDatabase } from '../helpers/db.js';

const summaryOf = (stderr: string) => jsonLines(stderr).find((e) => e.event === 'run.summary');

describe('server errors are classified', () => {
  const db = useTestDatabase('server_errors');
  const env = () => ({ DATABASE_URL: db().url });
  const reset = () => db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  const versions = async () => (await db().admin.query<{ version: string }>('SELECT version FROM berth_migrations ORDER BY version')).rows.map((r) => Number(r.version));

  // A role of this file's own: roles are global to the server, so the name is random.
  const role = `berth_t_low_${randomBytes(4).toString('hex')}`;
  // Used where the server checks passwords (the embedded one the harness starts), ignored by trust.
  const rolePassword = randomBytes(9).toString('hex');
  afterAll(async () => {
    await db().admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await db().admin.query(`DROP ROLE IF EXISTS ${role}`);
  });
  const lowPrivilegeUrl = () => {
    const url = new URL(db().url);
    url.username = role;
    url.password = rolePassword;
    return url.toString();
  };

  it('a syntax error in an up file: exit 1 with file, line and column; nothing of the run after it applied', async () => {
    await reset();
    const dir = writeMigrations({
      '1_ok.up.sql': 'CREATE TABLE ok (id int);',
      '2_typo.up.sql': '-- a typo on line 4\nCREATE TABLE typo (\n  id int,\n  name text NOT NUL\n);\nCREATE TABLE typo_after (id int);\n',
      '3_later.up.sql': 'CREATE TABLE later (id int);',
    });
    const result = await runBerth(['migrate', '--dir', dir, '--lint', 'off'], { env: env() });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('2_typo.up.sql:4:17');
    expect(result.stderr).toContain('syntax error at or near \\"NUL\\"');
    expect(result.stderr).not.toContain('internal error');
    expect(summaryOf(result.stderr)).toMatchObject({ exitCode: 1, code: 'ERR_MIGRATION_FAILED' });
    expect(await versions()).toEqual([1]);
    expect((await db().admin.query("SELECT to_regclass('typo') AS a, to_regclass('later') AS b")).rows[0]).toEqual({ a: null, b: null });
  });

  it('an unterminated string is refused before anything runs (exit 5), naming where it starts', async () => {
    await reset();
    const dir = writeMigrations({
      '1_ok.up.sql': 'CREATE TABLE ok (id int);',
      '2_quote.up.sql': "CREATE TABLE q (note text);\nINSERT INTO q VALUES ('unterminated);\n",
    });
    const result = await runBerth(['migrate', '--dir', dir, '--lint', 'off'], { env: env() });
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toContain('2_quote.up.sql:2: unterminated quoted string starting at line 2, column 23');
    expect((await db().admin.query("SELECT to_regclass('berth_migrations') AS h, to_regclass('ok') AS ok")).rows[0]).toEqual({ h: null, ok: null });
  });

  it('a syntax error in a down file: exit 1 with file, line and column; the migration stays applied', async () => {
    await reset();
    const dir = writeMigrations({
      '1_t.up.sql': 'CREATE TABLE t (id int);',
      '1_t.down.sql': 'DROP TABEL t;\n',
    });
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(0);
    const result = await runBerth(['down', '--steps', '1', '--dir', dir], { env: env() });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('1_t.down.sql:1:6');
    expect(result.stderr).toContain('rollback of migration 1');
    expect(await versions()).toEqual([1]);
    expect((await db().admin.query("SELECT to_regclass('t') AS t")).rows[0]).toEqual({ t: 't' });
  });

  it('the same syntax error on PGlite gives the same exit and location', async () => {
    const dir = writeMigrations({ '1_typo.up.sql': 'CREATE TABLE typo (\n  name text NOT NUL\n);\n' });
    const result = await runBerth(['migrate', '-d', 'pglite://memory', '--dir', dir, '--lint', 'off'], { env: {} });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('1_typo.up.sql:2:17');
  });

  it('no CREATE on the schema of the history table: exit 6 naming the privilege and the GRANT', async () => {
    await reset();
    await db().admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${rolePassword}'`);
    await db().admin.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO ${role}`);
    const dir = writeMigrations({ '1_t.up.sql': 'CREATE TABLE t (id int);' });
    const result = await runBerth(['migrate', '--dir', dir], { env: { DATABASE_URL: lowPrivilegeUrl() } });
    expect(result.code, result.stderr).toBe(6);
    expect(summaryOf(result.stderr)).toMatchObject({ exitCode: 6, code: 'ERR_DB_PRIVILEGE' });
    expect(result.stderr).toContain('permission denied for schema public');
    expect(result.stderr).toContain(`GRANT CREATE ON SCHEMA public TO ${role}`);
    expect((await db().admin.query("SELECT to_regclass('berth_migrations') AS h")).rows[0]).toEqual({ h: null });
  });

  it('CREATE on an existing schema is enough: berth does not need CREATE on the database', async () => {
    await reset();
    await db().admin.query(`REVOKE CREATE ON DATABASE ${db().name} FROM PUBLIC; GRANT USAGE, CREATE ON SCHEMA public TO ${role}`);
    const dir = writeMigrations({ '1_t.up.sql': 'CREATE TABLE t (id int);' });
    const result = await runBerth(['migrate', '--dir', dir], { env: { DATABASE_URL: lowPrivilegeUrl() } });
    expect(result.code, result.stderr).toBe(0);
    expect(await versions()).toEqual([1]);
  });

  it('no SELECT on the history table: exit 6 naming the table and the GRANT', async () => {
    await reset();
    const dir = writeMigrations({ '1_t.up.sql': 'CREATE TABLE t (id int);' });
    expect((await runBerth(['migrate', '--dir', dir], { env: env() })).code).toBe(0);
    await db().admin.query(`GRANT USAGE ON SCHEMA public TO ${role}; REVOKE ALL ON berth_migrations FROM ${role}`);
    for (const command of [['migrate'], ['status'], ['check']]) {
      const result = await runBerth([...command, '--dir', dir], { env: { DATABASE_URL: lowPrivilegeUrl() } });
      expect(result.code, `${command[0]}: ${result.stderr}`).toBe(6);
      expect(result.stderr).toContain('permission denied for table berth_migrations');
      expect(result.stderr).toContain(`GRANT SELECT ON public.berth_migrations TO ${role}`);
    }
  });

  it("a privilege a migration's own statement lacks is that migration's failure: exit 1 with its line", async () => {
    await reset();
    await db().admin.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${role}; CREATE TABLE owned_by_admin (id int)`);
    const dir = writeMigrations({ '1_alter.up.sql': 'CREATE TABLE mine (id int);\nALTER TABLE owned_by_admin ADD COLUMN x int;\n' });
    const result = await runBerth(['migrate', '--dir', dir], { env: { DATABASE_URL: lowPrivilegeUrl() } });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('1_alter.up.sql:2:1');
    expect(result.stderr).toContain('must be owner of table owned_by_admin');
  });

  it('berth cannot write its history because the session turned read-only: exit 6 (read-only), not 70', async () => {
    await reset();
    const dir = writeMigrations({
      '1_ro.up.sql': '-- berth:no-transaction\nSET default_transaction_read_only = on;\nSELECT 1;\n',
    });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code, result.stderr).toBe(6);
    expect(summaryOf(result.stderr)).toMatchObject({ code: 'ERR_DB_READ_ONLY' });
    expect(result.stderr).toContain('read-only');
  });

  it("berth's own statement blocked past lock_timeout: exit 4 (retry), the row left started with what ran", async () => {
    await reset();
    const dir = writeMigrations({
      '1_slow.up.sql': "-- berth:no-transaction\nSET lock_timeout = '300ms';\nSELECT pg_sleep(2);\nSELECT 1;\n",
    });
    const run = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: env() });
    const blocker = await db().admin.connect();
    try {
      // Once the first statement is recorded, pg_sleep runs: lock the history table meanwhile.
      for (let i = 0; i < 400; i++) {
        const table = await db().admin.query("SELECT 1 FROM pg_tables WHERE tablename = 'berth_migrations'");
        if (table.rowCount && (await db().admin.query('SELECT 1 FROM berth_migrations WHERE statements_applied = 1')).rowCount) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await blocker.query('BEGIN; LOCK TABLE berth_migrations IN ACCESS EXCLUSIVE MODE');
      const result = await run.exited;
      expect(result.code, result.stderr).toBe(4);
      expect(summaryOf(result.stderr)).toMatchObject({ code: 'ERR_DB_CONFLICT' });
      expect(result.stderr).toContain('write its history table public.berth_migrations');
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }
    const row = await db().admin.query('SELECT status, statements_applied FROM berth_migrations');
    expect(row.rows).toEqual([{ status: 'started', statements_applied: 1 }]);
  });

  it('the next run after that says what to settle (exit 5)', async () => {
    // Follows from the previous test: its `started` row stops the next run.
    const dir = writeMigrations({ '1_slow.up.sql': "-- berth:no-transaction\nSET lock_timeout = '300ms';\nSELECT pg_sleep(2);\nSELECT 1;\n" });
    const result = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toContain('berth resolve 1');
  });

  it('a URL to another database of the same server is classified as a missing database (exit 6)', async () => {
    const result = await runBerth(['migrate', '--dir', writeMigrations({ '1_t.up.sql': 'SELECT 1;' })], {
      env: { DATABASE_URL: withDatabase(db().url, `${db().name}_missing`) },
    });
    expect(result.code, result.stderr).toBe(6);
    expect(summaryOf(result.stderr)).toMatchObject({ code: 'ERR_DB_NOT_FOUND' });
  });
});

describe('redaction is structural', () => {
  const db = useTestDatabase('redaction');

  it('with the password "postgres", the target and the messages stay readable and the password is masked where it stands', async () => {
    const url = new URL(db().url);
    url.password = url.password || 'postgres'; // the embedded server's own, or a trust server's ignored one
    const password = decodeURIComponent(url.password);
    const dir = writeMigrations({ '1_t.up.sql': 'CREATE TABLE t (id int);' });
    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'pretty'], { env: { DATABASE_URL: url.toString() } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`connected to postgres://${url.username}:****@${url.hostname}:${url.port || 5432}/${db().name} (PostgreSQL`);
    expect(result.stderr).toContain('acquired the migration lock on public.berth_migrations');
    expect(result.stderr).not.toContain(`:${password}@`);
    expect(result.stderr).not.toMatch(/\*\*\*\*:\/\//);
  });
});
