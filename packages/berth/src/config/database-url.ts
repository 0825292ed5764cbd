import { ConfigError } from '../errors.js';

/**
 * What every driver's parsed URL has (drivers/<db>/url.ts parse them, drivers/registry.ts picks
 * the parser by scheme). The password lives only in the driver's own fields; every string meant
 * for humans (logs, errors, status) is built from `redacted`, so the one place that formats a URL
 * is also the one place that masks it (SPEC §4.7).
 */
export interface DatabaseTarget {
  /** The registry's name of the driver: `postgres`, `pglite`, `mysql`. */
  readonly kind: string;
  /** The URL with its password masked. */
  readonly redacted: string;
  /** A name for metrics labels and summaries: `host:port/database`, never credentials. */
  readonly label: string;
  /** What must never be printed (passwords), to mask in text that comes from outside berth. */
  readonly secrets: readonly string[];
}

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
export const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

/** `--sslmode` / `--sslrootcert` (or PGSSLMODE...): a flag beats the URL, the URL beats the environment. */
export interface SslSettings {
  readonly mode?: SslMode;
  readonly rootcert?: string;
  /** True when they came from a flag. */
  readonly override: boolean;
}

/** The TLS settings in force, from the URL's own and the settings: a flag wins, else the URL. */
export function effectiveSsl(url: { sslmode: SslMode | undefined; sslrootcert: string | undefined }, ssl: SslSettings | undefined): { sslmode: SslMode | undefined; sslrootcert: string | undefined } {
  if (!ssl) return url;
  return {
    sslmode: ssl.override ? ssl.mode ?? url.sslmode : url.sslmode ?? ssl.mode,
    sslrootcert: ssl.override ? ssl.rootcert ?? url.sslrootcert : url.sslrootcert ?? ssl.rootcert,
  };
}

export const MASK = '****';

/** Query parameters that carry secrets: kept for the connection, masked in every display form. */
export const SECRET_PARAMS = new Set(['sslpassword', 'passfile']);

/** `sslmode` as berth understands it, for every driver: libpq's names, never one that may fall back to plaintext. */
export function parseSslMode(value: string, origin: string, key = 'sslmode'): SslMode {
  if (value === 'prefer' || value === 'allow') {
    throw invalidUrl(origin, `${key}=${value} may fall back to plaintext, which berth never does; use disable, require, verify-ca or verify-full`);
  }
  if (!SSL_MODES.includes(value as SslMode)) {
    throw invalidUrl(origin, `${key} "${value}" is not one of ${SSL_MODES.join(', ')}`);
  }
  return value as SslMode;
}

/** The URL, or the error that says it is not one (never quoting it). */
export function wellFormed(input: string, origin: string): URL {
  try {
    return new URL(input);
  } catch {
    throw invalidUrl(origin, 'it is not a well-formed URL (percent-encode special characters in the user name and password)');
  }
}

export function safeDecode(value: string, origin: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw invalidUrl(origin, 'it contains a malformed percent-encoding');
  }
}

export function invalidUrl(origin: string, why: string): ConfigError {
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
