import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, jsonLines, makeTempDir, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { query, testDatabaseName, useTestDatabase, withDatabase } from '../helpers/db.js';
import { pgAdminUrl } from '../helpers/context.js';
import { reserveClosedPort } from '../helpers/tcp-proxy.js';

const FILES = {
  '1_a.up.sql': 'CREATE TABLE a (id int);',
  '1_a.down.sql': 'DROP TABLE a;',
  '2_b.up.sql': 'CREATE TABLE b (id int);',
  '2_b.down.sql': 'DROP TABLE b;',
};

describe('berth await', () => {
  const created: string[] = [];
  afterAll(async () => {
    for (const name of created) await query(pgAdminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  it('started before the database exists and before migrate, returns 0 once migrate has finished', async () => {
    const name = testDatabaseName('await');
    const url = withDatabase(pgAdminUrl(), name);
    const dir = writeMigrations(FILES);
    const waiter = spawnBerth(['await', '--dir', dir, '--timeout', '60s', '--log-format', 'json'], { env: { DATABASE_URL: url } });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(waiter.child.exitCode).toBeNull();
    await query(pgAdminUrl(), `CREATE DATABASE ${name}`);
    created.push(name);
    await new Promise((r) => setTimeout(r, 500));
    expect(waiter.child.exitCode).toBeNull();
    const migrate = await runBerth(['migrate', '--dir', dir], { env: { DATABASE_URL: url } });
    expect(migrate.code, migrate.stderr).toBe(0);
    // How soon it notices is a figure, not a test (tests assert no wall-clock times).
    const result = await waiter.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('schema is at version 2 (expected 2)\n');
  });

  it('exits 3 at its timeout naming the current and the expected version', async () => {
    const name = testDatabaseName('await_never');
    await query(pgAdminUrl(), `CREATE DATABASE ${name}`);
    created.push(name);
    const url = withDatabase(pgAdminUrl(), name);
    expect((await runBerth(['migrate', '--dir', writeMigrations(FILES)], { env: { DATABASE_URL: url } })).code).toBe(0);
    const result = await runBerth(['await', '--version', '7', '--timeout', '1500ms'], { env: { DATABASE_URL: url } });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/did not reach version 7 within 1.5s: it is at 2/);
  });
});

describe('event stream and metrics', () => {
  const db = useTestDatabase('observability');
  const env = () => ({ DATABASE_URL: db().url });
  const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, 'docs/events/v1.schema.json'), 'utf8'));
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  ajv.addFormat('date-time', (t: string) => !Number.isNaN(Date.parse(t)) && /^\d{4}-\d\d-\d\dT/.test(t));
  const validate = ajv.compile(schema);

  it('every json line of full runs (lock wait, failure, rollback, await, status) validates against the published schema', async () => {
    const lines: string[] = [];
    const collect = (stderr: string) => lines.push(...stderr.split('\n').filter((l) => l.trim() !== ''));
    const slow = writeMigrations({ ...FILES, '3_slow.up.sql': 'SELECT pg_sleep(1.5);', '3_slow.down.sql': 'SELECT 1;' });
    const holder = spawnBerth(['migrate', '--dir', slow, '--log-format', 'json'], { env: { ...env(), BERTH_DEBUG: '1' } });
    await holder.waitForOutput(/"event":"lock.acquired"/);
    const waiter = await runBerth(['migrate', '--dir', slow, '--log-format', 'json'], { env: { ...env(), BERTH_DEBUG: '1' } });
    collect((await holder.exited).stderr);
    collect(waiter.stderr);
    expect(waiter.code).toBe(0);
    expect(waiter.stderr).toContain('"event":"lock.wait"');
    const failing = await runBerth(['migrate', '--dir', writeMigrations({ ...FILES, '3_slow.up.sql': 'SELECT pg_sleep(1.5);', '4_bad.up.sql': 'SELECT * FROM nowhere;' }), '--log-format', 'json'], { env: env() });
    expect(failing.code).toBe(1);
    collect(failing.stderr);
    for (const args of [['down', '--steps', '1'], ['status'], ['await', '--version', '2', '--timeout', '5s'], ['check'], ['migrate', '--dry-run']]) {
      const r = await runBerth([...args, '--dir', slow, '--log-format', 'json'], { env: { ...env(), BERTH_DEBUG: '1' } });
      collect(r.stderr);
    }
    expect(lines.length).toBeGreaterThan(20);
    const invalid = lines.map((l) => JSON.parse(l)).filter((e) => !validate(e)).map((e) => ({ e, errors: validate.errors?.slice(0, 3) }));
    expect(invalid).toEqual([]);
    const events = new Set(lines.map((l) => JSON.parse(l).event));
    for (const name of ['connect.attempt', 'connect.ok', 'lock.wait', 'lock.acquired', 'lock.released', 'migration.start', 'migration.applied', 'migration.failed', 'migration.reverted', 'run.error', 'run.summary']) {
      expect(events).toContain(name);
    }
  });

  it('writes a metrics file that parses and holds the run, and pushes the same body to a Pushgateway', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const received: { method?: string; url?: string; body: string }[] = [];
    const gateway = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    const { port } = gateway.address() as { port: number };
    try {
      const file = path.join(makeTempDir('berth-metrics-'), 'berth.prom');
      const result = await runBerth(['migrate', '--dir', writeMigrations(FILES), '--metrics-file', file, '--metrics-push', `http://127.0.0.1:${port}`],
        { env: { ...env(), HOSTNAME: 'pod-1' } });
      expect(result.code, result.stderr).toBe(0);
      const text = readFileSync(file, 'utf8');
      const families = parsePrometheus(text);
      const value = (name: string) => Number(families.find((f) => f.name === name)?.metrics[0]?.value);
      expect(value('berth_migrations_applied_total')).toBe(2);
      expect(value('berth_schema_version')).toBe(2);
      expect(value('berth_pending_migrations')).toBe(0);
      expect(value('berth_last_run_success')).toBe(1);
      expect(value('berth_last_success_timestamp_seconds')).toBeGreaterThan(1.7e9);
      expect(value('berth_run_duration_seconds')).toBeGreaterThan(0);
      const histogram = families.find((f) => f.name === 'berth_migration_duration_seconds');
      expect(histogram?.metrics[0]?.buckets?.['+Inf']).toBe('2');
      const labels = families.find((f) => f.name === 'berth_schema_version')?.metrics[0]?.labels;
      expect(labels).toEqual({ database: `127.0.0.1:${new URL(db().url).port || 5432}/${db().name}`, table: 'public.berth_migrations' });
      expect(text).not.toMatch(/password|postgres:\/\//);

      expect(received).toHaveLength(1);
      expect(received[0]?.method).toBe('POST');
      expect(received[0]?.url).toBe(`/metrics/job/berth/instance/pod-1/database/${encodeURIComponent(labels?.database ?? "")}`);
      expect(received[0]?.body).toBe(text);
    } finally {
      await new Promise((r) => gateway.close(r));
    }
  });

  it('a push to a closed port leaves the exit code unchanged and warns', async () => {
    await db().admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const port = await reserveClosedPort();
    const result = await runBerth(['migrate', '--dir', writeMigrations(FILES), '--metrics-push', `http://127.0.0.1:${port}`, '--log-format', 'json'], { env: env() });
    expect(result.code).toBe(0);
    const failed = jsonLines(result.stderr).find((e) => e.event === 'metrics.failed');
    expect(failed).toMatchObject({ level: 'warn', target: 'push' });
    const bad = await runBerth(['migrate', '--dir', writeMigrations({ ...FILES, '3_bad.up.sql': 'SELECT 1/0;' }), '--metrics-push', `http://127.0.0.1:${port}`], { env: env() });
    expect(bad.code).toBe(1);
  });
});
