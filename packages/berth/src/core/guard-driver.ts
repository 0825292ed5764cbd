import { redactSecrets } from '../config/database-url.js';
import type { Dialect } from '../drivers/dialect.js';
import { ConnectionLostError, DriverQueryError, type Driver, type HistoryTable } from '../drivers/driver.js';
import { BerthError, InternalError, LockTimeoutError, OutcomeUnknownError, TargetRejectedError } from '../errors.js';

/**
 * What berth itself was doing when one of its own statements failed. A migration's statements are
 * reported with their file and line instead (apply.ts); these are the history table, the lock and
 * the session set-up, which the user never wrote and can only fix with privileges or settings.
 */
export type OwnOperation = 'lock' | 'read' | 'create' | 'write' | 'session';

/** The driver methods that run berth's own SQL, and what each is for. */
const OWN_OPERATIONS: Readonly<Partial<Record<keyof Driver, OwnOperation>>> = {
  tryLock: 'lock', lockHolder: 'lock', unlock: 'lock', watchUnlock: 'lock',
  takeLease: 'lock', renewLease: 'lock', releaseLease: 'lock', readLease: 'lock',
  readHistory: 'read', historySummary: 'read', inspectTables: 'read',
  ensureHistoryTable: 'create',
  writeHistory: 'write',
  beginMigration: 'session',
};

export interface GuardContext {
  /** The role berth is connected as, for the GRANT a privilege error suggests. */
  readonly user: string;
  /** Spells that GRANT. */
  readonly dialect: Dialect;
  /** Secrets of this target, masked in any text the server or client sends back. */
  readonly secrets: readonly (string | undefined)[];
}

/**
 * The driver as core uses it: every server text that comes back is redacted (it comes from outside
 * berth and may quote a connection string), and a failure of berth's own statements becomes the
 * `BerthError` of its family instead of an internal error. The methods that run a migration's own
 * statements (`execute`, `runScript`) pass their errors through; apply.ts places them in the file.
 */
export function guardDriver(driver: Driver, context: GuardContext): Driver {
  return new Proxy(driver, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      // The one synchronous method: it does no I/O, so it has nothing to redact or classify.
      if (property === 'activity') return (value as () => unknown).bind(target);
      const operation = OWN_OPERATIONS[property as keyof Driver];
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          const clean = redactDriverError(err, context.secrets);
          if (operation === undefined || !(clean instanceof DriverQueryError)) throw clean;
          throw ownStatementError(clean, operation, { user: context.user, dialect: context.dialect, table: isTable(args[0]) ? args[0] : undefined });
        }
      };
    },
  });
}

/**
 * Turns the failure of one of berth's own statements into the error of its family (docs/errors.md,
 * "SQLSTATE classes"): what berth could not do, the server's words, and what would let it.
 */
export function ownStatementError(err: DriverQueryError, operation: OwnOperation, where: { user: string; dialect: Dialect; table?: HistoryTable | undefined }): BerthError {
  const table = where.table ? `${where.table.schema}.${where.table.table}` : 'the history table';
  const what = {
    lock: 'use its migration lock (an advisory lock)',
    read: `read its history table ${table}`,
    create: `create its history table ${table}`,
    write: `write its history table ${table}`,
    session: 'prepare its session for the next migration',
  }[operation];
  const server = `${err.info.message}${err.info.sqlState ? ` (SQLSTATE ${err.info.sqlState})` : ''}`;
  const options = { cause: err, details: { operation, sqlState: err.info.sqlState, serverMessage: err.info.message } };
  switch (err.family) {
    case 'privilege':
      return new TargetRejectedError('ERR_DB_PRIVILEGE', `berth could not ${what}: ${server}. ${privilegeHint(operation, where)}`, options);
    case 'read-only':
      return new TargetRejectedError('ERR_DB_READ_ONLY', `berth could not ${what}: ${server}. The server or this role's transactions are read-only; migrations must run on the primary with a role that may write.`, options);
    case 'conflict':
    case 'lock-timeout':
    case 'statement-timeout':
      return new LockTimeoutError('ERR_DB_CONFLICT', `berth could not ${what}: ${server}. It was blocked by, or conflicted with, other sessions; nothing of it was committed. Run berth again.`, options);
    case 'server':
    case 'canceled':
      return new OutcomeUnknownError('ERR_DB_SERVER', `berth could not ${what}: ${server}. The server failed or stopped the statement; run berth again once the server is healthy: it continues from what its history table says.`, options);
    default:
      return new InternalError('ERR_INTERNAL', `internal error: berth could not ${what}: ${server} (this is a bug in berth; please report it)`, options);
  }
}

function privilegeHint(operation: OwnOperation, { user, dialect, table }: { user: string; dialect: Dialect; table?: HistoryTable | undefined }): string {
  switch (operation) {
    case 'read':
      return table
        ? `berth needs SELECT on it: ${dialect.grant('SELECT', table, user)}, or run berth as the role that owns it.`
        : 'berth needs SELECT on it, or run berth as the role that owns it.';
    case 'write':
      return table
        ? `berth needs INSERT, UPDATE and DELETE on it: ${dialect.grant('INSERT, UPDATE, DELETE', table, user)}, or run berth as the role that owns it.`
        : 'berth needs INSERT, UPDATE and DELETE on it, or run berth as the role that owns it.';
    case 'create':
      return table
        ? `berth needs CREATE on schema ${table.schema} (${dialect.grant('CREATE', { schema: table.schema }, user)}; or on the database if the schema does not exist yet), ` +
          'or the table created beforehand by a role that may, or another --schema.'
        : 'berth needs CREATE on the schema of its history table.';
    default:
      return `Run berth as a role with the privileges its migrations need (the owner of the schema is the usual choice).`;
  }
}

/** Masks the target's secrets in what a server or client said. */
export function redactDriverError(err: unknown, secrets: readonly (string | undefined)[]): unknown {
  if (err instanceof DriverQueryError) {
    const clean = (text: string | undefined) => (text === undefined ? undefined : redactSecrets(text, secrets));
    const { info } = err;
    const redacted = { ...info, message: clean(info.message)! };
    for (const key of ['detail', 'hint', 'where'] as const) if (info[key] !== undefined) redacted[key] = clean(info[key]);
    return new DriverQueryError(redacted, err.family, { cause: err.cause });
  }
  if (err instanceof ConnectionLostError) return new ConnectionLostError(redactSecrets(err.message, secrets), { cause: err.cause });
  return err;
}

function isTable(value: unknown): value is HistoryTable {
  return typeof value === 'object' && value !== null && 'schema' in value && 'table' in value;
}
