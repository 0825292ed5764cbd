import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../errors.js';

/**
 * The targets of a fleet (SPEC §10): each one database, or one schema of a database, migrated
 * with its own session, lock and history table. Pure: the list arrives as text (a file, stdin) or
 * rows (a query), and no URL is ever echoed (it may hold a password).
 */
export interface FleetTarget {
  /** Unique in the fleet; names the target in logs, the report and the `target` metrics label. */
  readonly name: string;
  /** Its URL, or a function returning it (called for every connection attempt). */
  readonly databaseUrl: string | (() => string | Promise<string>);
  /** Schema of its history table; default: the connection's current schema. */
  readonly schema?: string;
  /** PostgreSQL: the session's search_path (a schema per target). */
  readonly searchPath?: string;
}

/** A targets list as written: names, URLs, and the template that turns a name into a URL. */
export interface TargetList {
  /** A URL with `{name}` in it (`postgres://app@db:5432/tenant_{name}`). */
  readonly template?: string;
  readonly entries: readonly { readonly name: string; readonly url?: string }[];
}

/** What a target name may be: it goes into URLs, schema names and metric labels as it is. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;
/** A schema per target: PostgreSQL folds an unquoted search_path entry to lower case. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
export const NAME_PLACEHOLDER = '{name}';

/**
 * Parses a targets file (YAML or JSON, which is YAML) into a list. Accepted shapes:
 *
 * ```yaml
 * template: postgres://app@db:5432/tenant_{name}    # optional; default: the -d URL
 * names: [acme, globex]
 * targets:                                          # and/or explicit URLs
 *   - { name: eu, url: postgres://app@db-eu:5432/app }
 * ```
 * or a bare list of names and/or `{ name, url }` entries. A password in any URL is refused.
 */
export function parseTargetList(text: string, origin: string): TargetList {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError('ERR_CONFIG_INVALID', `${origin} is not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return { entries: [] };
  if (Array.isArray(doc)) return { entries: doc.map((e, i) => entryOf(e, `${origin}, entry ${i + 1}`)) };
  if (typeof doc !== 'object') throw new ConfigError('ERR_CONFIG_INVALID', `${origin} must be a list of targets or an object with names/targets/template (see docs/fleets.md)`);
  const o = doc as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !['template', 'names', 'targets'].includes(k));
  if (unknown.length) throw new ConfigError('ERR_CONFIG_INVALID', `${origin}: unknown key(s) ${unknown.join(', ')}; a targets file has template, names and targets (see docs/fleets.md)`);
  if (o.template !== undefined && typeof o.template !== 'string') throw new ConfigError('ERR_CONFIG_INVALID', `${origin}: template must be a URL with {name} in it`);
  for (const key of ['names', 'targets'] as const) {
    if (o[key] !== undefined && !Array.isArray(o[key])) throw new ConfigError('ERR_CONFIG_INVALID', `${origin}: ${key} must be a list`);
  }
  const names = ((o.names ?? []) as unknown[]).map((n, i) => entryOf(typeof n === 'number' ? String(n) : n, `${origin}, names[${i}]`));
  const targets = ((o.targets ?? []) as unknown[]).map((e, i) => entryOf(e, `${origin}, targets[${i}]`));
  if (typeof o.template === 'string') refuseCredentials(o.template, `${origin}, template`);
  return { ...(typeof o.template === 'string' ? { template: o.template } : {}), entries: [...names, ...targets] };
}

/** Rows of `--targets-query`: a `name` column, and an optional `url` column. */
export function targetListFromRows(rows: readonly Record<string, unknown>[], origin: string): TargetList {
  return {
    entries: rows.map((row, i) => {
      if (!('name' in row)) throw new ConfigError('ERR_CONFIG_INVALID', `${origin} must return a column named name (and optionally url); row ${i + 1} has ${Object.keys(row).join(', ') || 'no columns'}`);
      return entryOf({ name: row.name === null || row.name === undefined ? row.name : String(row.name), ...(row.url === null || row.url === undefined ? {} : { url: String(row.url) }) }, `${origin}, row ${i + 1}`);
    }),
  };
}

function entryOf(value: unknown, where: string): { name: string; url?: string } {
  const raw = typeof value === 'string' ? { name: value } : value;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('ERR_CONFIG_INVALID', `${where}: a target is a name or { name, url }`);
  const e = raw as Record<string, unknown>;
  const extra = Object.keys(e).filter((k) => k !== 'name' && k !== 'url');
  if (extra.length) throw new ConfigError('ERR_CONFIG_INVALID', `${where}: unknown key(s) ${extra.join(', ')}; a target has name and url (credentials come from the environment, never from the list)`);
  if (typeof e.name !== 'string' || !NAME.test(e.name)) {
    throw new ConfigError('ERR_CONFIG_INVALID', `${where}: name ${typeof e.name === 'string' ? `"${e.name}" ` : ''}must be 1 to 63 of A-Z a-z 0-9 _ . - (not starting with . or -)`);
  }
  if (e.url !== undefined && typeof e.url !== 'string') throw new ConfigError('ERR_CONFIG_INVALID', `${where} (${e.name}): url must be a string`);
  if (typeof e.url === 'string') refuseCredentials(e.url, `${where} (${e.name})`);
  return { name: e.name, ...(typeof e.url === 'string' ? { url: e.url } : {}) };
}

/** A list is read by many people and kept in git: a password in it is refused, never echoed. */
function refuseCredentials(url: string, where: string): void {
  const u = urlOrUndefined(url.split(NAME_PLACEHOLDER).join('x'));
  if (u && (u.password !== '' || u.searchParams.has('password'))) {
    throw new ConfigError('ERR_CONFIG_INVALID', `${where}: the URL holds a password, which a targets list must not (the value is not shown). ` +
      'Leave it out: it is taken from the -d URL (DATABASE_URL or DATABASE_URL_FILE) when the user matches, or from PGPASSWORD / ~/.pgpass');
  }
}

export interface BuildTargetsInput {
  readonly list: TargetList;
  /** The -d URL (re-read on each call, for a rotating `_FILE`): the template, the database of the schemas, and the credentials. */
  readonly baseUrl: (() => string) | undefined;
  /** Each name is a schema of the -d database, with its own history table. */
  readonly schemaPerTarget: boolean;
  /** How messages name the list (`--targets tenants.yaml`). */
  readonly origin: string;
}

/**
 * Turns a list into targets: a URL of its own, the list's template, or the -d URL as template
 * (with `{name}`), or with `schemaPerTarget` the -d URL and a schema named after the target.
 * Credentials of a URL from the list come from the -d URL when its user matches (or is left out).
 */
export function buildTargets(input: BuildTargetsInput): FleetTarget[] {
  const { list, baseUrl, origin } = input;
  const seen = new Set<string>();
  for (const e of list.entries) {
    if (seen.has(e.name)) throw new ConfigError('ERR_CONFIG_INVALID', `${origin}: target ${e.name} is listed twice; each target is migrated once, under one name`);
    seen.add(e.name);
  }
  const baseHasName = () => baseUrl !== undefined && baseUrl().includes(NAME_PLACEHOLDER);
  if (input.schemaPerTarget) {
    if (!baseUrl) throw new ConfigError('ERR_CONFIG_NO_URL', '--schema-per-target needs the database that holds the schemas: pass -d (or DATABASE_URL / DATABASE_URL_FILE)');
    if (list.template !== undefined || list.entries.some((e) => e.url !== undefined) || baseHasName()) {
      throw new ConfigError('ERR_CONFIG_INVALID', `--schema-per-target: every target is a schema of the -d database, so ${origin} lists names only (no url, no template) and -d has no {name}`);
    }
    return list.entries.map((e) => {
      if (!SCHEMA_NAME.test(e.name)) throw new ConfigError('ERR_CONFIG_INVALID', `${origin}: "${e.name}" cannot name a schema per target: use a-z, 0-9 and _ (lower case, not starting with a digit)`);
      return Object.freeze({ name: e.name, databaseUrl: baseUrl, schema: e.name, searchPath: e.name });
    });
  }
  return list.entries.map((e) => {
    if (e.url !== undefined) {
      const url = e.url;
      return Object.freeze({ name: e.name, databaseUrl: () => withCredentials(url, baseUrl?.()) });
    }
    const template = list.template;
    if (template === undefined && !baseHasName()) {
      throw new ConfigError('ERR_CONFIG_INVALID', `${origin}: target ${e.name} has no url, and there is no template to build one: add template: postgres://user@host:5432/tenant_{name} to the list, ` +
        'put {name} in the -d URL, or pass --schema-per-target if the names are schemas of the -d database');
    }
    const name = encodeURIComponent(e.name);
    return Object.freeze({
      name: e.name,
      databaseUrl: template !== undefined
        ? () => withCredentials(template.split(NAME_PLACEHOLDER).join(name), baseUrl?.())
        : () => baseUrl!().split(NAME_PLACEHOLDER).join(name),
    });
  });
}

/**
 * `url` with the user and password of `base` where `url` has none and names the same user (or
 * none): one secret (DATABASE_URL_FILE) serves a whole list of hosts.
 */
export function withCredentials(url: string, base: string | undefined): string {
  if (base === undefined) return url;
  const u = urlOrUndefined(url);
  const b = urlOrUndefined(base.split(NAME_PLACEHOLDER).join('x'));
  if (!u || !b || u.password !== '' || b.password === '') return url;
  if (u.username !== '' && u.username !== b.username) return url;
  u.username = b.username;
  u.password = b.password;
  return u.toString();
}

function urlOrUndefined(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
