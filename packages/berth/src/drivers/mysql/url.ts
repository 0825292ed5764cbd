import {
  effectiveSsl, invalidUrl, MASK, parseSslMode, safeDecode, SECRET_PARAMS, wellFormed, type DatabaseTarget, type SslMode, type SslSettings,
} from '../../config/database-url.js';

export interface MysqlTarget extends DatabaseTarget {
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
}

/** MySQL clients' `--ssl-mode` names for berth's modes; PREFERRED may fall back to plaintext. */
const MYSQL_SSL_MODES: Readonly<Record<string, string>> = {
  DISABLED: 'disable', REQUIRED: 'require', VERIFY_CA: 'verify-ca', VERIFY_IDENTITY: 'verify-full', PREFERRED: 'prefer',
};

/**
 * `mysql://user:password@host:port/database` (dbmate's form; the mysql client's own URI form), and
 * `mariadb://`. golang-migrate's Go DSN `user:password@tcp(host:port)/database` is not a URL and is
 * refused with the form to use instead.
 */
export function parseMysqlUrl(input: string, origin: string, ssl?: SslSettings): MysqlTarget {
  const scheme = input.slice(0, input.indexOf(':')).toLowerCase() === 'mariadb' ? 'mariadb' : 'mysql';
  if (/@(tcp|unix)\(/i.test(input)) {
    throw invalidUrl(origin, `the tcp(host:port) form is a Go DSN, not a URL; write ${scheme}://user:password@host:port/database`);
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
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidUrl(origin, 'its port is not a number between 1 and 65535');
  if (user === '') user = 'root';
  const database = safeDecode(url.pathname.replace(/^\//, ''), origin);
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, SECRET_PARAMS.has(k) ? MASK : v]));
  if (socket) query.set('socket', socket);
  if (sslmode) query.set('sslmode', sslmode);
  const qs = query.toString();
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const redacted = `${scheme}://${encodeURIComponent(user)}${password === undefined ? '' : `:${MASK}`}@${shownHost}:${port}/${encodeURIComponent(database)}${qs ? `?${qs}` : ''}`;
  return Object.freeze({
    kind: 'mysql', scheme, host, port, socket, database, user, password, ...effectiveSsl({ sslmode, sslrootcert }, ssl),
    params: Object.freeze(params), redacted, label: `${socket ?? `${host}:${port}`}/${database}`,
    secrets: Object.freeze(password === undefined ? [] : [password]),
  });
}
