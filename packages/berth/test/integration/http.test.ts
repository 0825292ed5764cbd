import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import parsePrometheus, { type MetricFamily } from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, jsonLines, spawnBerth, runBerth, writeMigrations, type SpawnedProcess } from '../helpers/cli.js';
import { createMigrator, type ProgressSnapshot } from '../../src/index.js';
import { useTestDatabase } from '../helpers/db.js';
import { mysqlServer, useMysqlDatabase } from '../helpers/mysql.js';

/** `--http`: live /metrics, /healthz and /readyz while berth runs, and --linger after (SPEC §8, §11). */

const FILES = {
  '1_a.up.sql': 'CREATE TABLE a (id int);',
  '2_slow.up.sql': 'SELECT pg_sleep(3);',
};

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

async function scrape(port: number): Promise<MetricFamily[]> {
  const { status, body } = await get(port, '/metrics');
  expect(status).toBe(200);
  return parsePrometheus(body);
}

function value(families: MetricFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const metric = families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return metric?.value === undefined ? undefined : Number(metric.value);
}

/** The port `--http 127.0.0.1:0` bound, from its `http.listening` line. */
async function listeningPort(p: SpawnedProcess): Promise<number> {
  const match = await p.waitForOutput(/"event":"http.listening","address":"127\.0\.0\.1:(\d+)"/);
  return Number(match[1]);
}

const messages = (stderr: string) => jsonLines(stderr).map((l) => l.msg).join('\n');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('berth --http', () => {
  const db = useTestDatabase('http');
  // BERTH_DEBUG: migration.start is a debug line, and the tests act on it.
  const env = () => ({ DATABASE_URL: db().url, BERTH_DEBUG: '1' });

  it('serves the running migration and its growing elapsed time, healthz 200, readyz 503 then 200 while lingering; SIGTERM ends the linger with the exit code', async () => {
    const p = spawnBerth(['migrate', '--dir', writeMigrations(FILES), '--http', '127.0.0.1:0', '--linger', '10m', '--log-format', 'json'], { env: env() });
    const port = await listeningPort(p);
    await p.waitForOutput(/"event":"migration.start","version":2/);
    const first = await scrape(port);
    await sleep(700);
    const second = await scrape(port);
    expect(value(first, 'berth_current_migration_version')).toBe(2);
    expect(value(first, 'berth_migration_in_progress', { version: '2', name: 'slow', direction: 'up' })).toBe(1);
    expect(value(first, 'berth_run_in_progress')).toBe(1);
    expect(value(first, 'berth_migrations_applied_total')).toBe(1);
    expect(value(first, 'berth_pending_migrations')).toBe(1);
    expect(value(first, 'berth_schema_version')).toBe(1);
    expect(value(second, 'berth_current_migration_version')).toBe(2);
    expect(value(second, 'berth_current_migration_elapsed_seconds')).toBeGreaterThan(value(first, 'berth_current_migration_elapsed_seconds')!);
    const health = await get(port, '/healthz');
    expect(health.status, health.body).toBe(200);
    expect(health.body).toMatch(/statement has been in flight/);
    expect((await get(port, '/readyz')).status).toBe(503);
    expect((await get(port, '/nowhere')).status).toBe(404);

    await p.waitForOutput(/"event":"http.lingering"/);
    const ready = await get(port, '/readyz');
    expect(ready.status, ready.body).toBe(200);
    expect((await get(port, '/healthz')).status).toBe(200);
    const final = await scrape(port);
    expect(value(final, 'berth_schema_version')).toBe(2);
    expect(value(final, 'berth_pending_migrations')).toBe(0);
    expect(value(final, 'berth_migrations_applied_total')).toBe(2);
    expect(value(final, 'berth_last_run_success')).toBe(1);
    expect(value(final, 'berth_run_in_progress')).toBe(0);
    expect(value(final, 'berth_current_migration_version')).toBe(0);
    expect(final.find((f) => f.name === 'berth_migration_in_progress')?.metrics ?? []).toEqual([]);
    // A 10-minute linger: the test's own timeout fails it unless SIGTERM ends it at once.
    p.kill('SIGTERM');
    const result = await p.exited;
    expect(result.code, result.stderr).toBe(0);
    await expect(get(port, '/healthz')).rejects.toThrow();
    // The new log lines (http.listening, http.lingering) are in the published event schema.
    const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, 'docs/events/v1.schema.json'), 'utf8'));
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    ajv.addFormat('date-time', (t: string) => !Number.isNaN(Date.parse(t)));
    const validate = ajv.compile(schema);
    const lines = jsonLines(result.stderr);
    expect(lines.map((l) => l.event)).toEqual(expect.arrayContaining(['http.listening', 'http.lingering', 'run.summary']));
    expect(lines.filter((l) => !validate(l))).toEqual([]);
  });

  it('the library shows the same progress: migrator.progress() during and after up()', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const seen: ProgressSnapshot[] = [];
    const migrator = createMigrator({
      databaseUrl: db().url, dir: writeMigrations(FILES),
      // Read while the migration's statement runs, as a host's own /metrics would.
      onEvent: (e) => { if (e.event === 'migration.start' && e.version === 2) setTimeout(() => seen.push(migrator.progress()), 500); },
    });
    try {
      expect(migrator.progress()).toMatchObject({ phase: 'idle', applied: 0, migration: null, session: null });
      await migrator.up();
      const [during] = seen;
      expect(during).toMatchObject({ phase: 'running', current: 1, pending: 1, applied: 1, migration: { version: 2, name: 'slow', direction: 'up', index: 2, total: 2 } });
      expect(during!.migration!.elapsedMs).toBeGreaterThan(0);
      expect(during!.session).toMatchObject({ lost: false, busySince: expect.any(Number) });
      expect(migrator.progress()).toMatchObject({ phase: 'idle', current: 2, pending: 0, applied: 2, migration: null, session: null });
    } finally {
      await migrator.close();
    }
  });

  it('readyz stays 503 after a failed run, with its exit code; the linger ends by itself', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const p = spawnBerth(['migrate', '--dir', writeMigrations({ ...FILES, '3_bad.up.sql': 'SELECT * FROM nowhere;' }), '--http', '127.0.0.1:0', '--linger', '2s', '--log-format', 'json'], { env: env() });
    const port = await listeningPort(p);
    await p.waitForOutput(/"event":"http.lingering"/);
    const ready = await get(port, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/exit code 1/);
    expect(value(await scrape(port), 'berth_last_run_success')).toBe(0);
    const result = await p.exited;
    expect(result.code).toBe(1);
  });

  it('shows the lock wait growing while another runner holds the lock', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const dir = writeMigrations(FILES);
    const holder = spawnBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: env() });
    await holder.waitForOutput(/"event":"migration.start","version":2/);
    const waiter = spawnBerth(['migrate', '--dir', dir, '--http', '127.0.0.1:0', '--log-format', 'json'], { env: env() });
    const port = await listeningPort(waiter);
    await waiter.waitForOutput(/"event":"lock.wait"/);
    const first = await scrape(port);
    await sleep(500);
    const second = await scrape(port);
    expect(value(first, 'berth_lock_wait_seconds')).toBeGreaterThan(0);
    expect(value(second, 'berth_lock_wait_seconds')).toBeGreaterThan(value(first, 'berth_lock_wait_seconds')!);
    expect(value(second, 'berth_run_in_progress')).toBe(1);
    expect((await get(port, '/readyz')).status).toBe(503);
    expect((await get(port, '/healthz')).status).toBe(200);
    expect((await holder.exited).code).toBe(0);
    const result = await waiter.exited;
    expect(result.code, result.stderr).toBe(0);
  });

  it('a signal during the run interrupts it as usual (exit 143) and skips the linger', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const p = spawnBerth(['migrate', '--dir', writeMigrations(FILES), '--http', '127.0.0.1:0', '--linger', '10m', '--log-format', 'json'], { env: env() });
    const port = await listeningPort(p);
    await p.waitForOutput(/"event":"migration.start","version":2/);
    expect((await get(port, '/healthz')).status).toBe(200);
    p.kill('SIGTERM');
    const result = await p.exited;
    expect(result.code, result.stderr).toBe(143);
    expect(result.stderr).not.toContain('"event":"http.lingering"');
    const { rows } = await db().admin.query('SELECT version FROM berth_migrations ORDER BY version');
    expect(rows.map((r) => Number(r.version))).toEqual([1]);
  });

  it('a port in use is a usage error (exit 2, ERR_HTTP_LISTEN) naming the address, before anything runs', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const result = await runBerth(['migrate', '--dir', writeMigrations(FILES), '--http', `127.0.0.1:${port}`], { env: env() });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('ERR_HTTP_LISTEN');
      expect(messages(result.stderr)).toContain(`--http 127.0.0.1:${port}: cannot listen: the address is already in use`);
      const { rows } = await db().admin.query(`SELECT to_regclass('public.berth_migrations') AS t`);
      expect(rows[0]?.t).toBeNull();
    } finally {
      taken.close();
    }
  });

  it('refuses an address that is not one, naming the flag and the environment variable', async () => {
    const flag = await runBerth(['migrate', '--dir', writeMigrations(FILES), '--http', 'http://0.0.0.0:9464'], { env: env() });
    expect(flag.code).toBe(2);
    expect(messages(flag.stderr)).toMatch(/--http \(flag\): "http:\/\/0\.0\.0\.0:9464" is not a listen address/);
    const fromEnv = await runBerth(['migrate', '--dir', writeMigrations(FILES)], { env: { ...env(), BERTH_HTTP: '9464x' } });
    expect(fromEnv.code).toBe(2);
    expect(messages(fromEnv.stderr)).toMatch(/BERTH_HTTP \(environment\): "9464x" is not a listen address/);
  });
});

const server = await mysqlServer();

describe.skipIf(!server)('berth --http on MySQL / MariaDB', () => {
  const db = useMysqlDatabase(server!, 'http');

  it('serves the running migration and a healthy busy session during SLEEP()', async () => {
    const p = spawnBerth(['migrate', '--dir', writeMigrations({ '1_a.up.sql': 'CREATE TABLE a (id INT);', '2_slow.up.sql': 'SELECT SLEEP(3);' }),
      '--http', '127.0.0.1:0', '--linger', '1s', '--log-format', 'json'], { env: { DATABASE_URL: db().url, BERTH_DEBUG: '1' } });
    const port = await listeningPort(p);
    await p.waitForOutput(/"event":"migration.start","version":2/);
    await sleep(300);
    const during = await scrape(port);
    expect(value(during, 'berth_migration_in_progress', { version: '2', name: 'slow' })).toBe(1);
    expect(value(during, 'berth_current_migration_elapsed_seconds')).toBeGreaterThan(0);
    const health = await get(port, '/healthz');
    expect(health.status, health.body).toBe(200);
    expect(health.body).toMatch(/statement has been in flight/);
    await p.waitForOutput(/"event":"http.lingering"/);
    expect((await get(port, '/readyz')).status).toBe(200);
    expect((await p.exited).code).toBe(0);
  });
});
