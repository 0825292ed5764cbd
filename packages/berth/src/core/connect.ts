import { redactSecrets, type DatabaseTarget, type SslSettings } from '../config/database-url.js';
import { formatDuration } from '../duration.js';
import type { Dialect } from '../drivers/dialect.js';
import { ConnectionLostError, type Driver, type ServerInfo, type SessionKeeper, type UnsetSetting } from '../drivers/driver.js';
import { driverFor, parseDatabaseUrl } from '../drivers/registry.js';
import { BerthError, ConfigError, TargetRejectedError, UnreachableError } from '../errors.js';
import type { BerthEvent, EventListener } from './events.js';
import { guardDriver } from './guard-driver.js';
import { sleep } from './sleep.js';

export interface ConnectOptions {
  /** Resolved again for every attempt, so a rotated `*_FILE` secret is picked up. */
  readonly databaseUrl: () => string | Promise<string>;
  readonly waitMs: number;
  readonly applicationName: string;
  /** `--sslmode` / `--sslrootcert` (a flag beats the URL; the URL beats the environment). */
  readonly ssl?: SslSettings;
  readonly onEvent: EventListener;
  readonly signal?: AbortSignal;
  /** Keeps an in-process database open between the operations of one migrator. */
  readonly keeper: SessionKeeper;
  /**
   * Retry a target that refuses us too (no such database, a role not created yet), until the
   * deadline: `await` waits for a database that an init script is still setting up.
   */
  readonly retryRejected?: boolean;
  /** The session's search_path (MigratorOptions.searchPath); refused where the driver has none. */
  readonly searchPath?: string;
}

export interface Connection {
  /** Guarded (guard-driver.ts): server text redacted, failures of berth's own statements classified. */
  readonly driver: Driver;
  readonly server: ServerInfo;
  readonly target: DatabaseTarget;
  /** How the target's database reads SQL (its registry entry's). */
  readonly dialect: Dialect;
  /** The target's secrets, to mask in any other text from outside berth (a code migration's error). */
  readonly secrets: readonly string[];
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;
const MAX_ATTEMPT_TIMEOUT_MS = 10_000;
const MIN_ATTEMPT_TIMEOUT_MS = 1_000;

/** A `SessionKeeper` over a map; `closeAll` ends what it kept. */
export function sessionKeeper(): SessionKeeper & { closeAll(): Promise<void> } {
  const kept = new Map<string, Promise<{ end(): Promise<void> }>>();
  return {
    keep<T extends { end(): Promise<void> }>(key: string, open: () => Promise<T>): Promise<T> {
      let session = kept.get(key) as Promise<T> | undefined;
      if (!session) {
        session = open();
        kept.set(key, session);
        session.catch(() => kept.delete(key));
      }
      return session;
    },
    async closeAll() {
      const sessions = [...kept.values()];
      kept.clear();
      await Promise.all(sessions.map((s) => s.then((session) => session.end(), () => undefined)));
    },
  };
}

/**
 * Connects, retrying with capped exponential backoff and full jitter until `waitMs` has passed
 * (SPEC §4.6). Rejections a retry cannot fix (authentication, TLS, no database) end the wait at
 * once; a read-only standby is retried, since it may be promoted.
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const started = Date.now();
  const deadline = started + options.waitMs;
  let lastError: BerthError | undefined;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    const target = parseDatabaseUrl(await options.databaseUrl(), undefined, options.ssl);
    const entry = driverFor(target);
    const { secrets } = target;
    options.onEvent({ event: 'connect.attempt', attempt, target: target.redacted });
    // One attempt (no --wait) gets the full per-attempt budget; while waiting, an attempt never
    // outlives the deadline by more than the minimum.
    const attemptTimeout = options.waitMs === 0
      ? MAX_ATTEMPT_TIMEOUT_MS
      : Math.min(MAX_ATTEMPT_TIMEOUT_MS, Math.max(MIN_ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
    if (options.searchPath && !entry.capabilities.searchPath) {
      throw new ConfigError('ERR_CONFIG_INVALID', `${target.redacted}: this database has no schemas a session can switch between (on MySQL a schema is a database), ` +
        'so a schema per target cannot be used: list one URL per target instead (a targets file with a template, e.g. mysql://app@db:3306/tenant_{name})');
    }
    const driver = await entry.create(target, {
      applicationName: options.applicationName, connectTimeoutMs: attemptTimeout, keeper: options.keeper,
      ...(options.searchPath ? { searchPath: options.searchPath } : {}),
    });
    try {
      // A database inside this process has no network to time out on.
      const server = entry.capabilities.inProcess ? await driver.connect() : await withDeadline(driver.connect(), attemptTimeout + 500, target.redacted);
      if (server.readOnly) {
        throw new TargetRejectedError('ERR_DB_READ_ONLY', `${target.redacted} is read-only (a standby or replica, or a read-only session); migrations must run on the primary`);
      }
      options.onEvent({ event: 'connect.ok', attempt, target: target.redacted, serverVersion: server.serverVersion, durationMs: Date.now() - started,
        ...(server.pooled ? { pooled: true } : {}) });
      if (server.unsetSettings.length) options.onEvent(settingsWarning(target.redacted, server.unsetSettings));
      return { driver: guardDriver(driver, { user: server.user, dialect: entry.dialect, secrets }), server, target, dialect: entry.dialect, secrets };
    } catch (err) {
      await driver.close();
      // A client's own message is text from outside berth, and may quote the connection string;
      // berth's messages are built from the redacted target and are left as they are.
      const error = classify(err instanceof BerthError ? err : redactError(err, secrets), target);
      const retryable = error instanceof UnreachableError || error.code === 'ERR_DB_READ_ONLY' || (options.retryRejected === true && error instanceof TargetRejectedError);
      if (!retryable) throw error;
      lastError = error;
      const left = deadline - Date.now();
      if (left <= 0) break;
      const delay = Math.min(left, Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1)) * (0.5 + Math.random() * 0.5));
      options.onEvent({ event: 'connect.retry', attempt, target: target.redacted, reason: error.message, delayMs: Math.round(delay), remainingMs: left });
      await sleep(delay, options.signal);
    }
  }
  if (lastError instanceof UnreachableError && options.waitMs > 0) {
    throw new UnreachableError('ERR_DB_UNREACHABLE', `gave up waiting for the database after ${formatDuration(Date.now() - started)} (--wait ${formatDuration(options.waitMs)}): ${lastError.message}`, { cause: lastError, details: lastError.details });
  }
  throw lastError ?? new UnreachableError('ERR_DB_UNREACHABLE', 'the database could not be reached');
}

/** The warning for session settings the server refused (SPEC §4.5: berth says which, and why). */
export function settingsWarning(target: string, unset: readonly UnsetSetting[]): BerthEvent {
  return {
    event: 'connect.warning', code: 'W_SESSION_SETTINGS', settings: unset,
    message: `the server refused some of berth's session settings on ${target}: ` +
      unset.map((s) => `${s.name} = ${s.wanted} (it stays ${s.actual ?? 'unset'}: ${s.reason})`).join('; ') +
      '. berth goes on without them: a killed, frozen or partitioned runner may keep the migration lock longer, and timeouts are the server\'s.',
  };
}

/** Bounds an attempt as a whole: a slow DNS lookup is not covered by the client's own timeout. */
async function withDeadline<T>(promise: Promise<T>, ms: number, target: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnreachableError('ERR_DB_UNREACHABLE', `cannot reach ${target}: no answer within ${formatDuration(ms)}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function classify(err: unknown, target: DatabaseTarget): BerthError {
  if (err instanceof BerthError) return err;
  if (err instanceof ConnectionLostError) {
    return new UnreachableError('ERR_DB_UNREACHABLE', `the connection to ${target.redacted} dropped while starting: ${err.message}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UnreachableError('ERR_DB_UNREACHABLE', `cannot reach ${target.redacted}: ${message}`, { cause: err });
}

/** Masks the password of this target in an error's message, wherever a client quoted it. */
export function redactError(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof Error)) return typeof error === 'string' ? redactSecrets(error, secrets) : error;
  const clean = redactSecrets(error.message, secrets);
  if (clean !== error.message) Object.defineProperty(error, 'message', { value: clean });
  if (error.stack) Object.defineProperty(error, 'stack', { value: redactSecrets(error.stack, secrets) });
  return error;
}
