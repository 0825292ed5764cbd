/** Configuration: defaults, `_FILE` variants, and errors that name every bad key (no database). */
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { BASE_DEFAULTS, baseShape, parseEnv, serviceConfig, ServiceConfigError, type Env } from '../src/index.js';

const schema = z.object(baseShape);
const DEFAULTS = { ...BASE_DEFAULTS, MIGRATIONS_DIR: '/app/migrations' };
const files: Record<string, string> = { '/run/secrets/db-url': 'postgres://app:s3cret@db:5432/users\n' };
const readFile = (path: string) => {
  if (!(path in files)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return files[path]!;
};
const load = (env: Env) => serviceConfig(parseEnv(schema, DEFAULTS, { env, readFile }));
const issuesOf = (env: Env) => {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceConfigError);
    return (error as ServiceConfigError).issues;
  }
  throw new Error('expected a ServiceConfigError');
};

describe('service configuration', () => {
  it('applies the defaults of the contract and parses durations once', () => {
    const config = load({ DATABASE_URL: 'postgres://app@db/users', SHUTDOWN_TIMEOUT: '1500ms' });
    expect(config).toEqual({
      databaseUrl: 'postgres://app@db/users',
      port: 8080,
      host: '0.0.0.0',
      migrationsDir: '/app/migrations',
      migrateOnStart: false,
      migrationDatabaseUrl: 'postgres://app@db/users',
      shutdownTimeoutMs: 1500,
      dbPoolMax: 10,
      logLevel: 'info',
      debugDelayEndpoint: false,
    });
  });

  it('reads X_FILE (one trailing newline trimmed) and keeps MIGRATION_DATABASE_URL apart', () => {
    const config = load({ DATABASE_URL_FILE: '/run/secrets/db-url', MIGRATION_DATABASE_URL: 'postgres://owner@db/users', MIGRATE_ON_START: 'true' });
    expect(config.databaseUrl).toBe('postgres://app:s3cret@db:5432/users');
    expect(config.migrationDatabaseUrl).toBe('postgres://owner@db/users');
    expect(config.migrateOnStart).toBe(true);
  });

  it('reports every bad key at once, with its source, without echoing values', () => {
    const issues = issuesOf({
      DATABASE_URL: 'mysql://root:hunter2@db/x',
      PORT: 'eighty',
      SHUTDOWN_TIMEOUT: 'soon',
      LOG_LEVEL: 'loud',
      DB_POOL_MAX: '0',
      MIGRATE_ON_START: 'maybe',
    });
    expect(issues.map((i) => i.key).sort()).toEqual(['DATABASE_URL', 'DB_POOL_MAX', 'LOG_LEVEL', 'MIGRATE_ON_START', 'PORT', 'SHUTDOWN_TIMEOUT']);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
    expect(issues.find((i) => i.key === 'PORT')).toMatchObject({ source: 'environment', problem: 'must be an integer from 0 to 65535' });
  });

  it('names a missing key, an unreadable _FILE, and X set together with X_FILE', () => {
    expect(issuesOf({})).toEqual([{ key: 'DATABASE_URL', source: 'environment', problem: 'required: set DATABASE_URL or DATABASE_URL_FILE' }]);
    expect(issuesOf({ DATABASE_URL_FILE: '/run/secrets/missing' })).toEqual([
      { key: 'DATABASE_URL', source: 'DATABASE_URL_FILE', problem: 'cannot read /run/secrets/missing (ENOENT)' },
    ]);
    expect(issuesOf({ DATABASE_URL: 'postgres://a@b/c', DATABASE_URL_FILE: '/run/secrets/db-url' })[0]).toMatchObject({
      key: 'DATABASE_URL', problem: 'set DATABASE_URL or DATABASE_URL_FILE, not both',
    });
  });

  it('treats an empty variable as unset and returns a frozen object', () => {
    const values = parseEnv(schema, DEFAULTS, { env: { DATABASE_URL: 'postgres://a@b/c', PORT: '' }, readFile });
    expect(values.PORT).toBe(8080);
    expect(Object.isFrozen(values)).toBe(true);
  });
});
