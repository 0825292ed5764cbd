import { describe, expect, it } from 'vitest';

import { DEFAULTS, resolveConfig, type ResolveInput, type ResolvedConfig } from '../../src/config/resolve.js';
import { SETTINGS, type SettingKey } from '../../src/config/settings.js';
import { ConfigError } from '../../src/errors.js';

type Env = Record<string, string | undefined>;
type Flags = ResolveInput['flags'];

/** An in-memory secrets mount: path → content; any other path fails like fs.readFileSync does. */
function secretFiles(files: Record<string, string> = {}) {
  const reads: string[] = [];
  const readFile = (path: string): string => {
    reads.push(path);
    const content = files[path];
    if (content === undefined) {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    }
    return content;
  };
  return { readFile, reads, files };
}

function resolve(env: Env = {}, flags: Flags = {}, files: Record<string, string> = {}): ResolvedConfig {
  return resolveConfig({ env, flags, readFile: secretFiles(files).readFile });
}

/** The ConfigError a resolution throws, with its listed problems. */
function configError(env: Env = {}, flags: Flags = {}, files: Record<string, string> = {}): { error: ConfigError; problems: string[] } {
  let caught: unknown;
  try {
    resolve(env, flags, files);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.code).toBe('ERR_CONFIG_INVALID');
  expect(error.exitCode).toBe(2);
  const problems = error.details['problems'] as string[];
  // The message lists the same problems the details carry.
  for (const p of problems) expect(error.message).toContain(p);
  return { error, problems };
}

describe('resolveConfig: defaults', () => {
  it('uses the built-in defaults when nothing is set, and records them as such', () => {
    const config = resolve();
    expect(config).toMatchObject({
      databaseUrl: undefined,
      dir: './migrations',
      table: 'berth_migrations',
      schema: undefined,
      waitMs: 0,
      lockTimeoutMs: 15 * 60_000,
      statementTimeoutMs: 0,
      logFormat: undefined,
      quiet: false,
      sslmode: undefined,
      sslrootcert: undefined,
      sslFromFlag: false,
    });
    expect(config.sources.table).toEqual({ kind: 'default' });
    expect(config.sources.lockTimeout).toEqual({ kind: 'default' });
    expect(config.sources.databaseUrl).toBeUndefined();
  });

  it('every setting in the table has an env twin and every default is a setting', () => {
    for (const spec of SETTINGS) expect(spec.env.length, spec.key).toBeGreaterThan(0);
    const keys = new Set(SETTINGS.map((s) => s.key));
    for (const key of Object.keys(DEFAULTS)) expect(keys.has(key as SettingKey), key).toBe(true);
  });

  it('returns a frozen object', () => {
    const config = resolve();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.sources)).toBe(true);
  });
});

describe('resolveConfig: precedence defaults < environment < flags', () => {
  // key, env variable, env value, flag value, field of the result, parsed env value, parsed flag value
  const cases: [SettingKey, string, string, string | boolean, keyof ResolvedConfig, unknown, unknown][] = [
    ['dir', 'BERTH_DIR', '/env/migrations', '/flag/migrations', 'dir', '/env/migrations', '/flag/migrations'],
    ['table', 'BERTH_TABLE', 'env_history', 'flag_history', 'table', 'env_history', 'flag_history'],
    ['schema', 'BERTH_SCHEMA', 'env_schema', 'flag_schema', 'schema', 'env_schema', 'flag_schema'],
    ['wait', 'BERTH_WAIT', '30s', '2m', 'waitMs', 30_000, 120_000],
    ['lockTimeout', 'BERTH_LOCK_TIMEOUT', '500ms', '10', 'lockTimeoutMs', 500, 10_000],
    ['statementTimeout', 'BERTH_STATEMENT_TIMEOUT', '1h', '90s', 'statementTimeoutMs', 3_600_000, 90_000],
    ['logFormat', 'BERTH_LOG_FORMAT', 'json', 'pretty', 'logFormat', 'json', 'pretty'],
    ['quiet', 'BERTH_QUIET', 'true', false, 'quiet', true, false],
    ['sslmode', 'PGSSLMODE', 'require', 'verify-full', 'sslmode', 'require', 'verify-full'],
    ['sslrootcert', 'PGSSLROOTCERT', '/env/ca.pem', '/flag/ca.pem', 'sslrootcert', '/env/ca.pem', '/flag/ca.pem'],
  ];

  it.each(cases)('%s: the environment (%s) beats the default', (key, envName, envValue, _flag, field, parsedEnv) => {
    const config = resolve({ [envName]: envValue });
    expect(config[field]).toEqual(parsedEnv);
    expect(config.sources[key]).toEqual({ kind: 'env', name: envName });
  });

  it.each(cases)('%s: the flag beats the environment (%s)', (key, envName, envValue, flagValue, field, _parsedEnv, parsedFlag) => {
    const config = resolve({ [envName]: envValue }, { [key]: flagValue });
    expect(config[field]).toEqual(parsedFlag);
    expect(config.sources[key]?.kind).toBe('flag');
  });

  it.each(cases)('%s: %s_FILE supplies the value from a file, trailing newline trimmed', (key, envName, envValue, _flag, field, parsedEnv) => {
    const config = resolve({ [`${envName}_FILE`]: '/run/secrets/value' }, {}, { '/run/secrets/value': `${envValue}\n` });
    expect(config[field]).toEqual(parsedEnv);
    expect(config.sources[key]).toEqual({ kind: 'env-file', name: `${envName}_FILE`, path: '/run/secrets/value' });
  });

  it('flags are recorded under their long name', () => {
    const config = resolve({}, { databaseUrl: 'pglite://memory', quiet: true, wait: '1s' });
    expect(config.sources.databaseUrl).toEqual({ kind: 'flag', name: '--database-url' });
    expect(config.sources.quiet).toEqual({ kind: 'flag', name: '--quiet' });
    expect(config.sources.wait).toEqual({ kind: 'flag', name: '--wait' });
  });

  it('a flag beats X_FILE too, and the file is then not read again for the URL', () => {
    const secrets = secretFiles({ '/run/secrets/url': 'postgres://from-file@db/app\n' });
    const config = resolveConfig({ env: { DATABASE_URL_FILE: '/run/secrets/url' }, flags: { databaseUrl: 'postgres://from-flag@db/app' }, readFile: secrets.readFile });
    const readsBefore = secrets.reads.length;
    expect(config.databaseUrl?.()).toBe('postgres://from-flag@db/app');
    expect(secrets.reads.length).toBe(readsBefore);
  });

  it('an empty variable counts as unset', () => {
    const config = resolve({ BERTH_TABLE: '', BERTH_WAIT: '', DATABASE_URL: '' });
    expect(config.table).toBe('berth_migrations');
    expect(config.waitMs).toBe(0);
    expect(config.databaseUrl).toBeUndefined();
  });

  it.each([
    ['true', true], ['1', true], ['yes', true], ['false', false], ['0', false], ['no', false],
  ])('BERTH_QUIET=%s → %s', (value, expected) => {
    expect(resolve({ BERTH_QUIET: value }).quiet).toBe(expected);
  });

  it('sslFromFlag is true only when sslmode or sslrootcert came from a flag', () => {
    expect(resolve({ PGSSLMODE: 'require', PGSSLROOTCERT: '/ca.pem' }).sslFromFlag).toBe(false);
    expect(resolve({}, { sslmode: 'require' }).sslFromFlag).toBe(true);
    expect(resolve({ PGSSLMODE: 'require' }, { sslrootcert: '/ca.pem' }).sslFromFlag).toBe(true);
  });
});

describe('resolveConfig: the database URL', () => {
  it('DATABASE_URL alone is used', () => {
    const config = resolve({ DATABASE_URL: 'postgres://a@db/app' });
    expect(config.databaseUrl?.()).toBe('postgres://a@db/app');
    expect(config.sources.databaseUrl).toEqual({ kind: 'env', name: 'DATABASE_URL' });
  });

  it('BERTH_DATABASE_URL beats DATABASE_URL (the app may use DATABASE_URL with other credentials)', () => {
    const config = resolve({ DATABASE_URL: 'postgres://app@db/app', BERTH_DATABASE_URL: 'postgres://owner@db/app' });
    expect(config.databaseUrl?.()).toBe('postgres://owner@db/app');
    expect(config.sources.databaseUrl).toEqual({ kind: 'env', name: 'BERTH_DATABASE_URL' });
  });

  it('BERTH_DATABASE_URL_FILE beats DATABASE_URL', () => {
    const config = resolve({ DATABASE_URL: 'postgres://app@db/app', BERTH_DATABASE_URL_FILE: '/run/secrets/owner' }, {}, { '/run/secrets/owner': 'postgres://owner@db/app\n' });
    expect(config.databaseUrl?.()).toBe('postgres://owner@db/app');
    expect(config.sources.databaseUrl).toEqual({ kind: 'env-file', name: 'BERTH_DATABASE_URL_FILE', path: '/run/secrets/owner' });
  });

  it('BERTH_DATABASE_URL beats DATABASE_URL_FILE, whose file then is not consulted for the URL', () => {
    const secrets = secretFiles({ '/run/secrets/app': 'postgres://app@db/app' });
    const config = resolveConfig({ env: { DATABASE_URL_FILE: '/run/secrets/app', BERTH_DATABASE_URL: 'postgres://owner@db/app' }, flags: {}, readFile: secrets.readFile });
    secrets.files['/run/secrets/app'] = 'postgres://rotated@db/app';
    expect(config.databaseUrl?.()).toBe('postgres://owner@db/app');
  });

  it('trims one trailing CRLF or LF from a secret file, nothing else', () => {
    expect(resolve({ DATABASE_URL_FILE: '/s' }, {}, { '/s': 'postgres://a@db/app\r\n' }).databaseUrl?.()).toBe('postgres://a@db/app');
    expect(resolve({ DATABASE_URL_FILE: '/s' }, {}, { '/s': 'postgres://a@db/app' }).databaseUrl?.()).toBe('postgres://a@db/app');
  });

  it('re-reads the secret file on every call, so a rotated secret is picked up', () => {
    const secrets = secretFiles({ '/run/secrets/db': 'postgres://app:first@db/app\n' });
    const config = resolveConfig({ env: { DATABASE_URL_FILE: '/run/secrets/db' }, flags: {}, readFile: secrets.readFile });
    expect(config.databaseUrl?.()).toBe('postgres://app:first@db/app');
    secrets.files['/run/secrets/db'] = 'postgres://app:second@db/app\n';
    expect(config.databaseUrl?.()).toBe('postgres://app:second@db/app');
    secrets.files['/run/secrets/db'] = 'postgres://app:third@db/app\n';
    expect(config.databaseUrl?.()).toBe('postgres://app:third@db/app');
    expect(secrets.reads.filter((p) => p === '/run/secrets/db').length).toBeGreaterThanOrEqual(4);
  });

  it('a secret file that disappears after start-up is a configuration error naming the variable, not a crash', () => {
    const secrets = secretFiles({ '/run/secrets/db': 'postgres://app:first@db/app\n' });
    const config = resolveConfig({ env: { DATABASE_URL_FILE: '/run/secrets/db' }, flags: {}, readFile: secrets.readFile });
    delete secrets.files['/run/secrets/db'];
    let caught: unknown;
    try {
      config.databaseUrl?.();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toContain('DATABASE_URL_FILE');
    expect((caught as ConfigError).message).toContain('/run/secrets/db');
  });

  it('a URL from the environment or a flag is returned as given by every call', () => {
    const config = resolve({}, { databaseUrl: 'pglite://memory' });
    expect(config.databaseUrl?.()).toBe('pglite://memory');
    expect(config.databaseUrl?.()).toBe('pglite://memory');
  });
});

describe('resolveConfig: errors name the key and where the value came from', () => {
  it.each(['DATABASE_URL', 'BERTH_DATABASE_URL', 'BERTH_WAIT', 'PGSSLMODE'])('%s and %s_FILE both set → one error naming both', (name) => {
    const { problems } = configError({ [name]: 'x', [`${name}_FILE`]: '/run/secrets/x' }, {}, { '/run/secrets/x': 'y' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(name);
    expect(problems[0]).toContain(`${name}_FILE`);
  });

  it.each(SETTINGS.flatMap((spec) => spec.env.map((name) => [spec.key, name] as const)))(
    '%s: %s and its _FILE twin both set is an error, whatever the value',
    (_key, name) => {
      const { problems } = configError({ [name]: 'x', [`${name}_FILE`]: '/run/secrets/x' }, {}, { '/run/secrets/x': 'y' });
      expect(problems.some((p) => p.includes(name) && p.includes(`${name}_FILE`))).toBe(true);
    },
  );

  it('a timeout the server (or a Node timer) cannot hold is refused at start-up, not at connect', () => {
    const { problems } = configError({ BERTH_STATEMENT_TIMEOUT: '600h' }, { lockTimeout: '700h' });
    expect(problems).toEqual([
      expect.stringMatching(/^--lock-timeout \(flag\): must be at most 2147483647 ms/),
      expect.stringMatching(/^BERTH_STATEMENT_TIMEOUT \(environment\): must be at most 2147483647 ms/),
    ]);
    expect(resolve({ BERTH_STATEMENT_TIMEOUT: '500h' }).statementTimeoutMs).toBe(500 * 3_600_000);
  });

  it('both set is an error even though a flag would win', () => {
    const { problems } = configError({ BERTH_WAIT: '1s', BERTH_WAIT_FILE: '/w' }, { wait: '2s' }, { '/w': '3s' });
    expect(problems.join('\n')).toContain('BERTH_WAIT_FILE');
  });

  it('an unreadable _FILE names the variable, the path and the reason', () => {
    const { problems } = configError({ DATABASE_URL_FILE: '/run/secrets/nope' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('DATABASE_URL_FILE');
    expect(problems[0]).toContain('/run/secrets/nope');
    expect(problems[0]).toContain('ENOENT');
  });

  it.each([
    [{ BERTH_WAIT: 'abc' }, {}, 'BERTH_WAIT (environment)', 'abc'],
    [{}, { wait: 'abc' }, '--wait (flag)', 'abc'],
    [{ BERTH_WAIT: '30s' }, { wait: '-5s' }, '--wait (flag)', '-5s'],
    [{ BERTH_LOCK_TIMEOUT: '5 minutes' }, {}, 'BERTH_LOCK_TIMEOUT (environment)', '5 minutes'],
    [{}, { lockTimeout: '1e3' }, '--lock-timeout (flag)', '1e3'],
    [{ BERTH_STATEMENT_TIMEOUT: '5d' }, {}, 'BERTH_STATEMENT_TIMEOUT (environment)', '5d'],
    [{ BERTH_WAIT_FILE: '/run/secrets/wait' }, {}, 'BERTH_WAIT_FILE=/run/secrets/wait (secret file)', 'soon'],
  ] as [Env, Flags, string, string][])('an invalid duration (%j %j) names %s and the value', (env, flags, where, value) => {
    const { problems } = configError(env, flags, { '/run/secrets/wait': 'soon\n' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(where);
    expect(problems[0]).toContain(`"${value}"`);
    expect(problems[0]).toMatch(/not a duration/);
  });

  it.each([
    ['table', 'my-table'],
    ['table', '1history'],
    ['table', 'history; DROP TABLE users'],
    ['table', 'a'.repeat(64)],
    ['table', '"quoted"'],
    ['schema', 'public.x'],
    ['schema', 'sch ema'],
  ] as [SettingKey, string][])('an invalid %s identifier %j is refused, naming the flag', (key, value) => {
    const { problems } = configError({}, { [key]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`--${key} (flag)`);
    expect(problems[0]).toContain('identifier');
  });

  it('an invalid identifier from the environment names the variable', () => {
    const { problems } = configError({ BERTH_TABLE: 'berth-migrations' });
    expect(problems[0]).toContain('BERTH_TABLE (environment)');
  });

  it.each(['a', '_x', 'A1_b2', 'a'.repeat(63)])('accepts the identifier %j', (value) => {
    expect(resolve({}, { table: value }).table).toBe(value);
  });

  it.each([
    [{ BERTH_LOG_FORMAT: 'xml' }, 'BERTH_LOG_FORMAT (environment)', 'pretty or json'],
    [{ PGSSLMODE: 'prefer' }, 'PGSSLMODE (environment)', 'verify-full'],
    [{ PGSSLMODE: 'allow' }, 'PGSSLMODE (environment)', 'verify-full'],
    [{ BERTH_QUIET: 'maybe' }, 'BERTH_QUIET (environment)', 'true or false'],
    [{ BERTH_DIR: '' }, null, null],
  ] as [Env, string | null, string | null][])('%j is refused with its source and the allowed values', (env, where, allowed) => {
    if (where === null) {
      // An empty variable is unset, not an empty directory.
      expect(resolve(env).dir).toBe('./migrations');
      return;
    }
    const { problems } = configError(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(where);
    expect(problems[0]).toContain(allowed!);
  });

  it('an empty --dir flag is refused', () => {
    const { problems } = configError({}, { dir: '' });
    expect(problems[0]).toContain('--dir (flag)');
  });

  it('reports every problem at once', () => {
    const { error, problems } = configError(
      {
        BERTH_WAIT: 'abc',
        BERTH_LOG_FORMAT: 'xml',
        PGSSLMODE: 'prefer',
        DATABASE_URL: 'postgres://a@db/app',
        DATABASE_URL_FILE: '/run/secrets/db',
        BERTH_SCHEMA_FILE: '/run/secrets/missing',
      },
      { lockTimeout: 'forever', table: 'bad-name' },
      { '/run/secrets/db': 'postgres://b@db/app' },
    );
    expect(problems).toHaveLength(7);
    const text = problems.join('\n');
    for (const expected of ['BERTH_WAIT (environment)', 'BERTH_LOG_FORMAT (environment)', 'PGSSLMODE (environment)', 'DATABASE_URL_FILE', 'BERTH_SCHEMA_FILE', '--lock-timeout (flag)', '--table (flag)']) {
      expect(text).toContain(expected);
    }
    expect(error.message.split('\n').filter((l) => l.startsWith('  - '))).toHaveLength(7);
  });

  it('never echoes the database URL in an error', () => {
    const secret = 'pa55-w0rd-do-not-print';
    let caught: unknown;
    try {
      resolve({ DATABASE_URL: `postgres://app:${secret}@db/app`, BERTH_WAIT: 'abc' }, { table: 'bad-name' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect(JSON.stringify((caught as ConfigError).toJSON())).not.toContain(secret);
    expect((caught as ConfigError).message).not.toContain(secret);
  });
});
