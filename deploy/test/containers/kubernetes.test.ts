/**
 * The Kubernetes manifests of deploy/k8s/ (the fleet's Indexed Job too) and the rendered Helm chart, played on podman 4.3
 * (`podman kube play`) after the rewrites of support/kube.ts, against a PostgreSQL pod made from
 * compose.yaml's postgres image and deploy/initdb. Asserted: the order of events (podman's own
 * event log), the migrations in the database, and /ready inside each pod.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { shardOf } from 'berth';
import { jsonLines, makeTempDir } from '../../../packages/berth/test/helpers/cli.js';
import { parseYamlDocuments } from '../support/files.js';
import { renderChart } from '../support/helm.js';
import { engineEnv, skipReason, upVersions } from './support/compose.js';
import { POSTGRES_IMAGE } from './support/images.js';
import { containerEvents, forPodman, getFrom, play, podIp, podman, podmanMust, removePods, type PodmanEvent } from './support/kube.js';
import { repoPath, until } from './support/run.js';

const APPS = ['users', 'orders'] as const;
type App = (typeof APPS)[number];
const versions = (app: App) => upVersions(readdirSync(repoPath('services', app, 'migrations')));
const manifests = (file: string) => parseYamlDocuments(readFileSync(repoPath(file), 'utf8'), file).map((d) => d.data);

const PG_POD = 'berth-postgres';
const PG = `${PG_POD}-postgres`;
const ROLES = ['users_owner', 'users_app', 'orders_owner', 'orders_app'] as const;
const passwords = Object.fromEntries(ROLES.map((role) => [role, randomBytes(16).toString('hex')])) as Record<(typeof ROLES)[number], string>;
/** The fleet example's database and its owner (not the reference system's: made by the fleet test). */
const TENANTS = { database: 'tenants', owner: 'tenants_owner', password: randomBytes(16).toString('hex') };

/** The Secrets of deploy/k8s/secrets.example.yaml, with this test's passwords. */
const secrets = {
  ...Object.fromEntries(
    APPS.flatMap((app) =>
      (['owner', 'app'] as const).map((role) => [
        `${app}-db-${role}`,
        { url: `postgres://${app}_${role}:${passwords[`${app}_${role}`]}@postgres:5432/${app}\n` },
      ]),
    ),
  ),
  'tenants-db-owner': { url: `postgres://${TENANTS.owner}:${TENANTS.password}@postgres:5432/${TENANTS.database}\n` },
};

/** A PostgreSQL pod: compose.yaml's image with deploy/initdb and the role passwords as files. */
function postgresPod(): any {
  const dir = makeTempDir('berth-kube-pg-secrets-', 0o755);
  writeFileSync(path.join(dir, 'postgres_password'), randomBytes(16).toString('hex'), { mode: 0o644 });
  const env = [{ name: 'POSTGRES_PASSWORD_FILE', value: '/run/secrets/postgres_password' }];
  for (const role of ROLES) {
    writeFileSync(path.join(dir, `${role}_password`), passwords[role], { mode: 0o644 });
    env.push({ name: `${role.toUpperCase()}_PASSWORD_FILE`, value: `/run/secrets/${role}_password` });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: PG_POD },
    spec: {
      restartPolicy: 'Always',
      containers: [
        {
          name: 'postgres',
          image: POSTGRES_IMAGE,
          env,
          volumeMounts: [
            { name: 'secrets', mountPath: '/run/secrets', readOnly: true },
            { name: 'initdb', mountPath: '/docker-entrypoint-initdb.d/01-roles-and-databases.sh', readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: 'secrets', hostPath: { path: dir, type: 'Directory' } },
        { name: 'initdb', hostPath: { path: repoPath('deploy/initdb/01-roles-and-databases.sh'), type: 'File' } },
      ],
    },
  };
}

async function sql(database: string, query: string): Promise<string[][]> {
  const { stdout } = await podmanMust(['exec', PG, 'psql', '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-AtF', '\t', '-c', query]);
  return stdout.split('\n').filter(Boolean).map((line) => line.split('\t'));
}

/** Fresh databases for the next pattern: dropped, then made again by the init script. */
async function resetDatabases(): Promise<void> {
  for (const app of APPS) await sql('postgres', `DROP DATABASE IF EXISTS ${app} WITH (FORCE)`);
  await podmanMust(['exec', PG, 'bash', '/docker-entrypoint-initdb.d/01-roles-and-databases.sh']);
}

/** The history of a database: [version, applied by, host (the pod's name)]. */
const history = (app: App) => sql(app, 'SELECT version, applied_by, host FROM berth_migrations ORDER BY version');

/** Events of one container, by status. */
function eventOf(events: PodmanEvent[], container: string, status: string): PodmanEvent {
  const event = events.find((e) => e.name === container && e.status === status);
  if (!event) throw new Error(`no "${status}" event of ${container} in:\n${events.map((e) => `${e.name} ${e.status}`).join('\n')}`);
  return event;
}

/** Waits for a container to exit and returns its exit code. */
async function exitCode(container: string): Promise<number> {
  return Number((await podmanMust(['wait', container], { timeoutMs: 300_000 })).stdout.trim());
}

/**
 * /ready answers with the schema version of this build, and every probe the manifest declares for
 * the container (podman does not run them) passes when asked by hand: its path, on its port (a
 * named port resolved from the container's ports).
 */
async function expectReady(container: string, app: App, spec: any): Promise<void> {
  const probes = ['startupProbe', 'livenessProbe', 'readinessProbe'].map((k) => spec[k]).filter(Boolean);
  expect(probes.length, container).toBe(3);
  const urls = probes.map((probe) => {
    const port = typeof probe.httpGet.port === 'number' ? probe.httpGet.port : spec.ports.find((p: any) => p.name === probe.httpGet.port)?.containerPort;
    return `http://127.0.0.1:${port}${probe.httpGet.path}`;
  });
  // The service listens a moment after its container started.
  const answers = () => getFrom(container, ['http://127.0.0.1:8080/ready', ...urls]).catch((e: Error) => [{ status: 0, body: e.message }]);
  await expect.poll(async () => (await answers())[0], { timeout: 30_000, interval: 500 }).toEqual({
    status: 200,
    body: { status: 'ready', schemaVersion: versions(app).at(-1) },
  });
  const statuses = (await answers()).slice(1).map((a) => a.status);
  expect(statuses, `${container} ${urls.join(' ')}`).toEqual(urls.map(() => 200));
}

/** The container spec of `app` in a Deployment of `docs`. */
const appSpec = (docs: any[], app: App) => docs.find((d) => d.kind === 'Deployment' && d.spec.template.spec.containers[0].name === app).spec.template.spec.containers[0];

/** What the kernel says of a container's PID 1, and that its root file system refuses writes. */
async function expectRestricted(container: string): Promise<void> {
  // One exec: PID 1's status, a write to the root, and the Secret file's mode and group.
  const { stdout } = await podmanMust(['exec', container, 'sh', '-c', 'cat /proc/1/status; (echo x > /probe) 2>&1; stat -c "secret %a %g" /run/secrets/db/url']);
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(stdout)?.[1]?.split(/\s+/);
  expect(field('Uid'), container).toEqual(['10001', '10001', '10001', '10001']);
  expect(field('Gid'), container).toEqual(['10001', '10001', '10001', '10001']);
  expect(field('CapEff'), container).toEqual(['0000000000000000']);
  expect(field('NoNewPrivs'), container).toEqual(['1']);
  expect(stdout, container).toMatch(/Read-only file system/);
  // The Secret as the kubelet mounts it with defaultMode 0440 and the pod's fsGroup: readable by group.
  expect(stdout, container).toMatch(/^secret 440 10001$/m);
}

/** An order for a new user, from an orders pod: its USERS_SERVICE_URL reaches a users pod. */
async function expectOrdersCallUsers(ordersContainer: string, usersContainer: string): Promise<void> {
  const name = `k_${randomBytes(3).toString('hex')}`;
  const created = await podmanMust(['exec', usersContainer, 'node', '-e',
    `fetch('http://127.0.0.1:8080/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: '${name}', email: '${name}@example.com' }) }).then(async (r) => console.log(JSON.stringify(await r.json())))`]);
  const userId = JSON.parse(created.stdout.trim()).id;
  const order = await podmanMust(['exec', ordersContainer, 'node', '-e',
    `fetch('http://127.0.0.1:8080/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: ${userId}, item: 'pen', quantity: 1 }) }).then(async (r) => console.log(r.status))`]);
  expect(order.stdout.trim()).toBe('201');
}

/**
 * A fleet's ConfigMap and Indexed Job (--schema-per-target over the tenants database), played as
 * one pod per index: each pod migrates the share of the tenants its index names, every tenant's
 * schema gets every migration once, and the Job played again applies nothing.
 */
async function expectFleetJob(docs: any[], hosts: Record<string, string>): Promise<void> {
  const { database, owner, password } = TENANTS;
  await sql('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await sql('postgres', `DROP ROLE IF EXISTS ${owner}`);
  await sql('postgres', `CREATE ROLE ${owner} LOGIN PASSWORD '${password}'`);
  await sql('postgres', `CREATE DATABASE ${database} OWNER ${owner}`);
  const job = docs.find((d) => d.kind === 'Job');
  const shards = job.spec.completions as number;
  const names = (YAML.parse(docs.find((d) => d.kind === 'ConfigMap').data['targets.yaml']) as { names: string[] }).names;
  const pods = Array.from({ length: shards }, (_, i) => `${job.metadata.name}-${i}`);
  const tenantVersions = upVersions(readdirSync(repoPath('examples/tenants/migrations')));
  const share = (i: number) => names.filter((name) => shardOf(name, shards) === i);
  // The example's tenants give every shard some: else a pod with an empty share would prove little.
  for (let i = 0; i < shards; i++) expect(share(i).length, `shard ${i}/${shards}`).toBeGreaterThan(0);

  /** Plays the Job's pods (all at once, as parallelism = completions) and returns each pod's report. */
  const runJob = async () => {
    await removePods([PG_POD]);
    await play(forPodman(docs, { secrets, hosts }));
    const reports: any[] = [];
    for (const pod of pods) {
      expect(await exitCode(`${pod}-migrate`), pod).toBe(0);
      // The fleet's report: one JSON object on stdout (no terminal); the log lines have a level.
      const { stdout, stderr } = await podmanMust(['logs', `${pod}-migrate`]);
      reports.push(jsonLines(`${stdout}\n${stderr}`).find((line) => 'results' in line && !('level' in line)));
    }
    return reports;
  };

  const first = await runJob();
  for (const [i, report] of first.entries()) {
    // The pod's index from JOB_COMPLETION_INDEX, its count from BERTH_SHARDS.
    expect(report.shard, pods[i]).toEqual({ index: i, count: shards });
    expect(report.results.map((r: any) => [r.target, r.result, r.applied]).sort(), pods[i]).toEqual(share(i).sort().map((name) => [name, 'applied', tenantVersions]));
  }
  // Every tenant's schema: all its migrations, once, by the owner role, from the pod of its shard.
  for (const name of names) {
    const rows = await sql(database, `SELECT version, applied_by, host FROM ${name}.berth_migrations ORDER BY version`);
    expect(rows, name).toEqual(tenantVersions.map((v) => [String(v), owner, pods[shardOf(name, shards)]]));
    expect(await sql(database, `SELECT to_regclass('${name}.tasks') IS NOT NULL`), name).toEqual([['t']]);
  }
  const schemas = await sql(database, "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public') ORDER BY 1");
  expect(schemas.flat()).toEqual([...names].sort());

  // A rerun (the Job again, or a retried index) finds every tenant's history complete.
  const again = await runJob();
  for (const [i, report] of again.entries()) {
    expect(report.counts, pods[i]).toMatchObject({ applied: 0, unchanged: share(i).length, failed: 0 });
  }
  expect(await sql(database, names.map((n) => `SELECT count(*) FROM ${n}.berth_migrations`).join(' UNION ALL ')))
    .toEqual(names.map(() => [String(tenantVersions.length)]));
}

describe.skipIf(skipReason() !== undefined)('Kubernetes manifests on podman kube play', () => {
  const hosts: Record<string, string> = {};

  beforeAll(async () => {
    engineEnv();
    await removePods([]);
    await play([postgresPod()]);
    // Over TCP: the entrypoint's temporary server (while deploy/initdb runs) listens on the socket only.
    await until('PostgreSQL answers in its pod', async () => (await podman(['exec', PG, 'pg_isready', '--host=127.0.0.1', '--username=postgres'])).code === 0, 60_000);
    hosts.postgres = await podIp(PG_POD);
  });
  afterAll(async () => {
    if (skipReason() === undefined) await removePods([]).catch(() => undefined);
  });
  beforeEach(async () => {
    await removePods([PG_POD]);
    await resetDatabases();
  });

  it('init-container/: in each pod the init container migrates and exits 0 before the service starts; replicas take turns', async () => {
    const since = Date.now() - 1000;
    const docs = { users: manifests('deploy/k8s/init-container/users.yaml'), orders: manifests('deploy/k8s/init-container/orders.yaml') };
    await play(forPodman(docs.users, { secrets, hosts }));
    const users = await podIp('users-pod-0');
    await play(forPodman(docs.orders, { secrets, hosts: { ...hosts, users } }));

    const events = await containerEvents(since);
    for (const app of APPS) {
      for (const pod of [`${app}-pod-0`, `${app}-pod-1`]) {
        const migrated = eventOf(events, `${pod}-migrate`, 'died');
        expect(migrated.exitCode, pod).toBe(0);
        expect(eventOf(events, `${pod}-migrate`, 'start').time).toBeLessThanOrEqual(migrated.time);
        expect(eventOf(events, `${pod}-${app}`, 'start').time, pod).toBeGreaterThanOrEqual(migrated.time);
        await expectReady(`${pod}-${app}`, app, appSpec(docs[app], app));
        await expectRestricted(`${pod}-${app}`);
      }
      // The first pod's init container applied everything, as the owner role; the second found it done.
      expect(await history(app)).toEqual(versions(app).map((v) => [String(v), `${app}_owner`, `${app}-pod-0`]));
    }
    await expectOrdersCallUsers('orders-pod-0-orders', 'users-pod-1-users');

    // A pod's stop: SIGTERM reaches the service as PID 1, which finishes and exits 0 well within
    // terminationGracePeriodSeconds (podman sends SIGKILL after it: exit 137).
    const grace = docs.users[0].spec.template.spec.terminationGracePeriodSeconds;
    await podmanMust(['pod', 'stop', '--time', String(grace), 'users-pod-1']);
    expect((await podmanMust(['inspect', '-f', '{{.State.ExitCode}}', 'users-pod-1-users'])).stdout.trim()).toBe('0');
  });

  it('job/: the migration Job runs to completion as the owner role, then the Deployment starts ready', async () => {
    const since = Date.now() - 1000;
    for (const app of APPS) {
      await play(forPodman(manifests(`deploy/k8s/job/${app}-migrate.yaml`), { secrets, hosts }));
      expect(await exitCode(`${app}-migrate-migrate`), `${app}-migrate`).toBe(0);
      expect(await history(app)).toEqual(versions(app).map((v) => [String(v), `${app}_owner`, `${app}-migrate`]));
    }
    const docs = { users: manifests('deploy/k8s/job/users.yaml'), orders: manifests('deploy/k8s/job/orders.yaml') };
    await play(forPodman(docs.users, { secrets, hosts }));
    await play(forPodman(docs.orders, { secrets, hosts: { ...hosts, users: await podIp('users-pod-0') } }));
    const events = await containerEvents(since);
    for (const app of APPS) {
      const migrated = eventOf(events, `${app}-migrate-migrate`, 'died');
      for (const pod of [`${app}-pod-0`, `${app}-pod-1`]) {
        expect(eventOf(events, `${pod}-${app}`, 'start').time, pod).toBeGreaterThan(migrated.time);
        await expectReady(`${pod}-${app}`, app, appSpec(docs[app], app));
      }
    }
    await expectOrdersCallUsers('orders-pod-1-orders', 'users-pod-0-users');
  });

  it('wait-for-schema/: pods wait in `berth await` until the Job has migrated, then start ready', async () => {
    const since = Date.now() - 1000;
    // kube play returns once the init containers are done: in the background while they wait.
    const docs = manifests('deploy/k8s/wait-for-schema/users.yaml');
    const waiting = play(forPodman(docs, { secrets, hosts }));
    await expect.poll(async () => (await podman(['inspect', '-f', '{{.State.Status}}', 'users-pod-0-await-schema'])).stdout.trim(), { timeout: 60_000, interval: 500 }).toBe('running');
    // Waiting, not failing: a few seconds on, the service container still has not started.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await podman(['inspect', '-f', '{{.State.Status}}', 'users-pod-0-users'])).stdout.trim()).toBe('created');
    expect(await sql('users', "SELECT to_regclass('berth_migrations') IS NULL")).toEqual([['t']]);

    await play(forPodman(manifests('deploy/k8s/job/users-migrate.yaml'), { secrets, hosts }));
    expect(await exitCode('users-migrate-migrate')).toBe(0);
    await waiting;

    const events = await containerEvents(since);
    // `berth await` returns once the last migration has committed, which can be a moment before the
    // migrator's process has exited: compare with the history, not with the migrator's exit.
    const lastApplied = (await sql('users', 'SELECT floor(extract(epoch FROM max(applied_at)) * 1000) FROM berth_migrations'))[0]![0];
    for (const pod of ['users-pod-0', 'users-pod-1']) {
      const awaited = eventOf(events, `${pod}-await-schema`, 'died');
      expect(awaited.exitCode, pod).toBe(0);
      expect(awaited.time, pod).toBeGreaterThanOrEqual(Number(lastApplied));
      expect(eventOf(events, `${pod}-users`, 'start').time, pod).toBeGreaterThanOrEqual(awaited.time);
      await expectReady(`${pod}-users`, 'users', appSpec(docs, 'users'));
    }
    expect(eventOf(events, 'users-pod-0-await-schema', 'start').time).toBeLessThan(eventOf(events, 'users-migrate-migrate', 'start').time);
  });

  it('fleet/: each pod of the Indexed Job migrates its own shard of the tenant schemas, every schema once; a rerun applies nothing', async () => {
    await expectFleetJob(manifests('deploy/k8s/fleet/tenants-migrate.yaml'), hosts);
  });

  it("the Helm chart's fleet (fleet.enabled): the same, from its rendered ConfigMap and Indexed Job", async () => {
    const names = YAML.parse(manifests('deploy/k8s/fleet/tenants-migrate.yaml').find((d) => d.kind === 'ConfigMap').data['targets.yaml']).names;
    const { documents } = await renderChart({ fleet: { enabled: true, names } });
    await expectFleetJob(documents.map((d) => d.data).filter((d) => d.metadata.name.startsWith('demo-tenants-')), hosts);
  });

  it('the rendered Helm chart: the hook Jobs migrate, then the Deployments start ready', async () => {
    const since = Date.now() - 1000;
    const { documents } = await renderChart();
    const rendered = documents.map((d) => d.data);
    const hooks = rendered.filter((d) => d.kind === 'Job');
    expect(hooks.map((d) => [d.metadata.name, d.metadata.annotations['helm.sh/hook']])).toEqual([
      ['demo-orders-migrate', 'pre-install,pre-upgrade'],
      ['demo-users-migrate', 'pre-install,pre-upgrade'],
    ]);
    // Helm runs the hooks first and waits for them; then the release's other resources.
    for (const hook of hooks) {
      await play(forPodman([hook], { secrets, hosts }));
      expect(await exitCode(`${hook.metadata.name}-migrate`), hook.metadata.name).toBe(0);
    }
    const deployments = rendered.filter((d) => d.kind === 'Deployment');
    await play(forPodman(deployments.filter((d) => d.metadata.name === 'demo-users'), { secrets, hosts }));
    const users = await podIp('demo-users-pod-0');
    await play(forPodman(deployments.filter((d) => d.metadata.name === 'demo-orders'), { secrets, hosts: { ...hosts, 'demo-users': users } }));

    const events = await containerEvents(since);
    for (const app of APPS) {
      expect(await history(app)).toEqual(versions(app).map((v) => [String(v), `${app}_owner`, `demo-${app}-migrate`]));
      const migrated = eventOf(events, `demo-${app}-migrate-migrate`, 'died');
      for (const pod of [`demo-${app}-pod-0`, `demo-${app}-pod-1`]) {
        expect(eventOf(events, `${pod}-${app}`, 'start').time, pod).toBeGreaterThan(migrated.time);
        await expectReady(`${pod}-${app}`, app, appSpec(deployments, app));
        await expectRestricted(`${pod}-${app}`);
      }
    }
    await expectOrdersCallUsers('demo-orders-pod-0-orders', 'demo-users-pod-0-users');
  });
});
