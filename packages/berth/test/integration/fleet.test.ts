/**
 * Fleets against the real PostgreSQL (docs/fleets.md): 200 databases and 500 schemas, each with its
 * own session, lock and history. Every migration inserts its version into a log table, so "applied
 * exactly once per target" is read from the targets themselves, not from berth's report.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, makeTempDir, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { pgAdminUrl } from '../helpers/context.js';
import { connect, createTestDatabase, query, withDatabase, type TestDatabase } from '../helpers/db.js';

const DATABASES = 200;
const SCHEMAS = 500;
const RUN = { timeoutMs: 300_000 } as const;
const LONG = 300_000;

/** Migration `v`: a table, and one row in the target's log. */
const migration = (v: number, extra = '') =>
  `CREATE TABLE t${v} (id int);\nINSERT INTO public.fleet_log (target, version) VALUES (current_database() || '/' || current_schema(), ${v});\n${extra}`;
const migrations = (versions: number[], extra: Record<number, string> = {}) =>
  writeMigrations(Object.fromEntries(versions.map((v) => [`${String(v).padStart(3, '0')}_m${v}.up.sql`, migration(v, extra[v])])));
/** Migrations 14 to 16 of the schemas' fleet: slow enough that a run is still going when a signal arrives. */
const SLEEPY = { 14: 'SELECT pg_sleep(0.02);', 15: 'SELECT pg_sleep(0.02);', 16: 'SELECT pg_sleep(0.02);' };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

interface Report {
  exitCode: number;
  targets: number;
  counts: { applied: number; unchanged: number; ok: number; failed: number; interrupted: number; skipped: number };
  stopped?: string;
  failed: { target: string; exitCode: number; code?: string; error?: string }[];
  results: { target: string; result: string; exitCode: number | null; code?: string; applied: number[] }[];
}
const reportOf = (stdout: string): Report => JSON.parse(stdout.trim().split('\n').at(-1)!) as Report;

describe('fleets', () => {
  const tag = randomBytes(3).toString('hex');
  const dbNames = range(1, DATABASES).map((i) => `berth_t_fleet_${tag}_${i}`);
  const schemaNames = range(1, SCHEMAS).map((i) => `tenant_${i}`);
  let host: TestDatabase;
  let template: string;
  let cwd: string;
  let dbTemplateUrl: string;

  beforeAll(async () => {
    host = await createTestDatabase('fleethost');
    await host.admin.query('CREATE TABLE public.fleet_log (target text, version int)');
    // Each tenant database is a copy of one that has the log table: CREATE DATABASE ... TEMPLATE.
    template = `berth_t_fleettpl_${tag}`;
    await query(pgAdminUrl(), `CREATE DATABASE ${template}`);
    await query(withDatabase(pgAdminUrl(), template), 'CREATE TABLE public.fleet_log (target text, version int)');
    const admin = await connect(pgAdminUrl());
    try {
      // One at a time: a template may have no other session while it is copied.
      for (const name of dbNames) await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
    } finally {
      await admin.end();
    }
    cwd = makeTempDir('berth-fleet-');
    writeFileSync(path.join(cwd, 'dbs.yaml'), `names:\n${dbNames.map((n) => `  - ${n}`).join('\n')}\n`);
    writeFileSync(path.join(cwd, 'schemas.json'), JSON.stringify({ names: schemaNames }));
    const u = new URL(pgAdminUrl());
    u.pathname = '/NAME_HERE';
    // The -d URL is the template (it may carry the password; the list never does).
    dbTemplateUrl = u.toString().replace('NAME_HERE', '{name}');
  }, LONG);

  afterAll(async () => {
    const admin = await connect(pgAdminUrl());
    try {
      for (const name of [...dbNames, template]) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
    await host?.drop();
  }, LONG);

  const dbs = (dir: string, ...more: string[]) => ['migrate', '-d', dbTemplateUrl, '--targets', 'dbs.yaml', '--dir', dir, '--log-format', 'json', ...more];
  const schemas = (dir: string, ...more: string[]) => ['migrate', '-d', host.url, '--schema-per-target', '--targets', 'schemas.json', '--dir', dir, '--log-format', 'json', ...more];

  /** Every (target, version) in the logs, with how many times it was inserted. */
  async function logged(): Promise<Map<string, number[]>> {
    const byTarget = new Map<string, number[]>();
    const add = (rows: { target: string; version: number }[]) => {
      for (const r of rows) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r.version]);
    };
    add((await host.admin.query<{ target: string; version: number }>('SELECT target, version FROM public.fleet_log ORDER BY version')).rows);
    const queue = [...dbNames];
    await Promise.all(range(1, 8).map(async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        add((await query<{ target: string; version: number }>(withDatabase(pgAdminUrl(), name), 'SELECT target, version FROM public.fleet_log ORDER BY version')).rows);
      }
    }));
    return byTarget;
  }
  const everyTarget = () => [...dbNames.map((n) => `${n}/public`), ...schemaNames.map((s) => `${host.name}/${s}`)];

  it('applies 10 migrations to 200 databases and 500 schemas with --parallel 8, each exactly once', async () => {
    const dir = migrations(range(1, 10));
    const [a, b] = await Promise.all([runBerth(dbs(dir, '--parallel', '8'), { cwd, ...RUN }), runBerth(schemas(dir, '--parallel', '8', '--report', 'schemas-report.json'), { cwd, ...RUN })]);
    expect(a.code, a.stderr.slice(-2000)).toBe(0);
    expect(b.code, b.stderr.slice(-2000)).toBe(0);
    expect(reportOf(a.stdout)).toMatchObject({ exitCode: 0, targets: DATABASES, counts: { applied: DATABASES, failed: 0 } });
    const schemaReport = JSON.parse(readFileSync(path.join(cwd, 'schemas-report.json'), 'utf8')) as Report;
    expect(schemaReport).toMatchObject({ exitCode: 0, targets: SCHEMAS, counts: { applied: SCHEMAS } });
    expect(new Set(schemaReport.results.map((r) => r.applied.join(',')))).toEqual(new Set([range(1, 10).join(',')]));
    const log = await logged();
    for (const t of everyTarget()) expect(log.get(t), t).toEqual(range(1, 10));
    expect(log.size).toBe(DATABASES + SCHEMAS);
    // The history table is in each schema, and the tables where its search_path put them.
    const { rows } = await host.admin.query<{ n: string }>("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema LIKE 'tenant\\_%' AND table_name IN ('berth_migrations', 't10')");
    expect(Number(rows[0]!.n)).toBe(2 * SCHEMAS);
  }, LONG);

  it('4 shard processes at once over each fleet: every target reported once, every new migration applied once', async () => {
    const dir = migrations(range(1, 13));
    const runs = await Promise.all([0, 1, 2, 3].flatMap((i) => [
      runBerth(dbs(dir, '--parallel', '2', '--shard', `${i}/4`), { cwd, ...RUN }),
      // The Indexed Job's way: the index and the count from the environment.
      runBerth(schemas(dir, '--parallel', '2'), { cwd, ...RUN, env: { JOB_COMPLETION_INDEX: String(i), BERTH_SHARDS: '4' } }),
    ]));
    for (const r of runs) expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const reported = runs.flatMap((r) => reportOf(r.stdout).results);
    expect(reported).toHaveLength(DATABASES + SCHEMAS);
    expect(new Set(reported.map((r) => r.target)).size).toBe(DATABASES + SCHEMAS);
    for (const r of reported) expect(r, r.target).toMatchObject({ result: 'applied', applied: [11, 12, 13] });
    // Balanced: no shard has more than twice its share.
    for (const r of runs) expect(reportOf(r.stdout).targets).toBeLessThan(((DATABASES + SCHEMAS) / 8) * 2);
    const log = await logged();
    for (const t of everyTarget()) expect(log.get(t), t).toEqual(range(1, 13));
  }, LONG);

  it('a failing SQL target and an unreachable one are reported with their classes; the rest succeed', async () => {
    const bad = dbNames[7]!;
    const dir = migrations(range(1, 14), { 14: `SELECT 1 / (CASE WHEN current_database() = '${bad}' THEN 0 ELSE 1 END);` });
    writeFileSync(path.join(cwd, 'dbs-plus.yaml'), `targets:\n  - { name: gone, url: "postgres://postgres@127.0.0.1:1/gone" }\nnames:\n${dbNames.map((n) => `  - ${n}`).join('\n')}\n`);
    const r = await runBerth(['migrate', '-d', dbTemplateUrl, '--targets', 'dbs-plus.yaml', '--dir', dir, '--parallel', '8', '--log-format', 'json'], { cwd, ...RUN });
    const report = reportOf(r.stdout);
    // 1 (a migration failed) is more severe than 3 (unreachable): a person has to look first.
    expect(r.code).toBe(1);
    expect(report.exitCode).toBe(1);
    expect(report.counts).toMatchObject({ applied: DATABASES - 1, failed: 2 });
    expect(report.failed.map((f) => [f.target, f.exitCode, f.code]).sort()).toEqual([[bad, 1, 'ERR_MIGRATION_FAILED'], ['gone', 3, 'ERR_DB_UNREACHABLE']]);
    expect(report.failed.find((f) => f.target === bad)?.error).toMatch(/014_m14|division by zero/);
    const log = await logged();
    expect(log.get(`${bad}/public`)).toEqual(range(1, 13));
    for (const n of dbNames.filter((x) => x !== bad)) expect(log.get(`${n}/public`), n).toEqual(range(1, 14));
    // The log lines name their target.
    expect(jsonLines(r.stderr).some((l) => l.event === 'fleet.target.done' && l.target === 'gone' && l.exitCode === 3)).toBe(true);
  }, LONG);

  it('--canary 5 with a failing canary touches no other target', async () => {
    const bad = dbNames[7]!;
    const dir = migrations(range(1, 15), { 14: `SELECT 1 / (CASE WHEN current_database() = '${bad}' THEN 0 ELSE 1 END);` });
    const order = [bad, ...dbNames.filter((n) => n !== bad)];
    writeFileSync(path.join(cwd, 'canary.yaml'), `names:\n${order.map((n) => `  - ${n}`).join('\n')}\n`);
    const r = await runBerth(['migrate', '-d', dbTemplateUrl, '--targets', 'canary.yaml', '--dir', dir, '--canary', '5', '--parallel', '8', '--log-format', 'json'], { cwd, ...RUN });
    const report = reportOf(r.stdout);
    expect(r.code).toBe(1);
    expect(report).toMatchObject({ stopped: 'canary', counts: { applied: 4, failed: 1, skipped: DATABASES - 5 } });
    expect(report.results.slice(0, 5).map((x) => x.result)).toEqual(['failed', 'applied', 'applied', 'applied', 'applied']);
    const log = await logged();
    for (const n of order.slice(1, 5)) expect(log.get(`${n}/public`)).toContain(15);
    for (const n of order.slice(5)) expect(log.get(`${n}/public`), n).toEqual(range(1, 14));
  }, LONG);

  it('SIGTERM half-way: running targets roll back, the rest are skipped; a rerun completes with nothing applied twice', async () => {
    // Slow enough that the run is still going when the signal arrives.
    const dir = migrations(range(1, 16), SLEEPY);
    const child = spawnBerth(schemas(dir, '--parallel', '4'), { cwd, timeoutMs: LONG });
    // Half-way: once 100 targets are done.
    const deadline = Date.now() + 120_000;
    while ((child.stderr.match(/"event":"fleet\.target\.done"/g)?.length ?? 0) < 100) {
      if (Date.now() > deadline) throw new Error(`100 targets were not done in time:\n${child.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    const stopped = await child.exited;
    expect(stopped.code).toBe(143);
    const first = reportOf(stopped.stdout);
    expect(first.stopped).toBe('interrupted');
    expect(first.counts.applied).toBeGreaterThanOrEqual(100);
    expect(first.counts.skipped).toBeGreaterThan(0);
    expect(first.counts.applied + first.counts.interrupted + first.counts.skipped).toBe(SCHEMAS);
    for (const x of first.results.filter((y) => y.result === 'interrupted')) expect(x.exitCode).toBe(143);

    const rerun = await runBerth(schemas(dir, '--parallel', '8'), { cwd, ...RUN });
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    const second = reportOf(rerun.stdout);
    const done = new Set(first.results.filter((y) => y.result === 'applied' && y.applied.length === 3).map((y) => y.target));
    for (const x of second.results) expect(x.result, x.target).toBe(done.has(x.target) ? 'unchanged' : 'applied');
    const log = await logged();
    for (const s of schemaNames) expect(log.get(`${host.name}/${s}`), s).toEqual(range(1, 16));
  }, LONG);

  it('status and check over the fleet; check names the targets that are behind (exit 5)', async () => {
    const dir = migrations(range(1, 16), SLEEPY);
    const status = await runBerth(['status', '-d', host.url, '--schema-per-target', '--targets', 'schemas.json', '--dir', dir, '--log-format', 'json'], { cwd, ...RUN });
    expect(status.code).toBe(0);
    expect(reportOf(status.stdout)).toMatchObject({ counts: { ok: SCHEMAS } });
    const ahead = migrations(range(1, 17), SLEEPY);
    const check = await runBerth(['check', '-d', host.url, '--schema-per-target', '--targets', 'schemas.json', '--dir', ahead, '--log-format', 'json', '--shard', '0/4'], { cwd, ...RUN });
    expect(check.code).toBe(5);
    const report = reportOf(check.stdout);
    expect(report.failed.length).toBe(report.targets);
    expect(report.failed[0]).toMatchObject({ exitCode: 5, code: 'ERR_SCHEMA_NOT_CURRENT' });
  }, LONG);

  it('--targets-query reads the targets from a control database; stdin works too', async () => {
    await host.admin.query('CREATE TABLE tenants (name text, active boolean)');
    await host.admin.query("INSERT INTO tenants SELECT 'tenant_' || i, i % 2 = 0 FROM generate_series(1, 20) i");
    const dir = migrations(range(1, 16), SLEEPY);
    const r = await runBerth(['validate', '-d', host.url, '--schema-per-target', '--targets-query', 'SELECT name FROM tenants WHERE active', '--dir', dir, '--log-format', 'json'], { cwd, ...RUN });
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    expect(reportOf(r.stdout).results.map((x) => x.target).sort()).toEqual(range(1, 10).map((i) => `tenant_${i * 2}`).sort());
    const s = await runBerth(['check', '-d', host.url, '--schema-per-target', '--targets', '-', '--dir', dir, '--log-format', 'json'], { cwd, ...RUN, input: '[tenant_1, tenant_2]' });
    expect(s.code).toBe(0);
    expect(reportOf(s.stdout).targets).toBe(2);
  }, LONG);
});

describe('migrate --lint over a fleet', () => {
  let host: TestDatabase;
  let cwd: string;
  beforeAll(async () => {
    host = await createTestDatabase('fleetlint');
    cwd = makeTempDir('berth-fleet-lint-');
    writeFileSync(path.join(cwd, 'tenants.yaml'), 'names: [t1, t2, t3, t4]');
  });
  afterAll(async () => {
    await host?.drop();
  });

  it('lints each set of pending files once for the fleet; --lint error touches no target that would apply an error', async () => {
    const base = writeMigrations({ '001_accounts.up.sql': 'CREATE TABLE accounts (id bigint PRIMARY KEY);' });
    const args = (dir: string, ...more: string[]) => ['migrate', '-d', host.url, '--schema-per-target', '--targets', 'tenants.yaml', '--dir', dir, '--log-format', 'json', ...more];
    const first = await runBerth(args(base), { cwd });
    expect(first.code, first.stderr).toBe(0);
    // An index on a table that now has rows, without CONCURRENTLY: an error finding.
    const dir = writeMigrations({
      '001_accounts.up.sql': 'CREATE TABLE accounts (id bigint PRIMARY KEY);',
      '002_accounts_idx.up.sql': '-- berth:lock-timeout 5s\nCREATE INDEX accounts_id_idx ON accounts (id);',
    });
    const refused = await runBerth(args(dir, '--lint', 'error'), { cwd });
    expect(refused.code, refused.stderr).toBe(5);
    const findings = jsonLines(refused.stderr).filter((l) => l.event === 'lint.finding');
    expect(findings.map((f) => [f.rule, f.file])).toEqual([['index-not-concurrent', '002_accounts_idx.up.sql']]);
    expect(reportOf(refused.stdout).results.map((r) => [r.target, r.result, r.code]).sort()).toEqual(
      ['t1', 't2', 't3', 't4'].map((t) => [t, 'failed', 'ERR_LINT_FAILED']));
    for (const t of ['t1', 't2', 't3', 't4']) {
      expect((await host.admin.query(`SELECT max(version)::int AS v FROM ${t}.berth_migrations`)).rows[0]?.v, t).toBe(1);
      expect((await host.admin.query(`SELECT to_regclass('${t}.accounts_id_idx') AS i`)).rows[0]?.i, t).toBeNull();
    }
    // The default (warn) prints the finding once, not once per tenant, and applies.
    const warned = await runBerth(args(dir), { cwd });
    expect(warned.code, warned.stderr).toBe(0);
    expect(jsonLines(warned.stderr).filter((l) => l.event === 'lint.finding')).toHaveLength(1);
    expect(reportOf(warned.stdout).counts).toMatchObject({ applied: 4 });
  });

  it('--schema-per-target: a file that creates an object in public is refused before any tenant gets it (--lint error)', async () => {
    writeFileSync(path.join(cwd, 'more.yaml'), 'names: [s1, s2, s3]');
    const dir = writeMigrations({ '001_plans.up.sql': 'CREATE TABLE public.plans (id bigint PRIMARY KEY);' });
    const refused = await runBerth(['migrate', '-d', host.url, '--schema-per-target', '--targets', 'more.yaml', '--dir', dir, '--log-format', 'json', '--lint', 'error'], { cwd });
    expect(refused.code, refused.stderr).toBe(5);
    const findings = jsonLines(refused.stderr).filter((l) => l.event === 'lint.finding');
    expect(findings.map((f) => [f.rule, f.line])).toEqual([['outside-tenant-schema', 1]]);
    expect((await host.admin.query("SELECT to_regclass('public.plans') AS t")).rows[0]?.t).toBeNull();
    // What the default (warn) would have done: the first tenant creates public.plans, the others fail.
    const warned = await runBerth(['migrate', '-d', host.url, '--schema-per-target', '--targets', 'more.yaml', '--dir', dir, '--log-format', 'json', '--parallel', '1'], { cwd });
    expect(warned.code).toBe(1);
    expect(jsonLines(warned.stderr).filter((l) => l.event === 'lint.finding')).toHaveLength(1);
    expect(reportOf(warned.stdout).counts).toMatchObject({ applied: 1, failed: 2 });
    expect(reportOf(warned.stdout).failed.map((f) => f.error).join('\n')).toMatch(/already exists/);
  });
});

describe('fleet usage errors (exit 2)', () => {
  it('a password in the list, a command that does not run over a fleet, a missing shard count', async () => {
    const cwd = makeTempDir('berth-fleet-usage-');
    writeFileSync(path.join(cwd, 'pw.yaml'), 'targets: [{ name: a, url: "postgres://app:hunter2@db/a" }]');
    const pw = await runBerth(['migrate', '--targets', 'pw.yaml', '--log-format', 'json'], { cwd });
    expect(pw.code).toBe(2);
    expect(pw.stderr).toContain('holds a password');
    expect(pw.stderr).not.toContain('hunter2');
    const down = await runBerth(['down', '--all', '-d', 'postgres://x@h/y', '--targets', 'pw.yaml'], { cwd });
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('does not run over a fleet');
    writeFileSync(path.join(cwd, 'ok.yaml'), 'names: [a]');
    const job = await runBerth(['migrate', '-d', 'postgres://x@127.0.0.1:1/{name}', '--targets', 'ok.yaml'], { cwd, env: { JOB_COMPLETION_INDEX: '0' } });
    expect(job.code).toBe(2);
    expect(job.stderr).toContain('BERTH_SHARDS');
    expect(job.stderr).toContain('deploy/k8s/fleet/tenants-migrate.yaml');
  });

  it('a shard none of the list falls in exits 0 without connecting, and says so', async () => {
    const cwd = makeTempDir('berth-fleet-empty-');
    // "a" hashes to one of two shards: the other has nothing. Port 1 answers nothing, so a connection would fail.
    writeFileSync(path.join(cwd, 'one.yaml'), 'names: [a]');
    const runs = await Promise.all(['0/2', '1/2'].map((shard) =>
      runBerth(['migrate', '-d', 'postgres://x@127.0.0.1:1/{name}', '--targets', 'one.yaml', '--shard', shard, '--wait', '0s', '--log-format', 'json'], { cwd })));
    const empty = runs.find((r) => reportOf(r.stdout).targets === 0)!;
    expect(runs.filter((r) => reportOf(r.stdout).targets === 1)).toHaveLength(1);
    expect(empty.code, empty.stderr).toBe(0);
    expect(jsonLines(empty.stderr).find((l) => l.event === 'run.summary')?.msg).toMatch(/: none of the 1 listed is in this shard$/);
  });
});
