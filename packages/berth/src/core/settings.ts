import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { SslSettings } from '../config/database-url.js';
import { DEFAULTS } from '../defaults.js';
import { parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';
import type { LockMode, MigratorOptions } from './api.js';

export const LOCK_MODES: readonly LockMode[] = ['advisory', 'lease', 'auto'];
/** Below this a heartbeat (a sixth of it) would be a busy loop, and a GC pause would lose the lease. */
export const MIN_LEASE_TTL_MS = 1_000;

export const DEFAULT_DIR = DEFAULTS.dir;
export const DEFAULT_TABLE = DEFAULTS.table;
/** The lease table is the history table's name with this suffix, in its schema. */
export const LEASE_SUFFIX = '_lock';
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
  readonly lock: LockMode;
  readonly leaseTtlMs: number;
  readonly host: string;
  readonly release: string | null;
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
  if (o.release !== undefined && o.release.length > 255) problems.push(`release: "${o.release.slice(0, 40)}…" is longer than 255 characters`);
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
    lock: o.lock ?? (DEFAULTS.lock as LockMode),
    leaseTtlMs: duration('leaseTtl', o.leaseTtl, parseDuration(DEFAULTS.leaseTtl)!),
    host: o.host ?? hostname(),
    release: o.release === undefined || o.release === '' ? null : o.release,
    searchPath: o.searchPath,
    ssl: { ...(o.sslmode ? { mode: o.sslmode } : {}), ...(o.sslrootcert ? { rootcert: o.sslrootcert } : {}), override: o.sslOverridesUrl ?? false },
  };
  if (!LOCK_MODES.includes(settings.lock)) problems.push(`lock: "${String(settings.lock)}" is not one of ${LOCK_MODES.join(', ')}`);
  if (settings.leaseTtlMs < MIN_LEASE_TTL_MS) problems.push(`leaseTtl: must be at least ${MIN_LEASE_TTL_MS} ms`);
  // The lease table is named after the history table and must fit in an identifier.
  if (settings.lock !== 'advisory' && table.length > 63 - LEASE_SUFFIX.length) problems.push(`table: "${table}" leaves no room for its lease table ${table}${LEASE_SUFFIX} (at most ${63 - LEASE_SUFFIX.length} characters with --lock ${settings.lock})`);
  // Lower-case only: search_path folds an unquoted name, the history table's schema is quoted.
  if (o.searchPath !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(o.searchPath)) problems.push(`searchPath: "${o.searchPath}" is not a lower-case identifier (a-z, 0-9, _; at most 63; not starting with a digit)`);
  if (typeof o.databaseUrl !== 'function' && !o.databaseUrl) problems.push('databaseUrl: missing');
  if (problems.length) throw new ConfigError('ERR_CONFIG_INVALID', `invalid migrator options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return Object.freeze(settings);
}

