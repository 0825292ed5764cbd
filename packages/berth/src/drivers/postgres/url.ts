import { effectiveSsl, invalidUrl, MASK, parseSslMode, safeDecode, SECRET_PARAMS, wellFormed, type DatabaseTarget, type SslMode, type SslSettings } from '../../config/database-url.js';

export interface PostgresTarget extends DatabaseTarget {
  readonly kind: 'postgres';
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string | undefined;
  /** In force: the URL's own, or `--sslmode` / PGSSLMODE (see `effectiveSsl`). */
  readonly sslmode: SslMode | undefined;
  readonly sslrootcert: string | undefined;
  /** Other query parameters, passed through untouched (never containing the password). */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * `postgres://user:password@host:port/database?sslmode=...` (and `postgresql://`), with libpq's
 * query parameters for user, password, host and port. Never echoes the input: a URL that cannot be
 * parsed may be a password pasted in the wrong place, so the error names only what is wrong.
 */
export function parsePostgresUrl(input: string, origin: string, ssl?: SslSettings): PostgresTarget {
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
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidUrl(origin, 'its port is not a number between 1 and 65535');
  // WHATWG URL keeps the brackets of an IPv6 literal; the socket layer wants the bare address.
  host = host.replace(/^\[(.*)\]$/, '$1');
  if (host === '') host = 'localhost';
  const database = safeDecode(url.pathname.replace(/^\//, ''), origin) || user || 'postgres';
  if (user === '') user = 'postgres';
  const redacted = formatPostgres({ host, port, database, user, hasPassword: password !== undefined, sslmode, params });
  return Object.freeze({
    kind: 'postgres', host, port, database, user, password, ...effectiveSsl({ sslmode, sslrootcert }, ssl),
    params: Object.freeze(params), redacted, label: `${host}:${port}/${database}`,
    secrets: Object.freeze(password === undefined ? [] : [password]),
  });
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
