/**
 * deploy/initdb/01-roles-and-databases.sh against a real server: the script runs with bash and psql
 * as the official postgres image runs it (superuser, ON_ERROR_STOP), the owner role migrates with the
 * real `berth migrate`, and the app role is held to rows: SELECT/INSERT/UPDATE/DELETE (sequences
 * included) on a table created after the script ran, SELECT on berth_migrations, and no DDL at all.
 *
 * Role and database names are random: roles are cluster-wide and test files run in parallel.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, makeTempDir, runBerth, writeMigrations } from '../../../packages/berth/test/helpers/cli.js';
import { pgAdminUrl, testRunId } from '../../../packages/berth/test/helpers/context.js';
import { connect, query, withDatabase } from '../../../packages/berth/test/helpers/db.js';
import { testDatabaseComment } from '../../../packages/berth/test/helpers/pg-server.js';

const SCRIPT = path.join(REPO_ROOT, 'deploy/initdb/01-roles-and-databases.sh');
/** SQLSTATE insufficient_privilege: "permission denied ..." and "must be owner of ...". */
const INSUFFICIENT_PRIVILEGE = '42501';

interface Names {
  db: string;
  owner: string;
  app: string;
  ownerPassword: string;
  appPassword: string;
}

const id = randomBytes(4).toString('hex');
/** Passwords with characters that break naive quoting (SQL, shell, URL). */
const password = (tag: string) => `${tag}'"\\$x;%:@/ ${randomBytes(6).toString('hex')}`;
const users: Names = { db: `berth_t_initdb_users_${id}`, owner: `berth_t_${id}_uo`, app: `berth_t_${id}_ua`, ownerPassword: password('uo'), appPassword: password('ua') };
const orders: Names = { db: `berth_t_initdb_orders_${id}`, owner: `berth_t_${id}_oo`, app: `berth_t_${id}_oa`, ownerPassword: password('oo'), appPassword: password('oa') };

/** The migrations the owner applies after the script: a table with a sequence, created later. */
const MIGRATIONS = {
  '1_items.up.sql': 'CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL);',
  '2_tags.up.sql': 'CREATE TABLE tags (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, item_id bigint REFERENCES items (id));',
};

/** The script's environment: the admin connection as libpq variables, and the contract's settings. */
function scriptEnv(secretsDir: string): NodeJS.ProcessEnv {
  const admin = new URL(pgAdminUrl());
  // One password through _FILE, like a mounted secret (with a trailing newline, as editors leave it).
  const ownerPasswordFile = path.join(secretsDir, 'users_owner_password');
  writeFileSync(ownerPasswordFile, `${users.ownerPassword}\n`, { mode: 0o600 });
  return {
    PATH: process.env.PATH,
    PGHOST: admin.hostname,
    PGPORT: admin.port || '5432',
    ...(admin.password && { PGPASSWORD: decodeURIComponent(admin.password) }),
    POSTGRES_USER: decodeURIComponent(admin.username) || 'postgres',
    POSTGRES_DB: decodeURIComponent(admin.pathname.slice(1)) || 'postgres',
    USERS_DB: users.db,
    USERS_OWNER: users.owner,
    USERS_APP: users.app,
    USERS_OWNER_PASSWORD_FILE: ownerPasswordFile,
    USERS_APP_PASSWORD: users.appPassword,
    ORDERS_DB: orders.db,
    ORDERS_OWNER: orders.owner,
    ORDERS_APP: orders.app,
    ORDERS_OWNER_PASSWORD: orders.ownerPassword,
    ORDERS_APP_PASSWORD: orders.appPassword,
  };
}

function runScript(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** URL of `names.db` as `user` with `pass`, from the admin URL's host and port. */
function roleUrl(names: Names, user: string, pass: string): string {
  const url = new URL(withDatabase(pgAdminUrl(), names.db));
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(pass);
  return url.toString();
}

async function expectDenied(client: pg.Client, sql: string): Promise<void> {
  await expect(client.query(sql), sql).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
}

describe('deploy/initdb/01-roles-and-databases.sh', () => {
  let superuser = false;
  let first: Awaited<ReturnType<typeof runScript>> | undefined;

  beforeAll(async () => {
    if (spawnSync('psql', ['--version']).status !== 0) throw new Error('psql is not installed; the init script test needs the PostgreSQL client (Debian: postgresql-client)');
    const { rows } = await query<{ rolsuper: boolean }>(pgAdminUrl(), 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    superuser = rows[0]?.rolsuper === true;
    if (!superuser) return;
    const env = scriptEnv(makeTempDir('berth-initdb-secrets-', 0o700));
    first = await runScript(env);
    // Tag the databases like the harness's own, so the global teardown sweeps them if afterAll cannot.
    for (const db of [users.db, orders.db]) {
      await query(pgAdminUrl(), `COMMENT ON DATABASE ${pg.escapeIdentifier(db)} IS ${pg.escapeLiteral(testDatabaseComment(testRunId()))}`).catch(() => undefined);
    }
    // The image runs it once; by hand it may run again. The second run must change nothing that matters.
    const second = await runScript(env);
    expect(second.code, second.stderr).toBe(0);
  });

  afterAll(async () => {
    if (!superuser) return;
    for (const db of [users.db, orders.db]) {
      await query(pgAdminUrl(), `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db)} WITH (FORCE)`);
    }
    for (const role of [users.owner, users.app, orders.owner, orders.app]) {
      await query(pgAdminUrl(), `DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    }
  });

  it('creates both databases, owned by their owner roles, and login roles without extra attributes', async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    expect(first?.code, first?.stderr).toBe(0);
    expect(first?.stdout).toContain(`database ${users.db} ready`);
    const { rows: dbs } = await query<{ datname: string; owner: string }>(
      pgAdminUrl(),
      'SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ANY($1) ORDER BY datname',
      [[users.db, orders.db]],
    );
    expect(dbs).toEqual(
      [
        { datname: orders.db, owner: orders.owner },
        { datname: users.db, owner: users.owner },
      ].sort((a, b) => a.datname.localeCompare(b.datname)),
    );
    const { rows: roles } = await query(
      pgAdminUrl(),
      `SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls
         FROM pg_roles WHERE rolname = ANY($1)`,
      [[users.owner, users.app, orders.owner, orders.app]],
    );
    expect(roles).toHaveLength(4);
    for (const role of roles) {
      expect(role).toMatchObject({ rolcanlogin: true, rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false });
    }
  });

  it('the owner migrates with berth; the app role reads and writes rows of the new tables and nothing more', async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    const dir = writeMigrations(MIGRATIONS);
    const migrate = await runBerth(['migrate', '--dir', dir], { env: { DATABASE_URL: roleUrl(users, users.owner, users.ownerPassword) } });
    expect(migrate.code, migrate.stderr).toBe(0);

    const app = await connect(roleUrl(users, users.app, users.appPassword));
    try {
      // Rows: all four verbs, sequences (bigserial, identity) included, on tables created after the script.
      const inserted = await app.query<{ id: string }>("INSERT INTO items (name) VALUES ('a'), ('b') RETURNING id");
      expect(inserted.rowCount).toBe(2);
      await app.query('INSERT INTO tags (item_id) VALUES ($1)', [inserted.rows[0]!.id]);
      expect((await app.query("UPDATE items SET name = 'c' WHERE name = 'b'")).rowCount).toBe(1);
      expect((await app.query('SELECT count(*)::int AS n FROM items')).rows[0]).toEqual({ n: 2 });
      expect((await app.query('DELETE FROM tags')).rowCount).toBe(1);
      expect((await app.query("DELETE FROM items WHERE name = 'c'")).rowCount).toBe(1);
      expect((await app.query("SELECT nextval('items_id_seq') > 0 AS ok")).rows[0]).toEqual({ ok: true });

      // /ready reads the history table.
      const history = await app.query<{ version: string; status: string }>('SELECT version, status FROM berth_migrations ORDER BY version');
      expect(history.rows.map((r) => [Number(r.version), r.status])).toEqual([[1, 'applied'], [2, 'applied']]);

      // No DDL of any kind.
      await expectDenied(app, 'DROP TABLE tags');
      await expectDenied(app, 'ALTER TABLE items ADD COLUMN extra text');
      await expectDenied(app, 'ALTER TABLE items RENAME TO things');
      await expectDenied(app, 'CREATE TABLE mine (id int)');
      await expectDenied(app, 'CREATE INDEX items_name_idx ON items (name)');
      await expectDenied(app, 'CREATE TEMP TABLE scratch (id int)');
      await expectDenied(app, 'CREATE SCHEMA mine');
      await expectDenied(app, 'TRUNCATE items');
      await expectDenied(app, 'DROP TABLE berth_migrations');
    } finally {
      await app.end();
    }
  });

  it("a service's roles cannot connect to the other service's database", async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    await expect(connect(roleUrl(orders, users.app, users.appPassword))).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
    await expect(connect(roleUrl(users, orders.owner, orders.ownerPassword))).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
    const own = await connect(roleUrl(orders, orders.app, orders.appPassword));
    await own.end();
  });

  it('refuses a bad name or a missing password before changing anything', async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    const env = scriptEnv(makeTempDir('berth-initdb-secrets-', 0o700));
    const badName = await runScript({ ...env, USERS_DB: 'Users; DROP DATABASE x' });
    expect(badName.code).not.toBe(0);
    expect(badName.stderr).toContain('USERS_DB must match');
    const noPassword = await runScript({ ...env, ORDERS_APP_PASSWORD: '' });
    expect(noPassword.code).not.toBe(0);
    expect(noPassword.stderr).toContain('ORDERS_APP_PASSWORD (or ORDERS_APP_PASSWORD_FILE) is required');
    const both = await runScript({ ...env, USERS_OWNER_PASSWORD: 'x' });
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('both USERS_OWNER_PASSWORD and USERS_OWNER_PASSWORD_FILE are set');
  });
});
