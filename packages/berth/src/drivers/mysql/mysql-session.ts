import { readFileSync } from 'node:fs';
import { checkServerIdentity, type TLSSocket } from 'node:tls';
import mysql from 'mysql2';
import { TargetRejectedError, UnreachableError } from '../../errors.js';
import { redactSecrets } from '../../config/database-url.js';
import type { MysqlTarget } from './url.js';

export interface MysqlSessionOptions {
  readonly target: MysqlTarget;
  /** Sent as the `program_name` connection attribute: waiters name the holder by it. */
  readonly applicationName: string;
  readonly connectTimeoutMs: number;
}

/** What a statement returned: rows for a query, counts for anything else. */
export interface MysqlResult {
  readonly rows: Record<string, unknown>[];
  readonly affectedRows: number;
  /** Whether a transaction is open after the statement (the OK packet's SERVER_STATUS_IN_TRANS), when the server said. */
  readonly inTransaction?: boolean;
}

/** One mysql2 connection, promise-shaped; failures are mysql2's errors, classified by the driver. */
export interface MysqlSession {
  /** The server's connection id (`CONNECTION_ID()`), the target of `KILL QUERY`. */
  readonly threadId: number;
  /** One statement; with `values`, `?` placeholders are filled in by the client, escaped. */
  query(sql: string, values?: readonly unknown[]): Promise<MysqlResult>;
  /** Kills the running statement from a second connection (`KILL QUERY`); best effort. */
  cancel(): Promise<void>;
  end(): Promise<void>;
}

/** Opens one connection and classifies a failure to do so (SPEC §4.6). */
export async function openMysqlSession(options: MysqlSessionOptions): Promise<MysqlSession> {
  const config = connectionConfig(options);
  const identity = options.target.sslmode === 'verify-full' ? options.target.host : undefined;
  const connection = await connectOnce(config, identity).catch((err: unknown) => {
    throw classifyConnectError(err, options.target);
  });
  const threadId = connection.threadId;
  return {
    threadId,
    query: (sql, values) => new Promise((resolve, reject) => {
      connection.query({ sql, ...(values ? { values: values as unknown[] } : {}) }, (err, result) => {
        if (err) reject(err);
        else resolve(toResult(result));
      });
    }),
    async cancel() {
      // The session is busy with the statement: a second one asks the server to kill it.
      const other = await connectOnce({ ...config, connectTimeout: 2_000 }, identity).catch(() => undefined);
      if (!other) return;
      await new Promise<void>((resolve) => other.query(`KILL QUERY ${Math.trunc(threadId)}`, () => resolve()));
      await endConnection(other);
    },
    end: () => endConnection(connection),
  };
}

const SERVER_STATUS_IN_TRANS = 0x0001;

function toResult(result: unknown): MysqlResult {
  if (Array.isArray(result)) {
    // A CALL answers with result sets followed by a status: the last result set is the answer.
    const sets = result.filter((r) => Array.isArray(r)) as Record<string, unknown>[][];
    return { rows: sets.length ? sets[sets.length - 1]! : (result as Record<string, unknown>[]), affectedRows: 0 };
  }
  const header = (result ?? {}) as { affectedRows?: number; serverStatus?: number };
  return {
    rows: [], affectedRows: header.affectedRows ?? 0,
    ...(typeof header.serverStatus === 'number' ? { inTransaction: (header.serverStatus & SERVER_STATUS_IN_TRANS) !== 0 } : {}),
  };
}

/**
 * `identity`: the host name or address the server's certificate must be for (verify-full). mysql2
 * checks a host name itself, but skips the check when the host is an IP address, so berth checks
 * the certificate once TLS is up and before the credentials are sent, for either.
 */
function connectOnce(config: mysql.ConnectionOptions, identity?: string): Promise<mysql.Connection> {
  return new Promise((resolve, reject) => {
    const connection = mysql.createConnection(config);
    if (identity !== undefined) verifyIdentityBeforeCredentials(connection, identity);
    // A connection whose socket dies while idle emits 'error'; without a listener Node would
    // crash. The next query on it fails and the driver reports a lost connection.
    connection.on('error', () => undefined);
    connection.connect((err) => {
      if (!err) return resolve(connection);
      connection.destroy();
      reject(err);
    });
  });
}

function verifyIdentityBeforeCredentials(connection: mysql.Connection, identity: string): void {
  const client = connection as unknown as { startTLS?: (onSecure: (err?: Error) => void) => void; stream: TLSSocket };
  const startTLS = client.startTLS;
  // Fail closed: a mysql2 that no longer upgrades through startTLS would otherwise skip the check.
  if (typeof startTLS !== 'function') throw new TargetRejectedError('ERR_DB_TLS', 'this mysql2 cannot be made to verify the server certificate\'s host: sslmode=verify-full is not available');
  client.startTLS = (onSecure) => startTLS.call(connection, (err) => {
    if (err) return onSecure(err);
    const mismatch = checkServerIdentity(identity, client.stream.getPeerCertificate(true));
    onSecure(mismatch ? new Error(`certificate verification failed: ${mismatch.message}`) : undefined);
  });
}

function endConnection(connection: mysql.Connection): Promise<void> {
  return new Promise((resolve) => {
    connection.end(() => {
      connection.destroy();
      resolve();
    });
  });
}

function connectionConfig(options: MysqlSessionOptions): mysql.ConnectionOptions {
  const t = options.target;
  return {
    ...(t.socket ? { socketPath: t.socket } : { host: t.host, port: t.port }),
    user: t.user,
    ...(t.password === undefined ? {} : { password: t.password }),
    ...(t.database ? { database: t.database } : {}),
    ...sslConfig(t),
    connectTimeout: Math.max(1, Math.round(options.connectTimeoutMs)),
    // The client notices a dead server or a partition within ~25 s instead of the OS's 2 hours.
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
    charset: 'utf8mb4',
    // BIGINT and DECIMAL as text, as pg returns them: versions and sums keep every digit.
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: false,
    connectAttributes: { program_name: options.applicationName },
  };
}

/** The same meanings as for PostgreSQL: TLS, once asked for, is never dropped. */
function sslConfig(t: MysqlTarget): { ssl?: mysql.SslOptions } {
  const mode = t.sslmode ?? 'disable';
  if (mode === 'disable') return {};
  let ca: string | undefined;
  if (t.sslrootcert) {
    try {
      ca = readFileSync(t.sslrootcert, 'utf8');
    } catch (err) {
      throw new TargetRejectedError('ERR_DB_TLS', `cannot read sslrootcert ${t.sslrootcert}: ${(err as Error).message}`);
    }
  }
  if (mode === 'require' && !ca) return { ssl: { rejectUnauthorized: false } };
  return { ssl: { rejectUnauthorized: true, ...(ca ? { ca } : {}), verifyIdentity: mode === 'verify-full' } as mysql.SslOptions };
}

const TLS_ERROR = /SSL|TLS|certificate|CERT_|self[- ]signed/i;

export function classifyConnectError(err: unknown, target: MysqlTarget): Error {
  if (err instanceof TargetRejectedError) return err;
  const where = `${target.socket ?? `${target.host}:${target.port}`}${target.database ? `/${target.database}` : ''} as ${target.user}`;
  const e = (err ?? {}) as { code?: unknown; errno?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const errno = typeof e.errno === 'number' ? e.errno : 0;
  const message = redactSecrets(typeof e.message === 'string' ? e.message : String(err), [target.password]);
  // 1045: wrong user or password; 1130/1129: this host may not connect; 1251/1524: the server
  // wants an authentication method this client does not have.
  if ([1045, 1130, 1129, 1251, 1524].includes(errno)) {
    return new TargetRejectedError('ERR_DB_AUTH', `authentication to ${where} failed: ${message}. Check the user and password (or the *_FILE secret).`, { cause: err });
  }
  if (errno === 1049) {
    return new TargetRejectedError('ERR_DB_NOT_FOUND', `database "${target.database}" does not exist on ${target.host}:${target.port}: create it first (berth never creates databases).`, { cause: err });
  }
  if (errno === 1044) {
    return new TargetRejectedError('ERR_DB_PRIVILEGE', `${target.user} may not use database "${target.database}": ${message}. GRANT it the privileges its migrations need on \`${target.database}\`.*.`, { cause: err });
  }
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT' || TLS_ERROR.test(code) || TLS_ERROR.test(message)) {
    return new TargetRejectedError('ERR_DB_TLS', `TLS negotiation with ${target.host}:${target.port} failed: ${message} (sslmode=${target.sslmode ?? 'disable'}).`, { cause: err });
  }
  const reason = describe(code, errno, message);
  return new UnreachableError('ERR_DB_UNREACHABLE', `cannot reach MySQL at ${target.socket ?? `${target.host}:${target.port}`}: ${reason}`, { cause: err, details: { host: target.host, port: target.port, reason: code || message } });
}

function describe(code: string, errno: number, message: string): string {
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused (is the server up and listening there?)';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'host name not found (yet)';
    case 'ETIMEDOUT': return 'connection timed out';
    case 'ECONNRESET': case 'PROTOCOL_CONNECTION_LOST': return 'connection reset';
    case 'ENOENT': return 'no socket at that path (is the server up?)';
  }
  if (errno === 1040) return 'too many connections';
  return /timeout/i.test(message) ? 'connection attempt timed out' : message;
}
