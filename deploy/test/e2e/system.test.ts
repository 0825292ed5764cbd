/**
 * The reference system end to end, against the harness's real PostgreSQL, started as the processes
 * deploy/compose/compose.yaml declares: scripts/system/compose-to-processes.mjs reads the file
 * (the same module `npm start` uses), so the commands, environments and secrets here are the
 * Compose file's, with container paths and host names mapped to local ones.
 *
 * The order of a deployment: the postgres service's init script (roles, databases), one instance of
 * each service before any migration (not ready), three migrator replicas per database at once, a
 * second instance of each service, then traffic, a users outage and a shutdown under load.
 *
 * Database and role names are random (roles are cluster-wide and test files run in parallel); the
 * init script takes them as USERS_DB, USERS_OWNER, ... and the secret files carry them. Test-only
 * environment on top of the Compose file's: HOST/PORT (many instances on one host) and
 * DEBUG_DELAY_ENDPOINT=true (the slow request).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { REPO_ROOT, jsonLines, makeTempDir, spawnNode, type SpawnedProcess } from '../../../packages/berth/test/helpers/cli.js';
import { pgAdminUrl, testRunId } from '../../../packages/berth/test/helpers/context.js';
import { query, withDatabase } from '../../../packages/berth/test/helpers/db.js';
import { testDatabaseComment } from '../../../packages/berth/test/helpers/pg-server.js';
import {
  hostKey,
  initProcesses,
  nameSettings,
  readSystem,
  serviceProcess,
  writeSecrets,
  type LocalProcess,
  type Names,
} from '../../../scripts/system/compose-to-processes.mjs';

const system = readSystem();
const REPLICAS = 3;
/** Time for a bundle to load and listen on a busy 2-core machine (ms). */
const LISTEN_TIMEOUT_MS = 30_000;

const id = randomBytes(4).toString('hex');
const names: Names = {
  users: { db: `berth_t_e2e_users_${id}`, owner: `berth_t_${id}_e2e_uo`, app: `berth_t_${id}_e2e_ua` },
  orders: { db: `berth_t_e2e_orders_${id}`, owner: `berth_t_${id}_e2e_oo`, app: `berth_t_${id}_e2e_oa` },
};

interface Instance {
  readonly name: string;
  readonly process: SpawnedProcess;
  readonly url: string;
}

/** `host:port` of the admin URL: what the secret files' URLs point at instead of `postgres:5432`. */
function pgHost(): string {
  const url = new URL(pgAdminUrl());
  return `${url.hostname}:${url.port || '5432'}`;
}

function spawnLocal(spec: LocalProcess): SpawnedProcess {
  expect(spec.command).toBe(process.execPath);
  return spawnNode(spec.args, { cwd: spec.cwd, env: spec.env });
}

function upMigrations(app: string): number[] {
  const dir = path.join(REPO_ROOT, 'services', app, 'migrations');
  return readdirSync(dir)
    .map((file) => /^(\d+)_.*\.up\.sql$/.exec(file)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  return { status: response.status, body: await response.json() };
}

const post = (url: string, body: unknown) =>
  getJson(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('the reference system as the processes compose.yaml declares', () => {
  let secretsDir = '';
  let superuser = false;
  /** Compose service name -> running instances, in start order. */
  const instances: Record<'users' | 'orders', Instance[]> = { users: [], orders: [] };

  /** Starts one instance of a service on a free port; orders calls the first users instance. */
  async function startInstance(name: 'users' | 'orders'): Promise<Instance> {
    const hosts: Record<string, string> = {};
    const users = instances.users[0];
    if (users) hosts[hostKey('users', system.services.users.environment.PORT)] = new URL(users.url).host;
    const spec = serviceProcess(system, name, {
      secretsDir,
      hosts,
      listen: { host: '127.0.0.1', port: 0 },
      env: { DEBUG_DELAY_ENDPOINT: 'true' },
    });
    const child = spawnLocal(spec);
    const [, url] = await child.waitForOutput(/"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/, LISTEN_TIMEOUT_MS, 'stdout');
    const instance = { name: `${name}#${instances[name].length + 1}`, process: child, url: url! };
    instances[name].push(instance);
    return instance;
  }

  beforeAll(async () => {
    if (spawnSync('psql', ['--version']).status !== 0) {
      throw new Error('psql is not installed; the init script needs the PostgreSQL client (Debian: postgresql-client)');
    }
    const { rows } = await query<{ rolsuper: boolean }>(pgAdminUrl(), 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    superuser = rows[0]?.rolsuper === true;
    if (!superuser) return;

    secretsDir = makeTempDir('berth-e2e-secrets-', 0o700);
    writeSecrets(secretsDir, { host: pgHost(), names });
    // The postgres service's init scripts, with the Compose file's environment (the role passwords
    // as /run/secrets files) and this test's names.
    for (const init of initProcesses(system, { secretsDir, adminUrl: pgAdminUrl(), env: nameSettings(names) })) {
      const result = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const child = spawn(init.command, init.args, { cwd: init.cwd, env: init.env, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, output }));
      });
      expect(result.code, `${init.script}\n${result.output}`).toBe(0);
    }
    // Tagged like the harness's databases, so the global teardown sweeps them if afterAll cannot.
    for (const { db } of Object.values(names)) {
      await query(pgAdminUrl(), `COMMENT ON DATABASE ${pg.escapeIdentifier(db)} IS ${pg.escapeLiteral(testDatabaseComment(testRunId()))}`);
    }
  });

  afterAll(async () => {
    for (const instance of [...instances.orders, ...instances.users]) instance.process.kill('SIGKILL');
    await Promise.all([...instances.orders, ...instances.users].map((i) => i.process.exited));
    if (!superuser) return;
    for (const { db } of Object.values(names)) {
      await query(pgAdminUrl(), `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db)} WITH (FORCE)`);
    }
    for (const { owner, app } of Object.values(names)) {
      for (const role of [owner, app]) await query(pgAdminUrl(), `DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    }
  });

  it('maps the Compose commands, environments and secrets to local ones', () => {
    const dir = makeTempDir('berth-e2e-map-', 0o700);
    writeSecrets(dir, { host: '127.0.0.1:5432' });
    expect(system.migrators).toEqual([
      { name: 'users-migrate', app: 'users' },
      { name: 'orders-migrate', app: 'orders' },
    ]);
    expect(system.apps.map((a) => [a.name, a.replicas, a.migrator])).toEqual([
      ['users', 2, 'users-migrate'],
      ['orders', 2, 'orders-migrate'],
    ]);
    expect(system.postgres.initScripts).toEqual([path.join(REPO_ROOT, 'deploy/initdb/01-roles-and-databases.sh')]);

    // The contract's migrator command (docs/reference-system.md, "Migrator commands").
    const migrator = serviceProcess(system, 'users-migrate', { secretsDir: dir });
    expect(migrator.args).toEqual([
      path.join(REPO_ROOT, 'packages/berth/bin/berth.js'),
      'migrate', '--wait', '60s', '--lock-timeout', '5m', '--dir', path.join(REPO_ROOT, 'services/users/migrations'),
    ]);
    expect(migrator.env).toMatchObject({ DATABASE_URL_FILE: path.join(dir, 'users_owner_url') });
    expect(migrator.env).not.toHaveProperty('DATABASE_URL');

    const orders = serviceProcess(system, 'orders', {
      secretsDir: dir,
      hosts: { 'users:8080': '127.0.0.1:18080' },
      listen: { host: '127.0.0.1', port: 18081 },
    });
    expect(orders.args).toEqual([path.join(REPO_ROOT, 'services/orders/dist/main.js')]);
    expect(orders.cwd).toBe(path.join(REPO_ROOT, 'services/orders'));
    expect(orders.env).toMatchObject({
      DATABASE_URL_FILE: path.join(dir, 'orders_app_url'),
      USERS_SERVICE_URL: 'http://127.0.0.1:18080',
      HOST: '127.0.0.1',
      PORT: '18081',
      MIGRATE_ON_START: 'false',
    });
    // A Compose host name without a local address is an error, never a silent `users:8080`.
    expect(() => serviceProcess(system, 'orders', { secretsDir: dir })).toThrow(/USERS_SERVICE_URL.*users:8080/);
  });

  it('writes the secret files compose.yaml mounts, as deploy/compose/secrets/generate.sh does', () => {
    const fromScript = makeTempDir('berth-e2e-generate-');
    const generated = spawnSync('sh', [path.join(REPO_ROOT, 'deploy/compose/secrets/generate.sh'), fromScript], {
      env: { PATH: process.env.PATH, POSTGRES_HOST: 'db.example:5432' },
      encoding: 'utf8',
    });
    expect(generated.status, generated.stderr).toBe(0);
    const fromModule = makeTempDir('berth-e2e-secrets-');
    const { files } = writeSecrets(fromModule, { host: 'db.example:5432' });

    const listing = (dir: string) => readdirSync(dir).sort();
    expect(listing(fromModule)).toEqual(listing(fromScript));
    const compose = YAML.parse(readFileSync(system.file, 'utf8')) as { secrets: Record<string, unknown> };
    expect(listing(fromModule)).toEqual(Object.keys(compose.secrets).sort());
    expect(files.sort()).toEqual(listing(fromScript));
    // Same shapes: 32 [A-Za-z0-9] passwords, URLs built from them, one value per line.
    const shape = (dir: string, file: string) => readFileSync(path.join(dir, file), 'utf8').replace(/[A-Za-z0-9]{32}/g, '<password>');
    for (const file of listing(fromScript)) expect(shape(fromModule, file), file).toBe(shape(fromScript, file));
    expect(readFileSync(path.join(fromModule, 'users_owner_url'), 'utf8')).toMatch(/^postgres:\/\/users_owner:[A-Za-z0-9]{32}@db\.example:5432\/users\n$/);
  });

  it('/ready is 503 on instances started before the migrators ran', async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    const users = await startInstance('users');
    const orders = await startInstance('orders');
    for (const instance of [users, orders]) {
      const ready = await getJson(`${instance.url}/ready`);
      expect(ready, instance.name).toMatchObject({ status: 503, body: { status: 'not ready', reason: expect.stringMatching(/schema not current/) } });
      expect((await getJson(`${instance.url}/health`)).status).toBe(200);
    }
  });

  it('three migrator replicas per database at once: all exit 0 and each migration is applied once', async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    const runs = system.migrators.flatMap((migrator) =>
      Array.from({ length: REPLICAS }, () => ({ migrator, child: spawnLocal(serviceProcess(system, migrator.name, { secretsDir })) })),
    );
    const results = await Promise.all(runs.map(async (run) => ({ ...run, result: await run.child.exited })));

    for (const { migrator, result } of results) {
      expect(result.code, `${migrator.name}\n${result.stderr}\n${result.stdout}`).toBe(0);
    }
    for (const migrator of system.migrators) {
      const app = migrator.app as 'users' | 'orders';
      const versions = upMigrations(app);
      const logs = results.filter((r) => r.migrator === migrator).map((r) => jsonLines(r.result.stdout + r.result.stderr));
      // One replica applied everything under the lock; the others found the schema current.
      const appliedPerReplica = logs.map((lines) => lines.filter((l) => l.event === 'migration.applied').length).sort((a, b) => a - b);
      expect(appliedPerReplica, migrator.name).toEqual([0, 0, versions.length]);
      const summaries = logs.map((lines) => lines.find((l) => l.event === 'run.summary'));
      expect(summaries.every((s) => s?.ok === true && s.current === versions.at(-1)), migrator.name).toBe(true);

      const { rows } = await query<{ version: string; status: string; applied_by: string }>(
        withDatabase(pgAdminUrl(), names[app].db),
        'SELECT version, status, applied_by FROM berth_migrations ORDER BY version',
      );
      expect(rows.map((r) => Number(r.version))).toEqual(versions);
      expect(new Set(rows.map((r) => `${r.status} by ${r.applied_by}`))).toEqual(new Set([`applied by ${names[app].owner}`]));
    }
  });

  it('/ready turns 200, and a second instance of each service starts ready', async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    await startInstance('users');
    await startInstance('orders');
    const all = [...instances.users, ...instances.orders];
    expect(new Set(all.map((i) => new URL(i.url).port)).size).toBe(4);
    for (const instance of all) {
      const version = upMigrations(instance.name.startsWith('users') ? 'users' : 'orders').at(-1);
      // /ready caches its answer for 1 s.
      await expect
        .poll(() => getJson(`${instance.url}/ready`), { timeout: 10_000, interval: 250 })
        .toEqual({ status: 200, body: { status: 'ready', schemaVersion: version } });
    }
  });

  it('creates a user and an order for it; an order for an unknown user is 422', async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    const [users1, users2] = instances.users;
    const [orders1, orders2] = instances.orders;
    const user = await post(`${users2!.url}/users`, { username: `ada_${id}`, email: `ada_${id}@example.com` });
    expect(user).toMatchObject({ status: 201, body: { id: expect.any(Number), username: `ada_${id}` } });
    expect((await getJson(`${users1!.url}/users/${user.body.id}`)).status).toBe(200);

    const order = await post(`${orders1!.url}/orders`, { userId: user.body.id, item: 'book', quantity: 2 });
    expect(order).toMatchObject({ status: 201, body: { userId: user.body.id, item: 'book', quantity: 2 } });
    const unknown = await post(`${orders2!.url}/orders`, { userId: 999_999_999, item: 'book', quantity: 1 });
    expect(unknown).toMatchObject({ status: 422, body: { error: { code: 'USER_NOT_FOUND' } } });

    const listed = await getJson(`${orders2!.url}/orders?userId=${user.body.id}`);
    expect(listed.body.items).toEqual([expect.objectContaining({ id: order.body.id })]);
  });

  it('an order while the users service is stopped is 503; the users instances exit 0 on SIGTERM', async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    for (const users of instances.users) users.process.kill('SIGTERM');
    for (const users of instances.users) expect((await users.process.exited).code, users.name).toBe(0);

    const { rows } = await query<{ id: string }>(withDatabase(pgAdminUrl(), names.users.db), 'SELECT id FROM users LIMIT 1');
    const order = await post(`${instances.orders[0]!.url}/orders`, { userId: Number(rows[0]!.id), item: 'pen', quantity: 1 });
    expect(order).toMatchObject({ status: 503, body: { error: { code: 'USERS_UNAVAILABLE' } } });
  });

  it('SIGTERM during a slow request lets the request finish, then the service exits 0', async (ctx) => {
    if (!superuser) ctx.skip('the admin role of this server is not a superuser; the init script needs one');
    const [orders1, orders2] = instances.orders;
    const slow = fetch(`${orders2!.url}/debug/delay?ms=1500`, { headers: { 'x-request-id': `slow-${id}` } });
    await orders2!.process.waitForOutput(new RegExp(`"requestId":"slow-${id}".*"incoming request"`), 10_000, 'stdout');
    orders2!.process.kill('SIGTERM');
    await orders2!.process.waitForOutput(/"msg":"shutting down/, 10_000, 'stdout');

    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ delayedMs: 1500 });
    const exit = await orders2!.process.exited;
    expect(exit.code).toBe(0);
    const messages = jsonLines(exit.stdout).map((l) => l.msg);
    expect(messages.indexOf('stopped')).toBeGreaterThan(messages.lastIndexOf('request completed'));

    orders1!.process.kill('SIGTERM');
    expect((await orders1!.process.exited).code).toBe(0);
  });
});
