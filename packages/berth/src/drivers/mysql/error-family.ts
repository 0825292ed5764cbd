import type { ErrorFamily } from '../driver.js';

/**
 * Server error numbers (MySQL's and MariaDB's `errno`, the same numbers for what both have) and
 * what they mean to berth. Only this file reads them for meaning; core branches on the family.
 */
const FAMILIES: ReadonlyMap<number, ErrorFamily> = new Map<number, ErrorFamily>([
  [1064, 'syntax'], // ER_PARSE_ERROR
  [1149, 'syntax'], // ER_SYNTAX_ERROR
  [1044, 'privilege'], // ER_DBACCESS_DENIED_ERROR
  [1045, 'privilege'], // ER_ACCESS_DENIED_ERROR
  [1142, 'privilege'], // ER_TABLEACCESS_DENIED_ERROR
  [1143, 'privilege'], // ER_COLUMNACCESS_DENIED_ERROR
  [1227, 'privilege'], // ER_SPECIFIC_ACCESS_DENIED_ERROR (SUPER, PROCESS...)
  [1370, 'privilege'], // ER_PROCACCESS_DENIED_ERROR
  [1419, 'privilege'], // ER_BINLOG_CREATE_ROUTINE_NEED_SUPER
  [1211, 'privilege'], // ER_PASSWORD_NOT_ALLOWED (no privilege to create users)
  [1290, 'read-only'], // ER_OPTION_PREVENTS_STATEMENT: --read-only, --super-read-only
  [1792, 'read-only'], // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
  [1836, 'read-only'], // ER_READ_ONLY_MODE
  [1213, 'conflict'], // ER_LOCK_DEADLOCK: the transaction was rolled back
  [1205, 'lock-timeout'], // ER_LOCK_WAIT_TIMEOUT: innodb_lock_wait_timeout, lock_wait_timeout (metadata locks)
  [3572, 'lock-timeout'], // ER_LOCK_NOWAIT (MySQL 8)
  [1969, 'statement-timeout'], // ER_STATEMENT_TIMEOUT: MariaDB's max_statement_time
  [3024, 'statement-timeout'], // ER_QUERY_TIMEOUT: MySQL's max_execution_time
  [1317, 'canceled'], // ER_QUERY_INTERRUPTED: KILL QUERY
  [1021, 'server'], // ER_DISK_FULL
  [1030, 'server'], // ER_GET_ERRNO: the storage engine failed
  [1037, 'server'], // ER_OUTOFMEMORY
  [1038, 'server'], // ER_OUT_OF_SORTMEMORY
  [1040, 'server'], // ER_CON_COUNT_ERROR: too many connections
  [1041, 'server'], // ER_OUT_OF_RESOURCES
  [1114, 'server'], // ER_RECORD_FILE_FULL: the table is full
  [1135, 'server'], // ER_CANT_CREATE_THREAD
  [1180, 'server'], // ER_ERROR_DURING_COMMIT
  [1197, 'server'], // ER_TRANS_CACHE_FULL
  [1815, 'server'], // ER_INTERNAL_ERROR
]);

/**
 * Error numbers and client codes meaning the session is gone rather than that a statement failed:
 * the server went away, the connection was killed, or the socket broke.
 */
const SESSION_GONE: ReadonlySet<number | string> = new Set<number | string>([
  1053, // ER_SERVER_SHUTDOWN
  1152, // ER_ABORTING_CONNECTION
  1927, // ER_CONNECTION_KILLED (MariaDB: KILL CONNECTION)
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8: wait_timeout ended the session)
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ER_SERVER_SHUTDOWN',
]);

export function mysqlErrorFamily(errno: number): ErrorFamily {
  return FAMILIES.get(errno) ?? 'statement';
}

/** What mysql2 reports for a server error: the numbers and the message, without the client's wrapping. */
export interface MysqlServerError {
  readonly errno: number;
  readonly sqlState: string | undefined;
  readonly message: string;
}

/**
 * The server's error in a mysql2 error, or undefined when there is none (a lost connection, a
 * client-side failure). mysql2 sets `fatal` when the connection cannot be used any more.
 */
export function mysqlServerError(err: unknown): MysqlServerError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { errno?: unknown; code?: unknown; sqlState?: unknown; sqlMessage?: unknown; message?: unknown; fatal?: unknown };
  if (e.fatal === true || isSessionGone(err)) return undefined;
  if (typeof e.errno !== 'number' || typeof e.sqlMessage !== 'string') return undefined;
  return { errno: e.errno, sqlState: typeof e.sqlState === 'string' ? e.sqlState : undefined, message: e.sqlMessage };
}

export function isSessionGone(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { errno?: unknown; code?: unknown };
  return SESSION_GONE.has(e.errno as number) || SESSION_GONE.has(e.code as string);
}
