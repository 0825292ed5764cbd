import { parseDatabaseUrl, redactSecrets, type DatabaseTarget, type SslMode } from '../config/database-url.js';
import { formatDuration } from '../config/duration.js';
import { ConnectionLostError, type Driver, type ServerInfo } from '../drivers/driver.js';
import type { SqlSession } from '../drivers/postgres/sql-session.js';
import type { SqlDialect } from '../source/types.js';
import { BerthError, TargetRejectedError, UnreachableError } from './errors.js';
import type { EventListener } from './events.js';
import { guardDriver } from './guard-driver.js';
import { sleep } from './sleep.js';

export interface ConnectOptions {
  /** Resolved again for every attempt, so a rotated `*_FILE` secret is picked up. */
  readonly databaseUrl: () => string | Promise<string>;
  readonly waitMs: number;
  readonly statementTimeoutMs: number;
  readonly applicationName: string;
  /** Overrides the URL's sslmode/sslrootcert when set (a flag beats the URL; the URL beats env). */
  readonly ssl?: { readonly mode?: SslMode; readonly rootcert?: string; readonly override: boolean };
  readonly onEvent: EventListener;
  readonly signal?: AbortSignal;
  /**
   * Embedded databases opened by this migrator, kept open between its operations: a
   * `pglite://memory` database would otherwise vanish after every call. Closed by the migrator.
   */
  readonly embedded?: Map<string, Promise<SqlSession>>;
}

export interface Connection {
  /** Guarded (guard-driver.ts): server text redacted, failures of berth's own statements classified. */
  readonly driver: Driver;
  readonly server: ServerInfo;
  readonly target: DatabaseTarget;
  /** The target's secrets, to mask in any other text from outside berth (a code migration's error). */
  readonly secrets: readonly (string | undefined)[];
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;
const MAX_ATTEMPT_TIMEOUT_MS = 10_000;
const MIN_ATTEMPT_TIMEOUT_MS = 1_000;

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
    const target = applySsl(parseDatabaseUrl(await options.databaseUrl()), options.ssl);
    const secrets = target.kind === 'pglite' ? [] : [target.password];
    options.onEvent({ event: 'connect.attempt', attempt, target: target.redacted });
    // One attempt (no --wait) gets the full per-attempt budget; while waiting, an attempt never
    // outlives the deadline by more than the minimum.
    const attemptTimeout = options.waitMs === 0
      ? MAX_ATTEMPT_TIMEOUT_MS
      : Math.min(MAX_ATTEMPT_TIMEOUT_MS, Math.max(MIN_ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
    const driver = await createDriver(target, { ...options, connectTimeoutMs: attemptTimeout });
    try {
      // PGlite boots inside this process: there is no network to time out on.
      const server = target.kind === 'pglite' ? await driver.connect() : await withDeadline(driver.connect(), attemptTimeout + 500, target.redacted);
      if (server.readOnly) {
        throw new TargetRejectedError('ERR_DB_READ_ONLY', `${target.redacted} is a read-only standby (or the session is read-only); migrations must run on the primary`);
      }
      options.onEvent({ event: 'connect.ok', attempt, target: target.redacted, serverVersion: server.serverVersion, durationMs: Date.now() - started });
      return { driver: guardDriver(driver, { user: server.user, secrets }), server, target, secrets };
    } catch (err) {
      await driver.close();
      // A client's own message is text from outside berth, and may quote the connection string;
      // berth's messages are built from the redacted target and are left as they are.
      const error = classify(err instanceof BerthError ? err : redactError(err, secrets), target);
      const retryable = error instanceof UnreachableError || error.code === 'ERR_DB_READ_ONLY';
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

async function createDriver(target: DatabaseTarget, options: { applicationName: string; connectTimeoutMs: number; statementTimeoutMs: number; embedded?: Map<string, Promise<SqlSession>> }): Promise<Driver> {
  if (target.kind === 'mysql') {
    const [{ MysqlDriver }, { openMysqlSession }] = await Promise.all([import('../drivers/mysql/mysql-driver.js'), import('../drivers/mysql/mysql-session.js')]);
    return new MysqlDriver({
      open: () => openMysqlSession({ target, applicationName: options.applicationName, connectTimeoutMs: options.connectTimeoutMs }),
      statementTimeoutMs: options.statementTimeoutMs,
    });
  }
  const { PostgresDriver } = await import('../drivers/postgres/postgres-driver.js');
  if (target.kind === 'pglite') {
    const { openPgliteSession } = await import('../drivers/pglite/pglite-session.js');
    const cache = options.embedded;
    const open = cache
      ? async (): Promise<SqlSession> => {
        let session = cache.get(target.redacted);
        if (!session) {
          session = openPgliteSession(target);
          cache.set(target.redacted, session);
          session.catch(() => cache.delete(target.redacted));
        }
        // The migrator ends it in close(); each operation only lets go of it.
        return { ...(await session), end: async () => undefined };
      }
      : () => openPgliteSession(target);
    return new PostgresDriver({
      // One session inside this process: nothing else can take a lock, so exclusion is trivially
      // true, and there is no second connection to cancel from.
      capabilities: { transactionalDdl: true, advisoryLocks: false, multipleConnections: false, transactionalScripts: false },
      open,
      statementTimeoutMs: options.statementTimeoutMs,
      sessionLimits: false,
    });
  }
  const { openPgSession } = await import('../drivers/postgres/pg-session.js');
  return new PostgresDriver({
    capabilities: { transactionalDdl: true, advisoryLocks: true, multipleConnections: true, transactionalScripts: true },
    open: (settings) => openPgSession({ target, applicationName: options.applicationName, connectTimeoutMs: options.connectTimeoutMs }, settings),
    statementTimeoutMs: options.statementTimeoutMs,
    sessionLimits: true,
  });
}

/**
 * How the files for `databaseUrl` split into statements: MySQL's splitter for a MySQL target,
 * otherwise PostgreSQL's (undefined). A URL that does not parse is left for `connect` to refuse.
 */
export async function dialectFor(databaseUrl: () => string | Promise<string>): Promise<SqlDialect | undefined> {
  let kind: DatabaseTarget['kind'];
  try {
    kind = parseDatabaseUrl(await databaseUrl()).kind;
  } catch {
    return undefined;
  }
  return kind === 'mysql' ? (await import('../drivers/mysql/mysql-splitter.js')).mysqlDialect : undefined;
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

function applySsl(target: DatabaseTarget, ssl: ConnectOptions['ssl']): DatabaseTarget {
  if (target.kind === 'pglite' || !ssl) return target;
  const mode = ssl.override ? ssl.mode ?? target.sslmode : target.sslmode ?? ssl.mode;
  const rootcert = ssl.override ? ssl.rootcert ?? target.sslrootcert : target.sslrootcert ?? ssl.rootcert;
  return { ...target, sslmode: mode, sslrootcert: rootcert };
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
export function redactError(error: unknown, secrets: readonly (string | undefined)[]): unknown {
  if (!(error instanceof Error)) return typeof error === 'string' ? redactSecrets(error, secrets) : error;
  const clean = redactSecrets(error.message, secrets);
  if (clean !== error.message) Object.defineProperty(error, 'message', { value: clean });
  if (error.stack) Object.defineProperty(error, 'stack', { value: redactSecrets(error.stack, secrets) });
  return error;
}
