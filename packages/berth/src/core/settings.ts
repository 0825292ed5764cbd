import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { SslSettings } from '../config/database-url.js';
import { DEFAULTS } from '../defaults.js';
import { parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';
import type { MigratorOptions } from './api.js';

export const DEFAULT_DIR = DEFAULTS.dir;
export const DEFAULT_TABLE = DEFAULTS.table;
export const DEFAULT_LOCK_TIMEOUT_MS = parseDuration(DEFAULTS.lockTimeout)!;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The migrator's options, validated, with durations in ms and defaults filled in (frozen). */
export interface Settings {
  readonly databaseUrl: () => string | Promise<string>;
  readonly dir: string;
  readonly table: string;
  readonly schema: string | undefined;
  readonly allowEmpty: boolean;
  readonly waitMs: number;
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly host: string;
  readonly ssl: SslSettings;
  readonly searchPath: string | undefined;
}

/** Validates every option at once (ConfigError listing each problem), then freezes them. */
export function settle(o: MigratorOptions): Settings {
  const problems: string[] = [];
  const duration = (key: string, value: string | number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const ms = typeof value === 'number' ? value : parseDuration(value);
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
      problems.push(`${key}: "${String(value)}" is not a duration (use 500ms, 30s, 5m, 1h or seconds)`);
      return fallback;
    }
    // PostgreSQL keeps statement_timeout, and Node its timers, in a signed 32-bit count of ms.
    if (key !== 'wait' && ms > 2_147_483_647) {
      problems.push(`${key}: "${String(value)}" is more than 2147483647 ms (about 24 days); use 0 for none`);
      return fallback;
    }
    return ms;
  };
  const table = o.table ?? DEFAULT_TABLE;
  if (!IDENTIFIER.test(table)) problems.push(`table: "${table}" is not a valid identifier (letters, digits, _; at most 63; not starting with a digit)`);
  if (o.schema !== undefined && !IDENTIFIER.test(o.schema)) problems.push(`schema: "${o.schema}" is not a valid identifier`);
  const settings: Settings = {
    databaseUrl: typeof o.databaseUrl === 'function' ? o.databaseUrl : () => o.databaseUrl as string,
    dir: resolve(o.dir ?? DEFAULT_DIR),
    table,
    schema: o.schema,
    allowEmpty: o.allowEmpty ?? DEFAULTS.allowEmpty,
    waitMs: duration('wait', o.wait, parseDuration(DEFAULTS.wait)!),
    lockTimeoutMs: duration('lockTimeout', o.lockTimeout, DEFAULT_LOCK_TIMEOUT_MS),
    statementTimeoutMs: duration('statementTimeout', o.statementTimeout, parseDuration(DEFAULTS.statementTimeout)!),
    host: o.host ?? hostname(),
    searchPath: o.searchPath,
    ssl: { ...(o.sslmode ? { mode: o.sslmode } : {}), ...(o.sslrootcert ? { rootcert: o.sslrootcert } : {}), override: o.sslOverridesUrl ?? false },
  };
  // Lower-case only: search_path folds an unquoted name, the history table's schema is quoted.
  if (o.searchPath !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(o.searchPath)) problems.push(`searchPath: "${o.searchPath}" is not a lower-case identifier (a-z, 0-9, _; at most 63; not starting with a digit)`);
  if (typeof o.databaseUrl !== 'function' && !o.databaseUrl) problems.push('databaseUrl: missing');
  if (problems.length) throw new ConfigError('ERR_CONFIG_INVALID', `invalid migrator options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return Object.freeze(settings);
}

