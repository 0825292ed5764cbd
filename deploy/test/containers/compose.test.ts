/**
 * The reference system from the project's own deploy/compose/compose.yaml, in real containers on
 * Docker Engine with Compose v2: images built from the project's Dockerfiles, postgres initialised
 * by its entrypoint and deploy/initdb, healthchecks, `depends_on` conditions, replicas, secrets as
 * files, the containers' users, read-only root file systems and capabilities, signals to PID 1.
 *
 * The only override of compose.yaml besides deploy/containers/compose.engine-20.10.yaml (what the
 * older engine cannot take) is a test's own migrations folder mounted instead of the service's,
 * where a test needs a slow or a failing migration.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines } from '../../../packages/berth/test/helpers/cli.js';
import {
  ComposeProject,
  engineEnv,
  generateSecrets,
  logs,
  migrationsOverride,
  migrationsWith,
  skipReason,
  upVersions,
  type ContainerRow,
} from './support/compose.js';
import { must, repoPath } from './support/run.js';

const APPS = ['users', 'orders'] as const;
const versions = (app: string) => upVersions(readdirSync(repoPath('services', app, 'migrations')));
const byService = (rows: ContainerRow[], service: string) => rows.filter((r) => r.Service === service);

describe.skipIf(skipReason() !== undefined)('compose.yaml in containers', () => {
  const project = new ComposeProject('system');
  let userId = 0;

  beforeAll(async () => {
    engineEnv();
    await generateSecrets();
  });
  afterAll(() => project.down());

  it('up --build --wait: postgres healthy, three migrators per database exit 0, two healthy replicas of each service', async () => {
    const up = await project.run(['up', '--build', '--wait', '--detach', '--scale', 'users-migrate=3', '--scale', 'orders-migrate=3']);
    expect(up.code, up.stderr).toBe(0);

    const rows = await project.ps();
    expect(byService(rows, 'postgres').map((r) => [r.State, r.Health])).toEqual([['running', 'healthy']]);
    for (const app of APPS) {
      expect(byService(rows, `${app}-migrate`).map((r) => [r.State, r.ExitCode]), `${app}-migrate`).toEqual([
        ['exited', 0],
        ['exited', 0],
        ['exited', 0],
      ]);
      expect(byService(rows, app).map((r) => [r.State, r.Health]), app).toEqual([
        ['running', 'healthy'],
        ['running', 'healthy'],
      ]);
    }
  });

  it('the three migrators of a database applied each migration once: one applied all, two found the schema current', async () => {
    const rows = await project.ps();
    for (const app of APPS) {
      const want = versions(app);
      const runs = await Promise.all(byService(rows, `${app}-migrate`).map(async (r) => jsonLines(await logs(r.Name))));
      expect(runs.map((lines) => lines.filter((l) => l.event === 'migration.applied').length).sort((a, b) => a - b), app).toEqual([0, 0, want.length]);
      for (const lines of runs) expect(lines.find((l) => l.event === 'run.summary'), app).toMatchObject({ ok: true, exitCode: 0, current: want.at(-1) });

      const history = await project.sql(app, 'SELECT version, status, applied_by FROM berth_migrations ORDER BY version');
      expect(history).toEqual(want.map((v) => [String(v), 'applied', `${app}_owner`]));
    }
  });

  it('requests cross containers by service name: a user, an order for it, 422 for an unknown user', async () => {
    const user = await project.request('orders', 'http://users:8080/users', { username: 'ada', email: 'ada@example.com' });
    expect(user).toMatchObject({ status: 201, body: { username: 'ada' } });
    userId = user.body.id;
    // From a users container to the orders service, which asks the users service in turn.
    const order = await project.request('users', 'http://orders:8080/orders', { userId, item: 'book', quantity: 2 });
    expect(order).toMatchObject({ status: 201, body: { userId, item: 'book', quantity: 2 } });
    const unknown = await project.request('users', 'http://orders:8080/orders', { userId: 999_999_999, item: 'book', quantity: 1 });
    expect(unknown).toMatchObject({ status: 422, body: { error: { code: 'USER_NOT_FOUND' } } });
    for (const app of APPS) {
      expect(await project.request(app === 'users' ? 'orders' : 'users', `http://${app}:8080/ready`)).toEqual({
        status: 200,
        body: { status: 'ready', schemaVersion: versions(app).at(-1) },
      });
    }
  });

  it('berth and the services run as 10001:10001 with a read-only root, no capabilities, no new privileges; postgres as 999', async () => {
    const rows = await project.ps();
    for (const row of rows.filter((r) => r.Service !== 'postgres')) {
      const container = await project.inspect(row.Name);
      expect(container.Config.User, row.Name).toBe('10001:10001');
      expect(container.HostConfig.ReadonlyRootfs, row.Name).toBe(true);
      expect(container.HostConfig.CapDrop, row.Name).toEqual(['ALL']);
      expect(container.HostConfig.SecurityOpt, row.Name).toContain('no-new-privileges:true');
      expect(container.HostConfig.Memory, row.Name).toBe(256 * 1024 * 1024);
    }
    // What the kernel says of the running processes (PID 1 of each service container).
    for (const row of rows.filter((r) => r.State === 'running')) {
      const index = ['--index', row.Name.slice(row.Name.lastIndexOf('-') + 1)];
      const status = (await project.must(['exec', '-T', ...index, row.Service, 'cat', '/proc/1/status'])).stdout;
      const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.split(/\s+/);
      const uid = row.Service === 'postgres' ? '999' : '10001';
      expect(field('Uid'), row.Name).toEqual([uid, uid, uid, uid]);
      expect(field('CapEff'), row.Name).toEqual(['0000000000000000']);
      if (row.Service !== 'postgres') expect(field('NoNewPrivs'), row.Name).toEqual(['1']);
      const write = await project.run(['exec', '-T', ...index, row.Service, 'sh', '-c', 'echo x > /probe']);
      expect(write.code, row.Name).not.toBe(0);
      expect(write.stderr, row.Name).toMatch(/Read-only file system/);
    }
  });

  it('SIGTERM stops a migrator mid-migration with 143 and nothing applied; after a SIGKILL the next up completes', async () => {
    const env = engineEnv();
    // A migration that takes a while: long enough to be caught running, short enough to finish.
    const dir = migrationsWith('users', {
      '000007_add_users_nickname.up.sql': 'ALTER TABLE users ADD COLUMN nickname text;\nSELECT pg_sleep(8);\n',
    });
    project.override(migrationsOverride('users-migrate', dir));
    const sleeping = async () =>
      (await project.sql('users', "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(8)%' AND application_name LIKE 'berth/%'"))[0]![0] === '1';
    const startAndCatch = async () => {
      await project.must(['up', '--detach', '--no-deps', '--scale', 'users-migrate=1', 'users-migrate']);
      await expect.poll(sleeping, { timeout: 30_000, interval: 200 }).toBe(true);
      return (await project.ps()).find((r) => r.Service === 'users-migrate')!.Name;
    };
    const nickname = async () => (await project.sql('users', "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'"))[0]![0];
    const version7 = async () => (await project.sql('users', 'SELECT status FROM berth_migrations WHERE version = 7')).map((r) => r[0]);

    // SIGTERM (compose stop): berth cancels the statement, rolls back, releases the lock, exits 143.
    let name = await startAndCatch();
    const stopStart = Date.now();
    await project.must(['stop', '--timeout', '10', 'users-migrate']);
    const stopped = await project.inspect(name);
    expect(stopped.State.ExitCode).toBe(143);
    expect(Date.now() - stopStart).toBeLessThan(10_000);
    expect(jsonLines(await logs(name)).find((l) => l.event === 'run.summary')).toMatchObject({ exitCode: 143 });
    expect(await version7()).toEqual([]);
    expect(await nickname()).toBe('0');

    // SIGKILL: no handler runs. The server notices the dead session, rolls back and drops the lock.
    name = await startAndCatch();
    await must(env.DOCKER!, ['kill', '--signal', 'KILL', name], { env });
    expect((await project.inspect(name)).State.ExitCode).toBe(137);
    await expect.poll(sleeping, { timeout: 60_000, interval: 500 }).toBe(false);
    expect(await version7()).toEqual([]);

    // `up --wait` waits for healthchecks, which a one-shot migrator has none of: wait for its exit.
    await project.must(['up', '--detach', '--no-deps', '--scale', 'users-migrate=1', 'users-migrate']);
    name = (await project.ps()).find((r) => r.Service === 'users-migrate')!.Name;
    expect((await must(env.DOCKER!, ['wait', name], { env })).stdout.trim()).toBe('0');
    expect(await version7()).toEqual(['applied']);
    expect(await nickname()).toBe('1');
  });

  it('SIGTERM reaches the services as PID 1: `compose stop` ends every replica with exit 0 after a clean shutdown', async () => {
    const before = (await project.ps()).filter((r) => APPS.includes(r.Service as (typeof APPS)[number]));
    expect(before).toHaveLength(4);
    const start = Date.now();
    await project.must(['stop', 'users', 'orders']);
    // Well within stop_grace_period (15 s), after which Docker would have sent SIGKILL (137).
    expect(Date.now() - start).toBeLessThan(15_000);
    for (const row of before) {
      expect((await project.inspect(row.Name)).State.ExitCode, row.Name).toBe(0);
      expect(jsonLines(await logs(row.Name)).at(-1), row.Name).toMatchObject({ msg: 'stopped' });
    }
  });

  it('down -v leaves no container, volume or network of the project', async () => {
    await project.must(['down', '--volumes', '--timeout', '5']);
    expect(await project.leftovers()).toEqual([]);
  });
});

describe.skipIf(skipReason() !== undefined)('compose.yaml in containers: a failing migrator', () => {
  const project = new ComposeProject('failing');
  let broken = '';

  beforeAll(async () => {
    engineEnv();
    await generateSecrets();
    const dir = migrationsWith('orders', { '000003_add_orders_note.up.sql': 'ALTER TABLE order_lines ADD COLUMN note text;\n' });
    broken = project.override(migrationsOverride('orders-migrate', dir));
  });
  afterAll(() => project.down());

  it('keeps its service from starting, and Compose says which migrator failed; the other database and service come up', async () => {
    const up = await project.run(['up', '--wait', '--detach']);
    expect(up.code).not.toBe(0);
    expect(up.stderr).toMatch(/orders-migrate.*didn't complete successfully: exit 1/);

    const rows = await project.ps();
    expect(byService(rows, 'orders-migrate').map((r) => [r.State, r.ExitCode])).toEqual([['exited', 1]]);
    const summary = jsonLines(await logs(byService(rows, 'orders-migrate')[0]!.Name)).find((l) => l.event === 'run.summary');
    expect(summary).toMatchObject({ ok: false, exitCode: 1 });
    for (const row of byService(rows, 'orders')) {
      expect(row.State, row.Name).toBe('created');
      expect((await project.inspect(row.Name)).State.StartedAt, row.Name).toBe('0001-01-01T00:00:00Z');
    }
    // Compose stopped waiting at the failure; the users replicas become healthy on their own.
    await expect
      .poll(async () => byService(await project.ps(), 'users').map((r) => [r.State, r.Health]), { timeout: 60_000, interval: 1000 })
      .toEqual([
        ['running', 'healthy'],
        ['running', 'healthy'],
      ]);
    // The failed migration was rolled back: the database is at the last good version.
    expect(await project.sql('orders', 'SELECT max(version) FROM berth_migrations')).toEqual([[String(versions('orders').at(-1))]]);
  });

  it('once the migration is fixed, up brings the service up', async () => {
    // Without the broken migrations folder: compose.yaml's own mount again.
    project.removeOverride(broken);
    const up = await project.run(['up', '--wait', '--detach']);
    expect(up.code, up.stderr).toBe(0);
    expect(byService(await project.ps(), 'orders').map((r) => [r.State, r.Health])).toEqual([
      ['running', 'healthy'],
      ['running', 'healthy'],
    ]);
  });
});

describe.skipIf(skipReason() !== undefined)('compose.dev.yaml in containers: the app start-up pattern', () => {
  // compose.dev.yaml on top of compose.yaml. Its published ports are reset: the tests reach the
  // services from inside, and 127.0.0.1:8081/8082/55432 may be taken on a shared machine.
  const project = new ComposeProject('dev', [repoPath('deploy/compose/compose.dev.yaml')]);

  beforeAll(async () => {
    engineEnv();
    await generateSecrets();
    // `!reset` is a YAML tag: written as text (YAML.stringify would quote it).
    writeFileSync(project.override({}), `services:\n${['postgres', 'users', 'orders'].map((s) => `  ${s}:\n    ports: !reset []\n`).join('')}`);
  });
  afterAll(() => project.down());

  it("one replica each, running the host's build output; orders applies a new migration itself on start, as the owner role", async () => {
    const up = await project.run(['up', '--wait', '--detach']);
    expect(up.code, up.stderr).toBe(0);
    for (const app of APPS) expect(byService(await project.ps(), app).map((r) => [r.State, r.Health]), app).toEqual([['running', 'healthy']]);
    expect(await project.request('users', 'http://orders:8080/ready')).toMatchObject({ status: 200, body: { schemaVersion: versions('orders').at(-1) } });

    // A new migration file in the folder the dev override mounts into orders: `up` recreates the
    // service, which migrates before it listens (MIGRATE_ON_START=true).
    const next = versions('orders').at(-1)! + 1;
    const dir = migrationsWith('orders', { [`${String(next).padStart(6, '0')}_add_orders_note.up.sql`]: 'ALTER TABLE orders ADD COLUMN note text;\n' });
    project.override(migrationsOverride('orders', dir, '/app/migrations'));
    const again = await project.run(['up', '--wait', '--detach', '--no-deps', 'orders']);
    expect(again.code, again.stderr).toBe(0);
    const row = byService(await project.ps(), 'orders')[0]!;
    const started = jsonLines(await logs(row.Name)).find((l) => l.msg === 'migrations on start finished');
    expect(started).toMatchObject({ applied: 1, current: next });
    expect(await project.sql('orders', `SELECT applied_by FROM berth_migrations WHERE version = ${next}`)).toEqual([['orders_owner']]);
    expect(await project.request('users', 'http://orders:8080/ready')).toEqual({ status: 200, body: { status: 'ready', schemaVersion: next } });
  });
});
