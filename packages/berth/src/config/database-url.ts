import { ConfigError } from '../core/errors.js';

/**
 * A database URL parsed into fields. The password lives only in `password`; every string meant
 * for humans (logs, errors, status) is built from `redacted`, so the one place that formats a URL
 * is also the one place that masks it (SPEC §4.7).
 */
export type DatabaseTarget = PostgresTarget | PgliteTarget | MysqlTarget;

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
export const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

export interface PostgresTarget {
  readonly kind: 'postgres';
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string | undefined;
  readonly sslmode: SslMode | undefined;
  readonly sslrootcert: string | undefined;
  /** Other query parameters, passed through untouched (never containing the password). */
  readonly params: Readonly<Record<string, string>>;
  readonly redacted: string;
}

/** `mysql://` or `mariadb://`: one driver for both servers; which one answered is known at connect. */
export interface MysqlTarget {
  readonly kind: 'mysql';
  /** The scheme as written, for display. */
  readonly scheme: 'mysql' | 'mariadb';
  readonly host: string;
  readonly port: number;
  /** A Unix socket path (`?socket=`), used instead of host and port when set. */
  readonly socket: string | undefined;
  /** Empty when the URL names none: the session then has no default database. */
  readonly database: string;
  readonly user: string;
  readonly password: string | undefined;
  /** The same meanings as for PostgreSQL; MySQL's own `ssl-mode` names are accepted too. */
  readonly sslmode: SslMode | undefined;
  readonly sslrootcert: string | undefined;
  readonly params: Readonly<Record<string, string>>;
  readonly redacted: string;
}

export interface PgliteTarget {
  readonly kind: 'pglite';
  /** `null` for `pglite://memory`. */
  readonly dataDir: string | null;
  readonly redacted: string;
}

const MASK = '****';
const KNOWN_OTHER_SCHEMES = ['http', 'https', 'sqlite', 'file', 'jdbc', 'cockroachdb', 'redis', 'mongodb'];
/** Query parameters that carry secrets: kept for the connection, masked in every display form. */
const SECRET_PARAMS = new Set(['sslpassword', 'passfile']);

/**
 * Parses without ever echoing the input: a URL that cannot be parsed may be a password pasted in
 * the wrong place, so the error names only what is wrong with it.
 */
export function parseDatabaseUrl(raw: string, origin = 'the database URL'): DatabaseTarget {
  const input = raw.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(input)?.[1]?.toLowerCase();
  if (scheme === 'pglite') return parsePglite(input, origin);
  if (scheme === 'mysql' || scheme === 'mariadb') return parseMysql(input, scheme, origin);
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    // Only a scheme berth recognises is quoted back: anything else may be a pasted secret.
    const known = scheme !== undefined && KNOWN_OTHER_SCHEMES.includes(scheme);
    throw invalid(origin, scheme === undefined
      ? 'it has no scheme; expected postgres://user:password@host:port/database, mysql://user:password@host:port/database or pglite://memory'
      : `its scheme${known ? ` "${scheme}:"` : ''} is not supported; use postgres://, postgresql://, mysql://, mariadb:// or pglite://`);
  }
  const url = wellFormed(input, origin);
  const params: Record<string, string> = {};
  let password = url.password === '' ? undefined : safeDecode(url.password, origin);
  let host = safeDecode(url.hostname, origin);
  let port = url.port === '' ? 5432 : Number(url.port);
  let sslmode: SslMode | undefined;
  let sslrootcert: string | undefined;
  let user = safeDecode(url.username, origin);
  for (const [key, value] of url.searchParams) {
    switch (key) {
      case 'password': password = value; break;
      case 'user': user = value; break;
      case 'host': host = value; break;
      case 'port': port = Number(value); break;
      case 'sslmode': sslmode = parseSslMode(value, origin); break;
      case 'sslrootcert': sslrootcert = value; break;
      default: params[key] = value;
    }
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(origin, 'its port is not a number between 1 and 65535');
  // WHATWG URL keeps the brackets of an IPv6 literal; the socket layer wants the bare address.
  host = host.replace(/^\[(.*)\]$/, '$1');
  if (host === '') host = 'localhost';
  const database = safeDecode(url.pathname.replace(/^\//, ''), origin) || user || 'postgres';
  if (user === '') user = 'postgres';
  const redacted = formatPostgres({ host, port, database, user, hasPassword: password !== undefined, sslmode, params });
  return Object.freeze({ kind: 'postgres', host, port, database, user, password, sslmode, sslrootcert, params: Object.freeze(params), redacted });
}

function parseSslMode(value: string, origin: string, key = 'sslmode'): SslMode {
  if (value === 'prefer' || value === 'allow') {
    throw invalid(origin, `${key}=${value} may fall back to plaintext, which berth never does; use disable, require, verify-ca or verify-full`);
  }
  if (!SSL_MODES.includes(value as SslMode)) {
    throw invalid(origin, `${key} "${value}" is not one of ${SSL_MODES.join(', ')}`);
  }
  return value as SslMode;
}

/** MySQL clients' `--ssl-mode` names for berth's modes; PREFERRED may fall back to plaintext. */
const MYSQL_SSL_MODES: Readonly<Record<string, string>> = {
  DISABLED: 'disable', REQUIRED: 'require', VERIFY_CA: 'verify-ca', VERIFY_IDENTITY: 'verify-full', PREFERRED: 'prefer',
};

/**
 * `mysql://user:password@host:port/database` (dbmate's form; the mysql client's own URI form).
 * golang-migrate's Go DSN `user:password@tcp(host:port)/database` is not a URL and is refused
 * with the form to use instead.
 */
function parseMysql(input: string, scheme: 'mysql' | 'mariadb', origin: string): MysqlTarget {
  if (/@(tcp|unix)\(/i.test(input)) {
    throw invalid(origin, `the tcp(host:port) form is a Go DSN, not a URL; write ${scheme}://user:password@host:port/database`);
  }
  const url = wellFormed(input, origin);
  const params: Record<string, string> = {};
  let password = url.password === '' ? undefined : safeDecode(url.password, origin);
  let user = safeDecode(url.username, origin);
  let host = safeDecode(url.hostname, origin).replace(/^\[(.*)\]$/, '$1') || 'localhost';
  let port = url.port === '' ? 3306 : Number(url.port);
  let socket: string | undefined;
  let sslmode: SslMode | undefined;
  let sslrootcert: string | undefined;
  for (const [key, value] of url.searchParams) {
    switch (key) {
      case 'password': password = value; break;
      case 'user': user = value; break;
      case 'host': host = value; break;
      case 'port': port = Number(value); break;
      case 'socket': socket = value; break;
      case 'sslmode': sslmode = parseSslMode(value, origin); break;
      case 'ssl-mode': sslmode = parseSslMode(MYSQL_SSL_MODES[value.toUpperCase()] ?? value, origin, 'ssl-mode'); break;
      case 'sslrootcert': case 'ssl-ca': sslrootcert = value; break;
      default: params[key] = value;
    }
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(origin, 'its port is not a number between 1 and 65535');
  if (user === '') user = 'root';
  const database = safeDecode(url.pathname.replace(/^\//, ''), origin);
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, SECRET_PARAMS.has(k) ? MASK : v]));
  if (socket) query.set('socket', socket);
  if (sslmode) query.set('sslmode', sslmode);
  const qs = query.toString();
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const redacted = `${scheme}://${encodeURIComponent(user)}${password === undefined ? '' : `:${MASK}`}@${shownHost}:${port}/${encodeURIComponent(database)}${qs ? `?${qs}` : ''}`;
  return Object.freeze({
    kind: 'mysql', scheme, host, port, socket, database, user, password, sslmode, sslrootcert, params: Object.freeze(params), redacted,
  });
}

function parsePglite(input: string, origin: string): PgliteTarget {
  const rest = input.slice('pglite://'.length);
  if (!input.toLowerCase().startsWith('pglite://') || rest === '') {
    throw invalid(origin, 'a PGlite URL is pglite://memory or pglite://<directory>');
  }
  const dataDir = rest === 'memory' ? null : rest;
  return Object.freeze({ kind: 'pglite', dataDir, redacted: `pglite://${rest}` });
}

function formatPostgres(t: { host: string; port: number; database: string; user: string; hasPassword: boolean; sslmode: SslMode | undefined; params: Record<string, string> }): string {
  const auth = `${encodeURIComponent(t.user)}${t.hasPassword ? `:${MASK}` : ''}@`;
  const host = t.host.startsWith('/') ? '' : t.host.includes(':') ? `[${t.host}]` : t.host;
  const query = new URLSearchParams(Object.entries(t.params).map(([k, v]) => [k, SECRET_PARAMS.has(k) ? MASK : v]));
  if (t.host.startsWith('/')) query.set('host', t.host);
  if (t.sslmode) query.set('sslmode', t.sslmode);
  const qs = query.toString();
  return `postgres://${auth}${host}:${t.port}/${encodeURIComponent(t.database)}${qs ? `?${qs}` : ''}`;
}

function wellFormed(input: string, origin: string): URL {
  try {
    return new URL(input);
  } catch {
    throw invalid(origin, 'it is not a well-formed URL (percent-encode special characters in the user name and password)');
  }
}

function safeDecode(value: string, origin: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw invalid(origin, 'it contains a malformed percent-encoding');
  }
}

function invalid(origin: string, why: string): ConfigError {
  return new ConfigError('ERR_CONFIG_URL_INVALID', `${origin} cannot be used: ${why} (the value is not shown because it may contain a password)`);
}

/**
 * Removes any password of `target` from free text that comes from outside berth (a server's or a
 * client's message, a stack trace, a code migration's error): the literal secret wherever it
 * appears, and any URL-shaped credential. Never applied to berth's own words, which are built
 * from redacted targets and would only be garbled by it (a password "postgres" would mask every
 * scheme, user and database of that name).
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    out = out.split(secret).join(MASK);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(MASK);
  }
  return maskUrlCredentials(out);
}

/**
 * Masks the password where it stands in a URL (`scheme://user:password@`) or a key/value
 * connection string (`password=...`), whatever produced the text: the last pass over every line
 * berth prints.
 */
export function maskUrlCredentials(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]*:)[^@\s/]+@/gi, `$1${MASK}@`)
    .replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'&]+)/gi, `$1${MASK}`);
}
