import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import {
  configFileValues, loadConfigFile, parseConfigText, suggestKey, unknownKeyHint, type ConfigFileLayer,
} from '../../src/config/config-file.js';
import { resolveConfig, type ResolveInput, type ResolvedConfig } from '../../src/config/resolve.js';
import { SETTINGS } from '../../src/config/settings.js';
import { ConfigError } from '../../src/errors.js';
import { makeTempDir } from '../helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const BASE = '/srv/app';

function layer(values: Record<string, unknown>, file = 'berth.config.yaml'): ConfigFileLayer {
  return { path: file, baseDir: BASE, values };
}

function resolveWith(values: Record<string, unknown>, rest: Partial<Omit<ResolveInput, 'file'>> = {}): ResolvedConfig {
  return resolveConfig({ flags: {}, env: {}, readFile: () => '', ...rest, file: layer(values) });
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    return (err as ConfigError).details.problems as string[];
  }
  throw new Error('expected a ConfigError');
}

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).exitCode).toBe(2);
  return error as ConfigError;
}

describe('config file layer in resolveConfig', () => {
  it('applies file values over the defaults and records where each came from', () => {
    const config = resolveWith({ table: 'from_file', lockTimeout: '5m', wait: 30, quiet: true, logFormat: 'json' });
    expect(config).toMatchObject({ table: 'from_file', lockTimeoutMs: 300_000, waitMs: 30_000, quiet: true, logFormat: 'json', configFile: 'berth.config.yaml' });
    expect(config.sources.lockTimeout).toEqual({ kind: 'file', name: 'lockTimeout in berth.config.yaml', path: 'berth.config.yaml', key: 'lockTimeout' });
    expect(config.sources.dir).toEqual({ kind: 'default' });
  });

  it('reads a bare number as seconds, like every other duration', () => {
    expect(resolveWith({ wait: 1.5, lockTimeout: 0, statementTimeout: '250ms' })).toMatchObject({ waitMs: 1_500, lockTimeoutMs: 0, statementTimeoutMs: 250 });
  });

  it('precedence is defaults < file < environment < flags', () => {
    const file = { lockTimeout: '5m', wait: '10s', table: 'file_table' };
    const env = { BERTH_LOCK_TIMEOUT: '1m', BERTH_WAIT: '20s' };
    const config = resolveWith(file, { env, flags: { wait: '30s' } });
    expect(config).toMatchObject({ table: 'file_table', lockTimeoutMs: 60_000, waitMs: 30_000 });
    expect(config.sources).toMatchObject({ table: { kind: 'file' }, lockTimeout: { kind: 'env', name: 'BERTH_LOCK_TIMEOUT' }, wait: { kind: 'flag', name: '--wait' } });
  });

  it('a database URL in the file is used unless the environment has one', () => {
    expect(resolveWith({ databaseUrl: 'pglite://memory' }).databaseUrl?.()).toBe('pglite://memory');
    const overridden = resolveWith({ databaseUrl: 'pglite://memory' }, { env: { DATABASE_URL_FILE: '/run/secrets/url' }, readFile: () => 'postgres://u@db/app\n' });
    expect(overridden.databaseUrl?.()).toBe('postgres://u@db/app');
  });

  it('null and undefined mean "not set here"', () => {
    const config = resolveWith({ schema: null, table: undefined });
    expect(config).toMatchObject({ schema: undefined, table: 'berth_migrations' });
    expect(config.sources.table).toEqual({ kind: 'default' });
  });

  it('resolves relative dir and sslrootcert against the file\'s folder', () => {
    expect(resolveWith({ dir: 'db/migrations', sslrootcert: './ca.pem' })).toMatchObject({ dir: '/srv/app/db/migrations', sslrootcert: '/srv/app/ca.pem' });
    expect(resolveWith({ dir: '/abs/migrations' }).dir).toBe('/abs/migrations');
    // A flag's relative dir stays relative to the working directory.
    expect(resolveWith({ dir: 'db' }, { flags: { dir: 'other' } }).dir).toBe('other');
  });

  it('takes switches as YAML booleans and counts as numbers: a fleet project\'s file', () => {
    const config = resolveWith({ schemaPerTarget: true, failFast: true, allowEmpty: true, targets: 'tenants.yaml', parallel: 8, canary: 2 });
    expect(config).toMatchObject({ schemaPerTarget: true, failFast: true, allowEmpty: true, parallel: 8, canary: 2 });
    expect(problemsOf(() => resolveWith({ failFast: 3, parallel: 2.5, canary: -1 })).sort()).toEqual([
      'canary in berth.config.yaml: must be a whole number (0: no canary)',
      'failFast in berth.config.yaml: must be true or false, not number 3',
      'parallel in berth.config.yaml: must be a whole number from 1 to 99999',
    ]);
  });

  it('reports every problem at once, each naming the key and the file', () => {
    const problems = problemsOf(() => resolveWith(
      { lockTimeout: 'soon', lock_timeout: '5m', table: 5, quiet: 'maybe', wait: { seconds: 3 }, sslmode: 'prefer' },
      { env: { BERTH_SCHEMA: '1bad' } },
    ));
    expect(problems).toEqual(expect.arrayContaining([
      'lock_timeout in berth.config.yaml: unknown key; did you mean lockTimeout?',
      'table in berth.config.yaml: must be a string, not number 5',
      'wait in berth.config.yaml: must be a duration such as "30s", "500ms", "5m", or a number of seconds, not an object',
      expect.stringMatching(/^lockTimeout in berth\.config\.yaml: "soon" is not a duration/),
      'quiet in berth.config.yaml: must be true or false',
      expect.stringMatching(/^sslmode in berth\.config\.yaml: must be one of disable, require/),
      expect.stringMatching(/^BERTH_SCHEMA \(environment\): must be an identifier/),
    ]));
    expect(problems).toHaveLength(7);
  });

  it('an invalid file value overridden by a flag is still reported: the file is wrong either way', () => {
    const problems = problemsOf(() => resolveWith({ wait: [] }, { flags: { wait: '5s' } }));
    expect(problems).toEqual(['wait in berth.config.yaml: must be a duration such as "30s", "500ms", "5m", or a number of seconds, not a list']);
  });
});

describe('unknown keys', () => {
  it.each([
    ['lock_timeout', 'lockTimeout'],
    ['database_url', 'databaseUrl'],
    ['databaseURL', 'databaseUrl'],
    ['DATABASE_URL', 'databaseUrl'],
    ['BERTH_LOCK_TIMEOUT', 'lockTimeout'],
    ['lock-timeout', 'lockTimeout'],
    ['PGSSLMODE', 'sslmode'],
    ['lockTimout', 'lockTimeout'],
    ['shema', 'schema'],
    ['migrationsDir', 'dir'],
    ['url', 'databaseUrl'],
    ['statementTimeoutMs', 'statementTimeout'],
    ['ssl', 'sslmode'],
  ])('%s → did you mean %s?', (key, expected) => {
    expect(suggestKey(key)).toBe(expected);
  });

  it('says durations are not milliseconds when the key ends in Ms', () => {
    expect(unknownKeyHint('lockTimeoutMs')).toBe('did you mean lockTimeout? (durations are strings such as "500ms" or numbers of seconds)');
  });

  it('lists the keys when nothing is close', () => {
    expect(suggestKey('colour')).toBeUndefined();
    expect(configFileValues(layer({ colour: 'blue' })).problems).toEqual([
      `colour in berth.config.yaml: unknown key; the keys are ${SETTINGS.map((s) => s.key).join(', ')}`,
    ]);
    expect(unknownKeyHint('colour')).toMatch(/^the keys are databaseUrl, dir, allowEmpty, table, schema, wait, lockTimeout, statementTimeout, logFormat, quiet, sslmode, sslrootcert/);
  });
});

describe('parseConfigText', () => {
  it('JSON syntax errors give line and column', async () => {
    const error = await rejection(parseConfigText('{\n  "table": "x",\n}\n', 'json', 'berth.config.json'));
    expect(error.message).toMatch(/^berth\.config\.json:3:1: not valid JSON: /);
  });

  it('YAML syntax errors and duplicate keys give line and column', async () => {
    expect((await rejection(parseConfigText('table: a\ntable: b\n', 'yaml', 'berth.config.yaml'))).message).toMatch(/^berth\.config\.yaml:2:1: not valid YAML: .*unique/i);
    expect((await rejection(parseConfigText('table: [a\n', 'yaml', 'berth.config.yml'))).message).toMatch(/^berth\.config\.yml:\d+:\d+: not valid YAML: /);
  });

  it('the top level must be an object; an empty YAML file is an empty config', async () => {
    expect((await rejection(parseConfigText('- dir: x\n', 'yaml', 'c.yaml'))).message).toBe('c.yaml: the file must hold one mapping of settings (such as { "lockTimeout": "5m" }), not a list');
    expect((await rejection(parseConfigText('"x"', 'json', 'c.json'))).message).toMatch(/must hold one object of settings .* not the string "x"/);
    expect(await parseConfigText('# nothing yet\n', 'yaml', 'c.yaml')).toEqual({});
    expect(await parseConfigText('\uFEFF{"table":"t"}', 'json', 'c.json')).toEqual({ table: 't' });
  });
});

describe('loadConfigFile', () => {
  it.each([
    ['json', { dir: './db/migrations', table: 'json_history', lockTimeout: '5m', wait: 30, quiet: true }],
    ['yaml', { dir: 'db/migrations', table: 'yaml_history', schema: null, lockTimeout: '90s', statementTimeout: 0, logFormat: 'json', sslmode: 'verify-full', sslrootcert: 'certs/ca.pem' }],
    ['yml', { table: 'yml_history', wait: 1.5 }],
    ['ts', { schema: 'billing', table: 'ts_history', wait: 45, lockTimeout: '2m' }],
    ['js', { table: 'js_history', statementTimeout: '10m' }],
    ['mjs', { table: 'mjs_history', dir: '../shared-migrations' }],
  ])('finds and reads berth.config.%s in the working directory', async (kind, values) => {
    const cwd = path.join(FIXTURES, kind);
    const found = await loadConfigFile({ cwd });
    expect(found).toEqual({ path: expect.stringMatching(/^berth\.config\.(json|yaml|yml|ts|js|mjs)$/), baseDir: cwd, values });
    // And the values resolve: every fixture is a valid configuration.
    expect(() => resolveConfig({ flags: {}, env: {}, readFile: () => '', file: found! })).not.toThrow();
  });

  it('resolves a file\'s relative dir against its folder', async () => {
    const found = await loadConfigFile({ cwd: path.join(FIXTURES, 'mjs') });
    expect(resolveConfig({ flags: {}, env: {}, readFile: () => '', file: found! }).dir).toBe(path.join(FIXTURES, 'shared-migrations'));
  });

  it('returns undefined when there is no config file', async () => {
    expect(await loadConfigFile({ cwd: FIXTURES })).toBeUndefined();
  });

  it('two config files are an error naming both', async () => {
    const error = await rejection(loadConfigFile({ cwd: path.join(FIXTURES, 'two') }));
    expect(error.message).toBe(`berth.config.json and berth.config.yaml are both in ${path.join(FIXTURES, 'two')}; berth reads one config file: delete the others, or choose one with --config <file>`);
  });

  it('--config reads the named file (relative to the working directory) and skips the search', async () => {
    const found = await loadConfigFile({ cwd: path.join(FIXTURES, 'two'), explicit: '../explicit/team.yaml' });
    expect(found).toEqual({ path: '../explicit/team.yaml', baseDir: path.join(FIXTURES, 'explicit'), values: { dir: './migrations', table: 'explicit_history' } });
    const config = resolveConfig({ flags: {}, env: {}, readFile: () => '', file: found! });
    expect(config.dir).toBe(path.join(FIXTURES, 'explicit', 'migrations'));
    expect(config.sources.table).toMatchObject({ kind: 'file', name: 'table in ../explicit/team.yaml' });
  });

  it('--config with a missing file or an unknown extension is an error naming it', async () => {
    expect((await rejection(loadConfigFile({ cwd: FIXTURES, explicit: 'nope/berth.config.yaml' }))).message)
      .toBe(`--config nope/berth.config.yaml: the file does not exist (resolved to ${path.join(FIXTURES, 'nope/berth.config.yaml')})`);
    expect((await rejection(loadConfigFile({ cwd: FIXTURES, explicit: 'berth.toml' }))).message)
      .toBe('--config berth.toml: unsupported file type; use .json, .yaml, .yml, .ts, .js or .mjs');
    expect((await rejection(loadConfigFile({ cwd: FIXTURES, explicit: 'json.json' }))).message).toMatch(/does not exist/);
  });

  it('a code config with a syntax error, a throwing function or no default export fails with exit 2', async () => {
    const dir = makeTempDir('berth-config-code-');
    writeFileSync(path.join(dir, 'broken.ts'), 'export default {\n  table: ,\n};\n');
    writeFileSync(path.join(dir, 'throws.mjs'), 'export default async () => { throw new Error("no vault token"); };\n');
    writeFileSync(path.join(dir, 'named.mjs'), 'export const table = "t";\n');
    writeFileSync(path.join(dir, 'list.js'), 'export default ["t"];\n');
    expect((await rejection(loadConfigFile({ cwd: dir, explicit: 'broken.ts' }))).message)
      .toBe(`config file: cannot load ${path.join(dir, 'broken.ts')}:2:9: syntax error: Unexpected token`);
    expect((await rejection(loadConfigFile({ cwd: dir, explicit: 'throws.mjs' }))).message).toBe('throws.mjs: its default export function threw: no vault token');
    expect((await rejection(loadConfigFile({ cwd: dir, explicit: 'named.mjs' }))).message).toMatch(/^named\.mjs: export default the settings object, .* \(found only named exports: table\)$/);
    expect((await rejection(loadConfigFile({ cwd: dir, explicit: 'list.js' }))).message).toBe('list.js: the default export must be an object of settings (or a function returning one), not a list');
  });
});
