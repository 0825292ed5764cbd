/**
 * The drivers berth knows, by URL scheme: each with its URL parser, its dialect (how files split
 * into statements, what runs in a transaction), its capabilities and how to build it. Core picks
 * everything database-specific from here and never imports a concrete driver (a test checks it);
 * a driver's client library is loaded only when a URL of its scheme is used.
 *
 * Adding a database: a folder under drivers/ with its Driver, URL parser and dialect, an entry
 * here, and the conformance suite (test/conformance/) passing against its real server.
 */
import { invalidUrl, type DatabaseTarget, type SslSettings } from '../config/database-url.js';
import type { Dialect } from './dialect.js';
import type { Driver, DriverCapabilities, SessionKeeper } from './driver.js';
import { mysqlDialect } from './mysql/dialect.js';
import { parseMysqlUrl, type MysqlTarget } from './mysql/url.js';
import { parsePgliteUrl, type PgliteTarget } from './pglite/url.js';
import { postgresDialect } from './postgres/dialect.js';
import { parsePostgresUrl, type PostgresTarget } from './postgres/url.js';

/** What a driver is built with, for one session. */
export interface DriverOptions {
  /** Names the session on the server (`application_name`, the processlist). */
  readonly applicationName: string;
  /** Bound of one connection attempt, in ms. */
  readonly connectTimeoutMs: number;
  /** Keeps an in-process database open between the operations of one migrator. */
  readonly keeper: SessionKeeper;
  /**
   * The session's `search_path` (one schema), sent at start-up so it is every migration's reset
   * value; only where `capabilities.searchPath`.
   */
  readonly searchPath?: string;
}

/**
 * How the database's own client tools reach a target with nothing secret on their command line or
 * in their environment: `env` holds what is not secret (host, port, user, database), `files` the
 * secret files core writes privately (mode 0600) before running them, each path passed in the
 * environment variable that names it (`PGPASSFILE`), and removes afterwards.
 */
export interface ClientAccess {
  readonly env: Readonly<Record<string, string>>;
  readonly files: Readonly<Record<string, string>>;
}

/** The built-in backup (`--backup-dir`): the database's dump client, run without a shell. */
export interface BackupClient<T extends DatabaseTarget = DatabaseTarget> {
  /** The program, looked up on PATH, and where it comes from when it is missing. */
  readonly program: string;
  readonly install: string;
  /** The dump file's extension, with its dot. */
  readonly extension: string;
  /**
   * Its arguments to dump `target` into `file`; `env` is `access`'s, with the secret files' paths.
   * `schema`: only that schema (a fleet's --schema-per-target target), else the whole database.
   */
  args(target: T, file: string, env: Readonly<Record<string, string>>, schema?: string): string[];
  /** What a failure's output means, when the operator can act on it (a client older than the server). */
  explain(output: string): string | undefined;
}

export interface DriverEntry<T extends DatabaseTarget = DatabaseTarget> {
  /** `kind` of its targets. */
  readonly kind: T['kind'];
  /** URL schemes (without `:`), lower-case. */
  readonly schemes: readonly string[];
  /** How its URLs look, for messages. */
  readonly example: string;
  readonly dialect: Dialect;
  readonly capabilities: DriverCapabilities;
  /** Parses a URL of one of its schemes; never echoes it (see config/database-url.ts). */
  parseUrl(input: string, origin: string, ssl?: SslSettings): T;
  /** A driver for one session to `target`; nothing is connected yet. */
  create(target: T, options: DriverOptions): Promise<Driver>;
  /** How the database's client tools connect to `target` (for `--backup-command`); absent for an in-process database. */
  access?(target: T): ClientAccess;
  /** The built-in backup; absent where there is none. */
  readonly backup?: BackupClient<T>;
}

const postgres: DriverEntry<PostgresTarget> = {
  kind: 'postgres',
  schemes: ['postgres', 'postgresql'],
  example: 'postgres://user:password@host:5432/database',
  dialect: postgresDialect,
  capabilities: { transactionalDdl: true, advisoryLocks: true, multipleConnections: true, inProcess: false, searchPath: true },
  parseUrl: parsePostgresUrl,
  async create(target, options) {
    const [{ PostgresDriver }, { openPgSession }] = await Promise.all([import('./postgres/postgres-driver.js'), import('./postgres/pg-session.js')]);
    return new PostgresDriver({
      capabilities: postgres.capabilities,
      open: (settings) => openPgSession({ target, applicationName: options.applicationName, connectTimeoutMs: options.connectTimeoutMs }, settings),
      sessionLimits: true,
      scripts: true,
      ...(options.searchPath ? { searchPath: options.searchPath } : {}),
    });
  },
  // libpq's own variables: pg_dump, psql and pg_restore need no argument to connect.
  access: (t) => ({
    env: {
      PGHOST: t.host, PGPORT: String(t.port), PGDATABASE: t.database, PGUSER: t.user,
      ...(t.sslmode ? { PGSSLMODE: t.sslmode } : {}), ...(t.sslrootcert ? { PGSSLROOTCERT: t.sslrootcert } : {}),
    },
    // libpq's password file, private to this run: any host, port, database and user (a client
    // connecting to 127.0.0.1 for localhost would not match otherwise); : and \\ escaped.
    files: t.password === undefined ? {} as Record<string, string> : { PGPASSFILE: `*:*:*:*:${t.password.replace(/[\\:]/g, '\\$&')}\n` },
  }),
  backup: {
    program: 'pg_dump',
    install: 'the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client; Alpine: apk add postgresql-client; '
      + 'berth\'s image: its -clients variant, built with --build-arg WITH_DB_CLIENTS=true), of the server\'s major version or newer',
    extension: '.dump',
    args: (_t, file, _env, schema) => ['--format=custom', '--no-password', `--file=${file}`, ...(schema ? [`--schema=${schema}`] : [])],
    explain: (output) => {
      const m = /server version: ([\d.]+)[^\n]*; pg_dump version: ([\d.]+)/.exec(output);
      return m ? `pg_dump ${m[2]} cannot dump a PostgreSQL ${m[1]} server: install the client of major version ${m[1]!.split('.')[0]} or newer` : undefined;
    },
  },
};

const pglite: DriverEntry<PgliteTarget> = {
  kind: 'pglite',
  schemes: ['pglite'],
  example: 'pglite://memory',
  dialect: postgresDialect,
  // One session inside this process: nothing else can take a lock, so exclusion is trivially
  // true, and there is no second connection to cancel from.
  capabilities: { transactionalDdl: true, advisoryLocks: false, multipleConnections: false, inProcess: true, searchPath: false },
  parseUrl: (input, origin) => parsePgliteUrl(input, origin),
  async create(target, options) {
    const [{ PostgresDriver }, { openPgliteSession }] = await Promise.all([import('./postgres/postgres-driver.js'), import('./pglite/pglite-session.js')]);
    return new PostgresDriver({
      capabilities: pglite.capabilities,
      // `pglite://memory` would vanish after every operation: the migrator keeps it open, and
      // each operation only lets go of it.
      open: async () => ({ ...(await options.keeper.keep(target.redacted, () => openPgliteSession(target))), end: async () => undefined }),
      sessionLimits: false,
      scripts: false,
    });
  },
};

const mysql: DriverEntry<MysqlTarget> = {
  kind: 'mysql',
  schemes: ['mysql', 'mariadb'],
  example: 'mysql://user:password@host:3306/database',
  dialect: mysqlDialect,
  // DDL commits implicitly in MySQL and MariaDB: a migration cannot be rolled back whole, so core
  // runs each one statement by statement through a `started` row (SPEC §4.3, §9). GET_LOCK locks
  // belong to the session; a second connection can kill a statement or look at the holder.
  capabilities: { transactionalDdl: false, advisoryLocks: true, multipleConnections: true, inProcess: false, searchPath: false },
  parseUrl: parseMysqlUrl,
  async create(target, options) {
    const [{ MysqlDriver }, { openMysqlSession }] = await Promise.all([import('./mysql/mysql-driver.js'), import('./mysql/mysql-session.js')]);
    return new MysqlDriver({
      capabilities: mysql.capabilities,
      open: () => openMysqlSession({ target, applicationName: options.applicationName, connectTimeoutMs: options.connectTimeoutMs }),
    });
  },
  // The clients read an option file only from their command line: its path is in
  // BERTH_MYSQL_DEFAULTS_FILE, for `mysqldump --defaults-extra-file="$BERTH_MYSQL_DEFAULTS_FILE"`.
  access: (t) => ({
    env: { MYSQL_HOST: t.host, MYSQL_TCP_PORT: String(t.port), ...(t.socket ? { MYSQL_UNIX_PORT: t.socket } : {}), BERTH_MYSQL_DATABASE: t.database },
    files: { BERTH_MYSQL_DEFAULTS_FILE: mysqlOptionFile(t) },
  }),
  backup: {
    program: 'mysqldump',
    install: 'the MySQL or MariaDB client (Debian/Ubuntu: apt-get install mariadb-client or default-mysql-client; Alpine: apk add mariadb-client; '
      + 'berth\'s image: its -clients variant, built with --build-arg WITH_DB_CLIENTS=true)',
    extension: '.sql',
    // --single-transaction: a consistent InnoDB snapshot without locking the tables. No
    // --databases: the dump then restores into any database (`mysql other < file`).
    // --no-tablespaces: MySQL 8 would otherwise need the PROCESS privilege.
    args: (t, file, env) => [`--defaults-extra-file=${env.BERTH_MYSQL_DEFAULTS_FILE}`, '--single-transaction', '--routines', '--triggers',
      '--no-tablespaces', `--result-file=${file}`, t.database],
    explain: () => undefined,
  },
};

/** A client option file: the values quoted as the option-file syntax reads them. */
function mysqlOptionFile(t: MysqlTarget): string {
  const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return ['[client]', `user=${quote(t.user)}`, ...(t.password === undefined ? [] : [`password=${quote(t.password)}`]),
    ...(t.socket ? [`socket=${quote(t.socket)}`] : [`host=${quote(t.host)}`, `port=${t.port}`]),
    ...(t.sslmode === 'disable' ? ['skip-ssl'] : []), ''].join('\n');
}

export const DRIVERS: readonly DriverEntry[] = [postgres, pglite, mysql] as unknown as readonly DriverEntry[];

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** The entry for a URL's scheme, or undefined. */
function entryForScheme(scheme: string | undefined): DriverEntry | undefined {
  return scheme === undefined ? undefined : DRIVERS.find((d) => d.schemes.includes(scheme));
}

/** The entry that parsed `target`. */
export function driverFor(target: DatabaseTarget): DriverEntry {
  const entry = DRIVERS.find((d) => d.kind === target.kind);
  if (!entry) throw new TypeError(`no driver for targets of kind ${target.kind}`);
  return entry;
}

/**
 * Parses a database URL with the parser of its scheme. Never echoes it: a URL that cannot be
 * parsed may be a password pasted in the wrong place, so the error names only what is wrong.
 */
export function parseDatabaseUrl(raw: string, origin = 'the database URL', ssl?: SslSettings): DatabaseTarget {
  const input = raw.trim();
  const scheme = SCHEME.exec(input)?.[1]?.toLowerCase();
  const entry = entryForScheme(scheme);
  if (entry) return entry.parseUrl(input, origin, ssl);
  const supported = DRIVERS.flatMap((d) => d.schemes.map((s) => `${s}://`)).join(', ');
  // A scheme of a known kind of URL is quoted back; anything else may be a pasted secret.
  const known = scheme !== undefined && KNOWN_OTHER_SCHEMES.includes(scheme);
  throw invalidUrl(origin, scheme === undefined
    ? `it has no scheme; expected ${DRIVERS.map((d) => d.example).join(' or ')}`
    : `its scheme${known ? ` "${scheme}:"` : ''} is not supported; use ${supported}`);
}

const KNOWN_OTHER_SCHEMES = ['http', 'https', 'sqlite', 'file', 'jdbc', 'cockroachdb', 'redis', 'mongodb'];
