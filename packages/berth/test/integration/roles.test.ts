/**
 * A migration that switches role (SET ROLE app_owner, the owner-role pattern) or session user
 * changes neither the next migration nor berth's own statements (SPEC §4.2): each migration starts
 * as the connecting user, and history, progress and lock checks always run as it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runBerth, writeMigrations } from '../helpers/cli.js';
import { query, useTestDatabase } from '../helpers/db.js';

describe('a migration that switches role', () => {
  const db = useTestDatabase('roles');
  const suffix = randomBytes(4).toString('hex');
  // Roles belong to the cluster: random names keep parallel runs apart.
  const login = `berth_t_login_${suffix}`;
  const owner = `berth_t_owner_${suffix}`;
  // Used where the server checks passwords (the embedded one the harness starts), ignored by trust.
  const password = randomBytes(9).toString('hex');
  const url = () => {
    const u = new URL(db().url);
    u.username = login;
    u.password = password;
    return u.toString();
  };

  // The tests run in order on one database, each adding files to the same directory's history.
  const threeFiles = () => ({
      '1_first.up.sql': 'CREATE TABLE first_t (id int);',
      '2_owner.up.sql': `SET ROLE ${owner};\nCREATE TABLE owned_t (id int);`,
      '3_third.up.sql': 'CREATE TABLE third_t (id int);',
  });
  const noTransactionFiles = () => ({
      '4_concurrently.up.sql': `-- berth:no-transaction\nSET ROLE ${owner};\nCREATE INDEX CONCURRENTLY owned_t_id ON owned_t (id);\nCREATE TABLE fourth_t (id int);\n`,
      '5_fifth.up.sql': 'CREATE TABLE fifth_t (id int);',
  });

  beforeAll(async () => {
    await query(db().adminUrl, `CREATE ROLE ${owner} NOLOGIN; CREATE ROLE ${login} LOGIN PASSWORD '${password}'; GRANT ${owner} TO ${login}`);
    // The owner role may create objects, and has no privilege at all on berth's history table.
    await db().admin.query(`GRANT ALL ON SCHEMA public TO ${owner}, ${login}; GRANT CREATE ON DATABASE ${db().name} TO ${login}`);
  });

  afterAll(async () => {
    await db().drop();
    await query(db().adminUrl, `DROP ROLE IF EXISTS ${login}; DROP ROLE IF EXISTS ${owner}`);
  });

  async function owners(): Promise<Record<string, string>> {
    const { rows } = await db().admin.query<{ t: string; o: string }>(
      "SELECT c.relname AS t, pg_get_userbyid(c.relowner) AS o FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i') ORDER BY 1");
    return Object.fromEntries(rows.map((r) => [r.t, r.o]));
  }

  async function appliedBy(): Promise<Record<string, string>> {
    const { rows } = await db().admin.query<{ version: string; applied_by: string; status: string }>('SELECT version, applied_by, status FROM berth_migrations ORDER BY version');
    return Object.fromEntries(rows.map((r) => [r.version, `${r.status} by ${r.applied_by}`]));
  }

  it('SET ROLE in migration 2 of 3: its objects are the owner\'s, migration 3 and every history row are the connecting user\'s', async () => {
    const dir = writeMigrations(threeFiles());
    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: url() } });
    expect(result.code, result.stderr).toBe(0);
    expect(await owners()).toMatchObject({ first_t: login, owned_t: owner, third_t: login, berth_migrations: login });
    expect(await appliedBy()).toEqual({ 1: `applied by ${login}`, 2: `applied by ${login}`, 3: `applied by ${login}` });
  });

  it('the same in a no-transaction file: the file keeps its role to the end, berth records its progress as itself, the next file starts as the connecting user', async () => {
    const dir = writeMigrations({ ...threeFiles(), ...noTransactionFiles() });
    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: url() } });
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stderr).find((e) => e.event === 'run.summary')).toMatchObject({ applied: 2, current: 5 });
    expect(await owners()).toMatchObject({ owned_t_id: owner, fourth_t: owner, fifth_t: login });
    expect(await appliedBy()).toMatchObject({ 4: `applied by ${login}`, 5: `applied by ${login}` });
    const row = await db().admin.query('SELECT statements_applied, statements_total FROM berth_migrations WHERE version = 4');
    expect(row.rows).toEqual([{ statements_applied: 3, statements_total: 3 }]);
  });

  it('a code migration that switches role: its history row is written as the connecting user', async () => {
    const dir = writeMigrations({
      ...threeFiles(),
      ...noTransactionFiles(),
      '6_code.ts': `export async function up(ctx: { sql(text: string): Promise<unknown[]> }) {\n  await ctx.sql('SET ROLE ${owner}');\n  await ctx.sql('CREATE TABLE code_t (id int)');\n}\n`,
      '7_after_code.up.sql': 'CREATE TABLE after_code_t (id int);',
    });
    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: url() } });
    expect(result.code, result.stderr).toBe(0);
    expect(await owners()).toMatchObject({ code_t: owner, after_code_t: login });
    expect(await appliedBy()).toMatchObject({ 6: `applied by ${login}`, 7: `applied by ${login}` });
  });

  it('SET SESSION AUTHORIZATION (a superuser runner) does not carry into the next migration either', async () => {
    await db().admin.query('CREATE SCHEMA superuser_run');
    const dir = writeMigrations({
      '1_as_login.up.sql': `SET SESSION AUTHORIZATION ${login};\nCREATE TABLE superuser_run.by_login (id int);`,
      '2_next.up.sql': 'CREATE TABLE superuser_run.next_t (id int);',
    });
    await db().admin.query(`GRANT ALL ON SCHEMA superuser_run TO ${login}`);
    const result = await runBerth(['migrate', '--dir', dir, '--schema', 'superuser_run', '--log-format', 'json'], { env: { DATABASE_URL: db().url } });
    expect(result.code, result.stderr).toBe(0);
    const { rows } = await db().admin.query<{ t: string; o: string }>(
      "SELECT c.relname AS t, pg_get_userbyid(c.relowner) AS o FROM pg_class c WHERE c.relnamespace = 'superuser_run'::regnamespace AND c.relkind = 'r' ORDER BY 1");
    const admin = new URL(db().adminUrl).username || 'postgres';
    expect(Object.fromEntries(rows.map((r) => [r.t, r.o]))).toEqual({ berth_migrations: admin, by_login: login, next_t: admin });
    const history = await db().admin.query<{ applied_by: string }>('SELECT DISTINCT applied_by FROM superuser_run.berth_migrations');
    expect(history.rows).toEqual([{ applied_by: admin }]);
  });
});
