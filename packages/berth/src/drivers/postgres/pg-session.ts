import { readFileSync } from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import ConnectionParameters from 'pg/lib/connection-parameters.js';
import type { ConnectionOptions } from 'node:tls';
import { TargetRejectedError, UnreachableError } from '../../errors.js';
import { redactSecrets } from '../../config/database-url.js';
import type { PostgresTarget } from './url.js';
import type { SqlSession } from './sql-session.js';

export interface PgSessionOptions {
  readonly target: PostgresTarget;
  readonly applicationName: string;
  readonly connectTimeoutMs: number;
}

/** Opens one node-postgres session and classifies a failure to do so (SPEC §4.6). */
export async function openPgSession(options: PgSessionOptions, settings: Readonly<Record<string, string>> = {}): Promise<SqlSession> {
  const base = clientConfig(options);
  let config: pg.ClientConfig = { ...base, ...startupOptions(base, settings) };
  let startupSent = Object.keys(settings).length > 0;
  let client: pg.Client;
  try {
    client = await connectClient(config);
  } catch (err) {
    // The start-up packet could not carry the settings: the driver then SETs them after connecting.
    if (!startupSent || !startupRefused(err)) throw classifyConnectError(err, options.target);
    config = base;
    startupSent = false;
    client = await connectClient(config).catch((again: unknown) => {
      // pg still sends PGOPTIONS: a pooler that refuses `options` refuses those too. Dropping the
      // caller's settings silently would be worse than saying so.
      if (startupRefused(again)) {
        throw new TargetRejectedError('ERR_DB_UNSUPPORTED',
          `${options.target.host}:${options.target.port} refuses start-up options (${(again as Error).message}), and PGOPTIONS asks for some. ` +
          'Unset PGOPTIONS (berth SETs its own settings after connecting), or let the pooler pass them on (PgBouncer: ignore_startup_parameters = options drops them instead).',
          { cause: again });
      }
      throw classifyConnectError(again, options.target);
    });
  }
  const pid = (client as unknown as { processID: number | null }).processID;
  return {
    startupSent,
    announcedPid: pid,
    async query(sql, params) {
      const res = await client.query(sql, params as unknown[] | undefined);
      return { rows: res.rows, rowCount: res.rowCount ?? 0 };
    },
    async simple(sql) {
      const res = (await client.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(res) ? res[res.length - 1] : res;
      return (last?.rows ?? []) as never[];
    },
    script(sql) {
      return new Promise((resolve) => {
        const query = new CountingQuery(sql, (error) => resolve({ completed: query.completed, ...(error ? { error } : {}) }));
        void client.query(query);
      });
    },
    onNotification(handler) {
      const listener = (message: pg.Notification) => handler(message.channel);
      client.on('notification', listener);
      return () => client.off('notification', listener);
    },
    async notifyFromSecondSession(channel, timeoutMs) {
      const other = new pg.Client({ ...config, application_name: `${options.applicationName} (session check)`, connectionTimeoutMillis: Math.max(1, Math.round(timeoutMs)) });
      other.on('error', () => undefined);
      let timer: NodeJS.Timeout | undefined;
      // A session-mode pool that is full queues the second session's query until a server is free.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UnreachableError('ERR_DB_UNREACHABLE',
          `the pooler at ${options.target.host}:${options.target.port} gave a second session no server within ${Math.round(timeoutMs)} ms ` +
          '(berth needs two for a moment, to check that the pool keeps its session; is the pool full?)')), timeoutMs);
      });
      try {
        return await Promise.race([timeout, (async () => {
          await other.connect().catch((err: unknown) => {
            throw classifyConnectError(err, options.target);
          });
          // UNLISTEN: where the pool handed this connection the first one's server session, that
          // session would otherwise go on listening for whoever gets it next.
          const quoted = `"${channel.replace(/"/g, '""')}"`;
          const results = (await other.query(`SELECT pg_backend_pid() AS pid, pg_notify('${channel.replace(/'/g, "''")}', NULL); UNLISTEN ${quoted}`)) as unknown as pg.QueryResult[];
          return Number(results[0]?.rows[0]?.pid);
        })()]);
      } finally {
        clearTimeout(timer);
        await other.end().catch(() => undefined);
      }
    },
    async cancel(how) {
      if (pid === null) return;
      if (how === 'protocol') return cancelRequest(options.target, pid, (client as unknown as { secretKey: number }).secretKey);
      // A second session asks the server to cancel the first one's statement; the first session
      // is busy and cannot be used for it.
      const other = new pg.Client({ ...config, application_name: `${options.applicationName} (cancel)` });
      other.on('error', () => undefined);
      try {
        await other.connect();
        await other.query('SELECT pg_cancel_backend($1)', [pid]);
      } catch {
        // Best effort: if the server is unreachable, the session dies with the process anyway.
      } finally {
        await other.end().catch(() => undefined);
      }
    },
    async end() {
      await client.end();
    },
  };
}

/**
 * Sends the protocol's CancelRequest (length 16, code 80877102, process id, secret key) on a new
 * connection, and waits until the other end closes it (at most 5 s). Best effort, like the SQL cancel.
 */
function cancelRequest(target: PostgresTarget, pid: number, secretKey: number): Promise<void> {
  return new Promise((resolve) => {
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4);
    packet.writeInt32BE(pid, 8);
    packet.writeInt32BE(secretKey, 12);
    const socket = target.host.startsWith('/')
      ? net.connect(`${target.host}/.s.PGSQL.${target.port}`)
      : net.connect({ host: target.host, port: target.port });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, 5_000);
    // Like libpq: send, then wait for the other end to close. Half-closing first makes PgBouncer
    // 1.18 drop the request as a protocol error, or even abort ("bad client state").
    socket.once('connect', () => socket.write(packet));
    socket.once('close', done);
    socket.once('error', done);
  });
}

/**
 * A simple-protocol query that counts the statements the server completed: each one ends with a
 * CommandComplete, so when one fails, the count says which. pg's own Query does the protocol; a
 * custom submittable is pg's documented extension point.
 */
class CountingQuery extends pg.Query {
  completed = 0;

  constructor(text: string, done: (error: Error | undefined) => void) {
    super(text, undefined, (error: Error | null | undefined) => done(error ?? undefined));
  }

  handleCommandComplete(message: unknown, connection: unknown): void {
    this.completed++;
    (pg.Query.prototype as unknown as { handleCommandComplete(m: unknown, c: unknown): void }).handleCommandComplete.call(this, message, connection);
  }
}

/**
 * The start-up packet's settings were refused: 42704, a server older than 14 does not know one of
 * them; 08P01 "unsupported startup parameter: options", a pooler (PgBouncer with its stock
 * settings) that does not pass `options` on.
 */
function startupRefused(err: unknown): boolean {
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  return e.code === '42704' || (e.code === '08P01' && typeof e.message === 'string' && /startup parameter.*\boptions\b/i.test(e.message));
}

async function connectClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  // An idle client whose socket dies emits 'error'; without a listener Node would crash. The next
  // query on it fails and is reported as a lost connection by the driver.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

/**
 * `-c name=value` pairs of the start-up packet (values here never contain spaces), after the
 * options pg itself would send (`PGOPTIONS`, as with libpq): pg sends those only when it is given
 * none. berth's own settings come last and win where both set one.
 */
function startupOptions(base: pg.ClientConfig, settings: Readonly<Record<string, string>>): { options?: string } {
  const pairs = Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`);
  const inherited = new ConnectionParameters(base).options?.trim();
  if (pairs.length && inherited) pairs.unshift(inherited);
  return pairs.length ? { options: pairs.join(' ') } : {};
}

function clientConfig(options: PgSessionOptions): pg.ClientConfig {
  const t = options.target;
  return {
    host: t.host,
    port: t.port,
    user: t.user,
    database: t.database,
    ...(t.password === undefined ? {} : { password: t.password }),
    ssl: sslConfig(t),
    application_name: options.applicationName,
    connectionTimeoutMillis: Math.max(1, Math.round(options.connectTimeoutMs)),
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/** libpq's sslmode meanings, without `prefer`/`allow`: TLS, once asked for, is never dropped. */
function sslConfig(t: PostgresTarget): false | ConnectionOptions {
  const mode = t.sslmode ?? 'disable';
  if (mode === 'disable') return false;
  if (mode === 'require' && !t.sslrootcert) return { rejectUnauthorized: false };
  let ca: string | undefined;
  if (t.sslrootcert) {
    try {
      ca = readFileSync(t.sslrootcert, 'utf8');
    } catch (err) {
      throw new TargetRejectedError('ERR_DB_TLS', `cannot read sslrootcert ${t.sslrootcert}: ${(err as Error).message}`);
    }
  }
  if (mode === 'verify-full') return { rejectUnauthorized: true, ...(ca ? { ca } : {}), servername: t.host };
  // verify-ca (and require with a root cert, as libpq does): check the chain, not the host name.
  return { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined };
}

const TLS_ERROR = /SSL|TLS|certificate|CERT_|self[- ]signed/i;

export function classifyConnectError(err: unknown, target: PostgresTarget): Error {
  const where = `${target.host}:${target.port}/${target.database} as ${target.user}`;
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  // The client's words may quote the connection string; berth's own words around them name the
  // user and database, which are not secrets and stay readable.
  const message = redactSecrets(typeof e.message === 'string' ? e.message : String(err), [target.password]);
  if (err instanceof TargetRejectedError) return err;
  if (code === '28P01' || code === '28000') {
    return new TargetRejectedError('ERR_DB_AUTH', `authentication to ${where} failed: ${message}. Check the user and password (or the *_FILE secret).`, { cause: err });
  }
  if (code === '3D000') {
    return new TargetRejectedError('ERR_DB_NOT_FOUND', `database "${target.database}" does not exist on ${target.host}:${target.port}: create it first (berth never creates databases).`, { cause: err });
  }
  if (TLS_ERROR.test(code) || TLS_ERROR.test(message)) {
    return new TargetRejectedError('ERR_DB_TLS', `TLS negotiation with ${target.host}:${target.port} failed: ${message} (sslmode=${target.sslmode ?? 'disable'}).`, { cause: err });
  }
  return new UnreachableError('ERR_DB_UNREACHABLE', `cannot reach PostgreSQL at ${target.host}:${target.port}: ${describe(code, message)}`, { cause: err, details: { host: target.host, port: target.port, reason: code || message } });
}

function describe(code: string, message: string): string {
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused (is the server up and listening there?)';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'host name not found (yet)';
    case 'ETIMEDOUT': return 'connection timed out';
    case 'ECONNRESET': return 'connection reset';
    case '57P03': return 'the server is starting up';
    case '53300': return 'too many connections';
    default: return /timeout/i.test(message) ? 'connection attempt timed out' : message;
  }
}
