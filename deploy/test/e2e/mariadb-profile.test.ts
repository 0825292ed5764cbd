/**
 * The `mariadb` profile of deploy/compose/compose.yaml end to end, against the tests' MariaDB
 * (127.0.0.1:3306, or BERTH_TEST_MYSQL_URL), started as the processes the Compose file declares:
 * scripts/system/compose-to-processes.mjs reads the profile (and leaves it out unless asked for),
 * the mariadb service's init script creates the database and its owner, three inventory-migrate
 * replicas at once apply examples/mariadb/migrations as the owner, then `berth status` and a second
 * run find nothing to do.
 *
 * Database and account names are random (accounts are server-wide and test files run in parallel);
 * the init script takes them as INVENTORY_DB and INVENTORY_OWNER, the secret files carry them, and
 * both are dropped afterwards. Where no MariaDB answers, the server tests are skipped with one line
 * saying why (in CI they must run: mysqlServer() throws there).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, jsonLines, makeTempDir, spawnNode, type RunResult } from '../../../packages/berth/test/helpers/cli.js';
import { adminQuery, mysqlServer } from '../../../packages/berth/test/helpers/mysql.js';
import {
  hostKey,
  initProcesses,
  nameSettings,
  readSystem,
  serviceProcess,
  writeSecrets,
  type LocalProcess,
  type MariadbNames,
} from '../../../scripts/system/compose-to-processes.mjs';

const server = await mysqlServer();
const system = readSystem({ profiles: ['mariadb'] });
const MIGRATOR = 'inventory-migrate';
const MIGRATIONS = path.join(REPO_ROOT, 'examples/mariadb/migrations');
const INIT_SCRIPT = path.join(REPO_ROOT, 'deploy/initdb/mariadb/01-database-and-owner.sh');
const REPLICAS = 3;

const id = randomBytes(4).toString('hex');
const names: MariadbNames = { inventory: { db: `berth_t_e2e_inv_${id}`, owner: `berth_t_${id}_io` } };
const { db, owner } = names.inventory;

/** What the owner's account may do on its database: berth's history and the example's DDL. */
const OWNER_PRIVILEGES = ['ALTER', 'CREATE', 'DELETE', 'DROP', 'INDEX', 'INSERT', 'REFERENCES', 'SELECT', 'UPDATE'];

/** `host:port` of the test server: what the secret file's URL points at instead of `mariadb:3306`. */
function serverHost(): string {
  const url = new URL(server!.adminUrl);
  return `${url.hostname}:${url.port || '3306'}`;
}

function run(spec: LocalProcess, args = spec.args): Promise<RunResult> {
  expect(spec.command).toBe(process.execPath);
  return spawnNode(args, { cwd: spec.cwd, env: spec.env }).exited;
}

/** The init script as the image runs it (bash, the service's environment), against the test server. */
async function runInit(secretsDir: string): Promise<{ code: number | null; output: string }> {
  const [init, ...more] = initProcesses(system, { database: 'mariadb', secretsDir, adminUrl: server!.adminUrl, env: nameSettings(names) });
  expect(more).toEqual([]);
  return new Promise((resolve, reject) => {
    const child = spawn(init!.command, init!.args, { cwd: init!.cwd, env: init!.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Runs one statement as the owner, with the URL of the secret file the migrator reads. */
async function asOwner(secretsDir: string, sql: string): Promise<unknown> {
  const connection = await mysql.createConnection({ uri: readFileSync(path.join(secretsDir, 'inventory_owner_url'), 'utf8').trim() });
  try {
    return (await connection.query(sql))[0];
  } finally {
    await connection.end();
  }
}

const inDb = <R>(sql: string, values: unknown[] = []) => adminQuery<R>(server!, sql, [db, ...values]);

describe('compose-to-processes reads the mariadb profile only when asked', () => {
  it('leaves the profile out by default, as `docker compose up` does', () => {
    const plain = readSystem();
    expect(plain.profiles).toEqual([]);
    expect(Object.keys(plain.services).sort()).toEqual(['orders', 'orders-migrate', 'postgres', 'users', 'users-migrate']);
    expect(plain.mariadb).toBeUndefined();
    expect(plain.migrators.map((m) => m.name)).toEqual(['users-migrate', 'orders-migrate']);
    expect(() => serviceProcess(plain, MIGRATOR, { secretsDir: makeTempDir() })).toThrow(/no service inventory-migrate/);
    expect(() => initProcesses(plain, { database: 'mariadb', secretsDir: makeTempDir(), adminUrl: 'mysql://root@127.0.0.1:3306/' })).toThrow(/no mariadb service/);
  });

  it('with the profile: the MariaDB service and its init script, a migrator with no app, the same apps', () => {
    expect(system.mariadb).toEqual({ name: 'mariadb', initScripts: [INIT_SCRIPT] });
    expect(system.postgres.name).toBe('postgres');
    expect(system.migrators).toEqual([
      { name: 'users-migrate', app: 'users' },
      { name: 'orders-migrate', app: 'orders' },
      { name: MIGRATOR, app: undefined },
    ]);
    expect(system.apps.map((a) => a.name)).toEqual(['users', 'orders']);
  });

  it('maps the migrator command, its secret and the mariadb:3306 host to local ones', () => {
    const dir = makeTempDir('berth-e2e-mariadb-map-', 0o700);
    const { mariadbNames } = writeSecrets(dir, { host: '127.0.0.1:5432', mariadb: { host: '127.0.0.1:3306' } });
    expect(mariadbNames).toEqual({ inventory: { db: 'inventory', owner: 'inventory_owner' } });
    const read = (file: string) => readFileSync(path.join(dir, file), 'utf8');
    expect(read('inventory_owner_url')).toBe(`mysql://inventory_owner:${read('inventory_owner_password').trim()}@127.0.0.1:3306/inventory\n`);

    const migrator = serviceProcess(system, MIGRATOR, { secretsDir: dir });
    expect(migrator.args).toEqual([
      path.join(REPO_ROOT, 'packages/berth/bin/berth.js'),
      'migrate', '--wait', '60s', '--lock-timeout', '5m', '--dir', MIGRATIONS,
    ]);
    expect(migrator.env).toMatchObject({ DATABASE_URL_FILE: path.join(dir, 'inventory_owner_url'), BERTH_LOG_FORMAT: 'json' });

    // The image's root password file is for its own first start; locally the admin URL stands in.
    const [init] = initProcesses(system, { database: 'mariadb', secretsDir: dir, adminUrl: 'mysql://admin:s%40cret@db.example:3307/' });
    expect(init!.args).toEqual([INIT_SCRIPT]);
    expect(init!.env).toMatchObject({
      INVENTORY_OWNER_PASSWORD_FILE: path.join(dir, 'inventory_owner_password'),
      MYSQL_HOST: 'db.example',
      MYSQL_TCP_PORT: '3307',
      MARIADB_ADMIN_USER: 'admin',
      MARIADB_ROOT_PASSWORD: 's@cret',
    });
    expect(init!.env).not.toHaveProperty('MARIADB_ROOT_PASSWORD_FILE');
    expect(hostKey('mariadb', 3306)).toBe('mariadb:3306');
  });

  it('refuses a service of the default system that needs a profile not asked for, as Compose does', () => {
    const file = path.join(makeTempDir('berth-e2e-profiles-'), 'compose.yaml');
    writeFileSync(file, [
      'services:',
      '  postgres: { image: "postgres:17" }',
      '  cache: { image: "mariadb:10.11", profiles: ["extra"] }',
      '  app: { build: { context: . }, depends_on: [cache] }',
      '',
    ].join('\n'));
    expect(() => readSystem({ file })).toThrow(/app depends on cache, which is only in profile extra, not asked for/);
    expect(readSystem({ file, profiles: ['extra'] }).mariadb?.name).toBe('cache');
  });
});

describe.skipIf(!server)('the mariadb profile as the processes compose.yaml declares', () => {
  let secretsDir = '';
  let initialized = false;

  beforeAll(async () => {
    if (spawnSync('mariadb', ['--version']).status !== 0) {
      throw new Error('the mariadb client is not installed; the init script needs it (Debian: mariadb-client)');
    }
    secretsDir = makeTempDir('berth-e2e-mariadb-secrets-', 0o700);
    writeSecrets(secretsDir, { host: hostKey('postgres', 5432), mariadb: { host: serverHost(), names } });
    initialized = true;
    const init = await runInit(secretsDir);
    expect(init.code, init.output).toBe(0);
    expect(init.output).toContain(`database ${db} ready (owner ${owner})`);
  });

  afterAll(async () => {
    if (!initialized) return;
    await adminQuery(server!, `DROP DATABASE IF EXISTS \`${db}\``);
    await adminQuery(server!, "DROP USER IF EXISTS ?@'%'", [owner]);
  });

  it('the init script makes the database and an owner with only the privileges berth and the migrations need', async () => {
    const schemata = await inDb<{ cs: string; co: string }>(
      'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?');
    expect(schemata).toEqual([{ cs: 'utf8mb4', co: 'utf8mb4_unicode_ci' }]);
    const grants = (await adminQuery<Record<string, string>>(server!, "SHOW GRANTS FOR ?@'%'", [owner])).map((row) => Object.values(row)[0]!);
    expect(grants).toHaveLength(2);
    expect(grants[0]).toMatch(new RegExp(`^GRANT USAGE ON \\*\\.\\* TO \`${owner}\`@\`%\``));
    const onDb = /^GRANT (.+) ON `(.+)`\.\* TO /.exec(grants[1]!);
    expect(onDb?.[2]).toBe(db.replaceAll('_', '\\_'));
    expect(onDb?.[1]!.split(', ').sort()).toEqual(OWNER_PRIVILEGES);

    // Nothing beyond its database: no other database, no server-wide tables.
    await expect(asOwner(secretsDir, `CREATE DATABASE \`${db}_x\``)).rejects.toMatchObject({ code: 'ER_DBACCESS_DENIED_ERROR' });
    await expect(asOwner(secretsDir, 'SELECT COUNT(*) FROM mysql.user')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });

    // A second run (a restarted container, or by hand) changes nothing and fails on nothing.
    const again = await runInit(secretsDir);
    expect(again.code, again.output).toBe(0);
    expect((await adminQuery<Record<string, string>>(server!, "SHOW GRANTS FOR ?@'%'", [owner])).map((row) => Object.values(row)[0])).toEqual(grants);
  });

  it('three inventory-migrate replicas at once: all exit 0 and each migration is applied once', async () => {
    const spec = serviceProcess(system, MIGRATOR, { secretsDir });
    const results = await Promise.all(Array.from({ length: REPLICAS }, () => run(spec)));
    for (const result of results) expect(result.code, `${result.stderr}\n${result.stdout}`).toBe(0);

    const logs = results.map((r) => jsonLines(r.stdout + r.stderr));
    // One replica applied everything under GET_LOCK; the others found the schema current.
    const appliedPerReplica = logs.map((lines) => lines.filter((l) => l.event === 'migration.applied').length).sort((a, b) => a - b);
    expect(appliedPerReplica).toEqual([0, 0, 4]);
    for (const lines of logs) expect(lines.find((l) => l.event === 'run.summary')).toMatchObject({ ok: true, current: 4, pending: 0 });

    // No transactional DDL: each migration ran statement by statement, counted in its history row.
    const history = await inDb<{ version: string; status: string; applied: number; total: number; by: string }>(
      'SELECT version, status, statements_applied AS applied, statements_total AS total, applied_by AS `by` FROM ??.berth_migrations ORDER BY version');
    expect(history.map((r) => [Number(r.version), r.status, r.applied, r.total, r.by])).toEqual([
      [1, 'applied', 1, 1, `${owner}@%`],
      [2, 'applied', 3, 3, `${owner}@%`],
      [3, 'applied', 2, 2, `${owner}@%`],
      [4, 'applied', 3, 3, `${owner}@%`],
    ]);
    // The seed ran once, and the backfill of 4 reached it.
    expect(await inDb('SELECT code, time_zone FROM ??.warehouses')).toEqual([{ code: 'MAIN', time_zone: 'UTC' }]);
  });

  it('the schema is the one the migrations describe (information_schema)', async () => {
    const tables = await inDb<{ t: string }>('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1');
    expect(tables.map((r) => r.t)).toEqual(['berth_migrations', 'products', 'stock_levels', 'warehouses']);

    const columns = await inDb<{ c: string; type: string; nullable: string; def: string | null }>(
      `SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS def
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'warehouses' ORDER BY ORDINAL_POSITION`);
    expect(columns.map((r) => [r.c, r.type, r.nullable, r.def])).toEqual([
      ['warehouses.id', 'int(10) unsigned', 'NO', null],
      ['warehouses.code', 'varchar(16)', 'NO', null],
      // ALTER TABLE ... MODIFY after the backfill: longer, and NOT NULL with a default.
      ['warehouses.name', 'varchar(200)', 'NO', null],
      ['warehouses.time_zone', 'varchar(64)', 'NO', "'UTC'"],
      ['warehouses.created_at', 'timestamp(3)', 'NO', 'current_timestamp(3)'],
    ]);
    const precise = await inDb<{ c: string }>(
      `SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) AS c FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> 'berth_migrations' AND DATA_TYPE = 'timestamp' AND DATETIME_PRECISION = 3 ORDER BY 1`);
    expect(precise.map((r) => r.c)).toEqual(['products.created_at', 'products.updated_at', 'stock_levels.updated_at', 'warehouses.created_at']);

    const unique = await inDb<{ k: string }>(
      "SELECT DISTINCT CONCAT(TABLE_NAME, '.', INDEX_NAME) AS k FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY' ORDER BY 1");
    expect(unique.map((r) => r.k)).toEqual(['products.uq_products_sku', 'warehouses.uq_warehouses_code']);

    const foreignKeys = await inDb<{ name: string; ref: string; onDelete: string }>(
      `SELECT CONSTRAINT_NAME AS name, REFERENCED_TABLE_NAME AS ref, DELETE_RULE AS onDelete
         FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? ORDER BY 1`);
    expect(foreignKeys).toEqual([
      { name: 'fk_stock_levels_product', ref: 'products', onDelete: 'RESTRICT' },
      { name: 'fk_stock_levels_warehouse', ref: 'warehouses', onDelete: 'CASCADE' },
    ]);
  });

  it('`berth status` with the migrator\'s environment exits 0, and a second run is a no-op', async () => {
    const spec = serviceProcess(system, MIGRATOR, { secretsDir });
    const dir = spec.args[spec.args.indexOf('--dir') + 1];
    expect(dir).toBe(MIGRATIONS);
    const status = await run(spec, [spec.args[0]!, 'status', '--dir', dir!]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/current version: 4; 0 pending/);
    expect(jsonLines(status.stderr).find((l) => l.event === 'run.summary')).toMatchObject({ command: 'status', ok: true, current: 4, pending: 0, failed: 0 });

    const before = await inDb('SELECT * FROM ??.berth_migrations ORDER BY version');
    const again = await run(spec);
    expect(again.code, again.stderr).toBe(0);
    expect(jsonLines(again.stderr).find((l) => l.event === 'run.summary')).toMatchObject({ command: 'migrate', ok: true, applied: 0, current: 4 });
    expect(await inDb('SELECT * FROM ??.berth_migrations ORDER BY version')).toEqual(before);
    expect(await inDb('SELECT COUNT(*) AS n FROM ??.warehouses')).toEqual([{ n: 1 }]);
  });
});
