import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildTargets, ConfigError, createFleet, EXIT_SEVERITY, mostSevere, parseShard, parseTargetList, shardOf, takeShard, targetListFromRows,
  withCredentials, type FleetTarget, type TargetResult,
} from '../../src/index.js';
import { resolveConfig } from '../../src/config/resolve.js';

const urlOf = async (t: FleetTarget) => (typeof t.databaseUrl === 'function' ? await t.databaseUrl() : t.databaseUrl);
const problem = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('targets list', () => {
  it('reads a template with names, explicit targets, and bare lists, in YAML and JSON', () => {
    expect(parseTargetList('template: postgres://app@db/tenant_{name}\nnames: [acme, globex, 42]\n', 'f')).toEqual({
      template: 'postgres://app@db/tenant_{name}', entries: [{ name: 'acme' }, { name: 'globex' }, { name: '42' }],
    });
    expect(parseTargetList('targets:\n  - name: eu\n    url: postgres://app@db-eu/app\n  - us\n', 'f').entries).toEqual([
      { name: 'eu', url: 'postgres://app@db-eu/app' }, { name: 'us' },
    ]);
    expect(parseTargetList('["a", {"name": "b", "url": "mysql://app@h/b"}]', 'f').entries).toEqual([{ name: 'a' }, { name: 'b', url: 'mysql://app@h/b' }]);
    expect(parseTargetList('', 'f').entries).toEqual([]);
  });

  it('refuses a password anywhere in the list without echoing it, unknown keys and bad names', () => {
    const message = problem(() => parseTargetList('targets: [{ name: eu, url: "postgres://app:s3cret@db/app" }]', '--targets t.yaml'));
    expect(message).toContain('--targets t.yaml, targets[0] (eu)');
    expect(message).toContain('password');
    expect(message).not.toContain('s3cret');
    expect(problem(() => parseTargetList('template: "postgres://app:hunter2@db/t_{name}"\nnames: [a]', 'f'))).not.toContain('hunter2');
    expect(problem(() => parseTargetList('targets: [{ name: eu, url: "postgres://db/app?password=x" }]', 'f'))).toContain('password');
    expect(problem(() => parseTargetList('names: [a]\npasswords: [x]', 'f'))).toContain('unknown key(s) passwords');
    expect(problem(() => parseTargetList('- { name: a, password: x }', 'f'))).toContain('unknown key(s) password');
    expect(problem(() => parseTargetList('names: ["../etc"]', 'f'))).toContain('names[0]');
    expect(problem(() => parseTargetList('names: [a, [b]', 'f'))).toContain('not YAML or JSON');
  });

  it('expands a template, URL-encoding the name, and takes credentials from the -d URL', async () => {
    const base = () => 'postgres://app:pw@db:5432/control';
    const [a, b] = buildTargets({ list: parseTargetList('template: postgres://app@db:5432/tenant_{name}\nnames: [acme, x.y]', 'f'), baseUrl: base, schemaPerTarget: false, origin: 'f' });
    expect(await urlOf(a!)).toBe('postgres://app:pw@db:5432/tenant_acme');
    expect(await urlOf(b!)).toBe('postgres://app:pw@db:5432/tenant_x.y');
    // The -d URL is the template itself.
    const [c] = buildTargets({ list: parseTargetList('[acme]', 'f'), baseUrl: () => 'postgres://app:pw@db/tenant_{name}', schemaPerTarget: false, origin: 'f' });
    expect(await urlOf(c!)).toBe('postgres://app:pw@db/tenant_acme');
    // Another user's URL gets no password of the -d URL's user.
    expect(withCredentials('postgres://other@db2/app', base())).toBe('postgres://other@db2/app');
    expect(withCredentials('postgres://db2/app', base())).toBe('postgres://app:pw@db2/app');
    expect(problem(() => buildTargets({ list: parseTargetList('[acme]', 'f'), baseUrl: base, schemaPerTarget: false, origin: '--targets f' }))).toContain('has no url, and there is no template');
    expect(problem(() => buildTargets({ list: parseTargetList('[a, a]', 'f'), baseUrl: base, schemaPerTarget: false, origin: 'f' }))).toContain('listed twice');
  });

  it('--schema-per-target: each name is a lower-case schema of the -d database', async () => {
    const [t] = buildTargets({ list: parseTargetList('[tenant_1]', 'f'), baseUrl: () => 'postgres://app@db/app', schemaPerTarget: true, origin: 'f' });
    expect(t).toMatchObject({ name: 'tenant_1', schema: 'tenant_1', searchPath: 'tenant_1' });
    expect(await urlOf(t!)).toBe('postgres://app@db/app');
    expect(problem(() => buildTargets({ list: parseTargetList('[Tenant]', 'f'), baseUrl: () => 'postgres://app@db/app', schemaPerTarget: true, origin: 'f' }))).toContain('lower case');
    expect(problem(() => buildTargets({ list: parseTargetList('[a]', 'f'), baseUrl: undefined, schemaPerTarget: true, origin: 'f' }))).toContain('needs the database');
  });

  it('rows of --targets-query need a name column', () => {
    expect(targetListFromRows([{ name: 'a' }, { name: 7, url: 'postgres://h/x' }], 'q').entries).toEqual([{ name: 'a' }, { name: '7', url: 'postgres://h/x' }]);
    expect(problem(() => targetListFromRows([{ tenant: 'a' }], 'q'))).toContain('column named name');
  });
});

describe('shards', () => {
  const names = Array.from({ length: 10_000 }, (_, i) => `tenant_${i}`);

  it('every target is in exactly one shard, the shards are balanced within 10%', () => {
    for (const count of [2, 4, 7]) {
      const sizes = Array.from({ length: count }, (_, index) => takeShard(names.map((name) => ({ name })), { index, count }).length);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(names.length);
      for (const size of sizes) expect(Math.abs(size - names.length / count)).toBeLessThan(0.1 * names.length / count);
    }
  });

  it('a target never moves when others are added or removed (rendezvous hashing)', () => {
    const before = new Map(names.map((n) => [n, shardOf(n, 4)]));
    const fewer = names.filter((_, i) => i % 3 !== 0);
    const more = [...fewer, 'new_a', 'new_b'];
    for (const n of more.filter((x) => before.has(x))) expect(shardOf(n, 4)).toBe(before.get(n));
    // Same name, same shard, in any order of the list.
    expect(takeShard([...names].reverse().map((name) => ({ name })), { index: 1, count: 4 }).map((t) => t.name).sort())
      .toEqual(takeShard(names.map((name) => ({ name })), { index: 1, count: 4 }).map((t) => t.name).sort());
  });

  it('parses i/n, and the Indexed Job default needs the count', () => {
    expect(parseShard('2/4', 'x')).toEqual({ index: 2, count: 4 });
    expect(problem(() => parseShard('4/4', '--shard'))).toContain('0 <= i < n');
    const env = { JOB_COMPLETION_INDEX: '3', BERTH_SHARDS: '8' };
    expect(resolveConfig({ flags: {}, env, readFile: () => '' }).shard).toMatchObject({ index: 3, count: 8 });
    expect(resolveConfig({ flags: {}, env: { JOB_COMPLETION_INDEX: '3' }, readFile: () => '' }).shard).toMatchObject({ index: 3, count: undefined });
    expect(resolveConfig({ flags: { shard: '1/2' }, env, readFile: () => '' }).shard).toMatchObject({ index: 1, count: 2 });
    expect(() => resolveConfig({ flags: { shard: '2/2' }, env: {}, readFile: () => '' })).toThrow(/--shard.*0 <= i < n/);
  });
});

describe('exit class over a fleet', () => {
  it('is the most severe by the documented order', () => {
    expect(EXIT_SEVERITY).toEqual([70, 2, 5, 6, 8, 1, 143, 130, 7, 4, 3, 0]);
    expect(mostSevere([])).toBe(0);
    expect(mostSevere([0, 3, 0])).toBe(3);
    expect(mostSevere([3, 7, 4])).toBe(7);
    expect(mostSevere([3, 1])).toBe(1);
    expect(mostSevere([1, 6, 143])).toBe(6);
    expect(mostSevere([5, 2])).toBe(2);
    expect(mostSevere([143, 4])).toBe(143);
  });
});

describe('createFleet on embedded databases', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-fleet-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, '1_a.up.sql'), 'CREATE TABLE a (id int);');
  writeFileSync(path.join(dir, '2_b.up.sql'), 'CREATE TABLE b (id int);');

  it('runs each target with its own migrator, yields each result once, and reports the most severe class', async () => {
    const targets: FleetTarget[] = [
      { name: 'one', databaseUrl: 'pglite://memory' },
      { name: 'bad', databaseUrl: 'postgres://nobody@127.0.0.1:1/none' },
      { name: 'two', databaseUrl: 'pglite://memory' },
    ];
    const seen: TargetResult[] = [];
    const fleet = createFleet({ targets, dir, parallel: 2 });
    const run = fleet.up();
    for await (const r of run) seen.push(r);
    const report = await run.report();
    expect(seen.map((r) => r.target).sort()).toEqual(['bad', 'one', 'two']);
    expect(report.results.map((r) => [r.target, r.result, r.exitCode])).toEqual([['one', 'applied', 0], ['bad', 'failed', 3], ['two', 'applied', 0]]);
    expect(report.results[0]!.applied).toEqual([1, 2]);
    expect(report).toMatchObject({ exitCode: 3, counts: { applied: 2, failed: 1 }, appliedMigrations: 4, failed: [{ target: 'bad', exitCode: 3, code: 'ERR_DB_UNREACHABLE' }] });
  }, 60_000);

  it('--fail-fast starts no target after the first failure; by default every target is tried', async () => {
    const targets: FleetTarget[] = ['a', 'b', 'c'].map((name) => ({ name, databaseUrl: 'postgres://nobody@127.0.0.1:1/none' }));
    const fast = await createFleet({ targets, dir, failFast: true, parallel: 1 }).up().report();
    expect(fast.results.map((r) => r.result)).toEqual(['failed', 'skipped', 'skipped']);
    expect(fast.stopped).toBe('fail-fast');
    const all = await createFleet({ targets, dir, parallel: 1 }).up().report();
    expect(all.results.map((r) => r.result)).toEqual(['failed', 'failed', 'failed']);
    expect(all.stopped).toBeUndefined();
  });

  it('a failed canary leaves every other target untouched (skipped)', async () => {
    const targets: FleetTarget[] = [
      { name: 'bad', databaseUrl: 'postgres://nobody@127.0.0.1:1/none' },
      ...['a', 'b', 'c'].map((name) => ({ name, databaseUrl: 'postgres://nobody@127.0.0.1:1/none' })),
    ];
    const report = await createFleet({ targets, dir, canary: 1, parallel: 4 }).up().report();
    expect(report.results.map((r) => r.result)).toEqual(['failed', 'skipped', 'skipped', 'skipped']);
    expect(report).toMatchObject({ stopped: 'canary', exitCode: 3 });
  }, 60_000);
});

describe('the report on a terminal', () => {
  const result = (target: string, over: Partial<TargetResult> = {}): TargetResult => ({ target, result: 'applied', exitCode: 0, applied: [1, 2], current: 2, pending: 0, durationMs: 10, ...over });

  it('lists each target while there are few, then counts, the slowest and the failed with their first error line', async () => {
    const { summarizeFleet } = await import('../../src/index.js');
    const { table } = await import('../../src/cli/fleet.js');
    const few = table(summarizeFleet({ command: 'migrate', shard: null, parallel: 2, durationMs: 30, results: [
      result('acme'), result('globex', { result: 'failed', exitCode: 1, code: 'ERR_MIGRATION_FAILED', error: '3_x.up.sql: division by zero', applied: [] }),
    ] }));
    expect(few).toMatch(/^TARGET +RESULT +EXIT +APPLIED +VERSION +DURATION +ERROR$/m);
    expect(few).toMatch(/^globex +failed +1 +.*division by zero$/m);
    expect(few).toContain('2 target(s), 2 migration(s) applied, 2 at once');
    expect(few).toMatch(/exit 1\n$/);
    const many = table(summarizeFleet({ command: 'migrate', shard: { index: 0, count: 2 }, parallel: 8, durationMs: 900, results: [
      ...Array.from({ length: 60 }, (_, i) => result(`t${i}`, { durationMs: i })),
      result('slow', { durationMs: 5000 }), result('gone', { result: 'failed', exitCode: 3, code: 'ERR_DB_UNREACHABLE', error: 'cannot reach', applied: [] }),
    ] }));
    expect(many).not.toContain('TARGET ');
    expect(many).toMatch(/^applied +61$/m);
    expect(many).toMatch(/^SLOWEST[^\n]*\nslow +5s/m);
    expect(many).toMatch(/^FAILED +EXIT +CODE +FIRST ERROR LINE\ngone +3 +ERR_DB_UNREACHABLE +cannot reach$/m);
  });
});
