/**
 * Config files (SPEC §6): `berth.config.{json,yaml,yml,ts,js,mjs}` in the working directory, or
 * the file named by `--config`. The layer sits between the built-in defaults and the environment.
 *
 * Two halves, as in changesets' `readConfig` / `validateConfig`:
 * - `loadConfigFile` is the I/O wrapper: it finds the file, reads and parses it (YAML parser and
 *   module loader are imported only when such a file is used) and returns its raw values;
 * - `configFileValues` is pure: it checks keys and value types and turns the values into the
 *   strings and booleans `resolveConfig` validates. `resolveConfig` calls it, so problems in the
 *   file are reported together with those of the environment and the flags, in one error.
 *
 * Contract for the file's content:
 * - keys are the setting keys (`databaseUrl`, `dir`, `table`, `schema`, `wait`, `lockTimeout`,
 *   `statementTimeout`, `logFormat`, `quiet`, `sslmode`, `sslrootcert`); any other key is an
 *   error that names it and the file, with a "did you mean" for near misses (`lock_timeout`,
 *   `DATABASE_URL`, `lockTimeoutMs`);
 * - durations are strings (`"30s"`, `"500ms"`) or numbers of **seconds**, as everywhere else
 *   (SPEC §2): `wait: 30` waits 30 s;
 * - `null` (an empty YAML value) or `undefined` (`process.env.X` unset in a .ts file) means "not
 *   set here": the default or a lower layer applies;
 * - relative paths (`dir`, `sslrootcert`, `metricsFile`) are resolved against the config file's
 *   folder, not the working directory, so a file means the same wherever berth is started from;
 * - `.ts`/`.js`/`.mjs` files `export default` an object, or a function (possibly async) that
 *   returns one.
 */

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

import { BerthError, ConfigError } from '../errors.js';
import { editDistance } from '../text.js';
import { lineColumnAt } from '../text.js';
import type { SslMode } from './database-url.js';
import { SETTINGS, type SettingKey } from './settings.js';

/** Searched in the working directory in this order; more than one present is an error. */
export const CONFIG_FILE_NAMES = [
  'berth.config.json',
  'berth.config.yaml',
  'berth.config.yml',
  'berth.config.ts',
  'berth.config.js',
  'berth.config.mjs',
] as const;

type DurationKey = 'wait' | 'lockTimeout' | 'statementTimeout' | 'linger' | 'leaseTtl';

/**
 * The content of a config file, for authors of `berth.config.ts` (`satisfies BerthConfigFile`):
 * durations are strings (`"30s"`) or numbers of seconds, `quiet` a boolean, the rest strings.
 */
export type BerthConfigFile = {
  [K in SettingKey]?: K extends DurationKey ? string | number : K extends 'quiet' ? boolean : string;
} & {
  logFormat?: 'pretty' | 'json';
  sslmode?: SslMode;
};

/** A config file as read, before validation. */
export interface ConfigFileLayer {
  /** The file as the operator named it: the `--config` argument, or the file name found in the working directory. */
  readonly path: string;
  /** Absolute folder of the file; relative paths in it (`dir`, `sslrootcert`, `metricsFile`) are resolved against it. */
  readonly baseDir: string;
  /** The parsed object, unvalidated. */
  readonly values: Readonly<Record<string, unknown>>;
}

/** The subset of `node:fs/promises` used to find and read config files. */
export interface ConfigFs {
  /** Like `fs.promises.stat`; rejects with `code: 'ENOENT'` when the path does not exist. */
  stat(path: string): Promise<{ isFile(): boolean }>;
  readFile(path: string): Promise<string>;
}

export interface LoadConfigFileOptions {
  /** The working directory, searched when `explicit` is not given. */
  readonly cwd: string;
  /** `--config <file>`: no search, and the file must exist. Relative to `cwd`. */
  readonly explicit?: string;
  /** Default: `node:fs/promises`. */
  readonly fs?: ConfigFs;
  /** Imports a `.ts`/`.js`/`.mjs` config; default: the code-migration loader. Injected for tests. */
  readonly importModule?: (absolutePath: string) => Promise<Record<string, unknown>>;
}

const nodeFs: ConfigFs = {
  stat: (file) => stat(file),
  readFile: (file) => readFile(file, 'utf8'),
};

type Format = 'json' | 'yaml' | 'module';

const FORMATS: Readonly<Record<string, Format>> = {
  '.json': 'json',
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.ts': 'module',
  '.mts': 'module',
  '.cts': 'module',
  '.js': 'module',
  '.mjs': 'module',
  '.cjs': 'module',
};

/**
 * Finds, reads and parses the config file. Returns `undefined` when there is none (and none was
 * asked for). Throws `ConfigError` (exit 2) when `--config` names a missing file, when two
 * candidates exist, or when the file cannot be read or parsed.
 */
export async function loadConfigFile(options: LoadConfigFileOptions): Promise<ConfigFileLayer | undefined> {
  const fs = options.fs ?? nodeFs;
  let shown: string;
  let absolute: string;
  if (options.explicit !== undefined) {
    if (options.explicit === '') throw configError('--config: the file name is empty');
    shown = options.explicit;
    absolute = path.resolve(options.cwd, options.explicit);
    const format = FORMATS[path.extname(absolute).toLowerCase()];
    if (format === undefined) {
      throw configError(`--config ${shown}: unsupported file type; use .json, .yaml, .yml, .ts, .js or .mjs`);
    }
    const kind = await fileKind(fs, absolute);
    if (kind === 'missing') throw configError(`--config ${shown}: the file does not exist (resolved to ${absolute})`);
    if (kind === 'other') throw configError(`--config ${shown}: not a file`);
  } else {
    const found: string[] = [];
    for (const name of CONFIG_FILE_NAMES) {
      const kind = await fileKind(fs, path.join(options.cwd, name));
      if (kind === 'file') found.push(name);
      else if (kind === 'other') throw configError(`${name} in ${options.cwd} is not a file; remove or rename it`);
    }
    if (found.length === 0) return undefined;
    if (found.length > 1) {
      const list = found.length === 2 ? `${found[0]} and ${found[1]} are both` : `${found.join(', ')} are all`;
      throw configError(
        `${list} in ${options.cwd}; berth reads one config file: delete the others, or choose one with --config <file>`,
      );
    }
    shown = found[0] as string;
    absolute = path.join(options.cwd, shown);
  }

  const format = FORMATS[path.extname(absolute).toLowerCase()] as Format;
  const values = format === 'module'
    ? await readModuleConfig(shown, absolute, options.importModule)
    : await parseConfigText(await readText(fs, shown, absolute), format, shown);
  return Object.freeze({ path: shown, baseDir: path.dirname(absolute), values: Object.freeze(values) });
}

/**
 * Parses the text of a `.json` or `.yaml`/`.yml` config file into its top-level object. Throws
 * `ConfigError` naming the file, and the line and column of a syntax error.
 */
export async function parseConfigText(text: string, format: 'json' | 'yaml', shown: string): Promise<Record<string, unknown>> {
  const source = text.replace(/^\uFEFF/, '');
  let parsed: unknown;
  if (format === 'json') {
    try {
      parsed = JSON.parse(source);
    } catch (err) {
      const message = (err as Error).message;
      // Node 20's JSON errors give an offset ("at position 42"); an editor wants line:column.
      const at = /at position (\d+)/.exec(message);
      const where = at && !/\(line \d+/.test(message) ? lineColumnAt(source, Number(at[1])) : undefined;
      throw configError(`${shown}${where ? `:${where.line}:${where.column}` : ''}: not valid JSON: ${message}`, err);
    }
  } else {
    const yaml = await import('yaml');
    // yaml is CommonJS: its exports are certain to be on `default` (Node and esbuild agree on
    // that), while esbuild's bundle has no named exports for it.
    const { parse } = (yaml.default as typeof yaml | undefined) ?? yaml;
    try {
      parsed = parse(source, { prettyErrors: true, uniqueKeys: true });
    } catch (err) {
      const e = err as Error & { linePos?: readonly { line: number; col: number }[] };
      const pos = e.linePos?.[0];
      const first = e.message.split('\n', 1)[0] ?? e.message;
      throw configError(`${shown}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML: ${first}`, err);
    }
    // An empty file, or one whose settings are all commented out.
    if (parsed === null || parsed === undefined) return {};
  }
  if (!isPlainObject(parsed)) {
    throw configError(`${shown}: the file must hold one ${format === 'json' ? 'object' : 'mapping'} of settings (such as { "lockTimeout": "5m" }), not ${describeType(parsed)}`);
  }
  return parsed;
}

export interface ConfigFileValues {
  /** Values in the form `resolveConfig` validates (strings and booleans), paths already resolved. */
  readonly values: Partial<Record<SettingKey, string | boolean>>;
  /** One line per problem, each naming the key and the file. */
  readonly problems: readonly string[];
}

const DURATION_KEYS: ReadonlySet<string> = new Set<DurationKey>(['wait', 'lockTimeout', 'statementTimeout', 'linger', 'leaseTtl']);
/** File paths: a relative one in a config file is relative to the file's folder. */
const PATH_KEYS: ReadonlySet<string> = new Set(['dir', 'sslrootcert', 'metricsFile']);
const KEYS: ReadonlySet<string> = new Set(SETTINGS.map((s) => s.key));
/** Switches: a flag without a value (--quiet, --allow-empty, --schema-per-target, --fail-fast) is true or false in a file. */
const BOOLEAN_KEYS: ReadonlySet<string> = new Set(SETTINGS.filter((s) => !s.flag.includes('<')).map((s) => s.key));
/** Counts, written as YAML/JSON numbers as often as strings. */
const COUNT_KEYS: ReadonlySet<string> = new Set<SettingKey>(['parallel', 'canary']);

/**
 * Checks a config file's keys and value types (pure). Values keep their meaning for the zod
 * schema in `resolveConfig`: numbers of seconds become strings, relative paths are made absolute
 * against the file's folder. Content problems (a bad duration, an unknown sslmode) are left to
 * that schema, which reports them with the same `<key> in <file>` source.
 */
export function configFileValues(layer: ConfigFileLayer): ConfigFileValues {
  const values: Partial<Record<SettingKey, string | boolean>> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(layer.values)) {
    if (!KEYS.has(key)) {
      problems.push(`${key} in ${layer.path}: unknown key; ${unknownKeyHint(key)}`);
      continue;
    }
    const setting = key as SettingKey;
    if (value === undefined || value === null) continue;
    const where = `${key} in ${layer.path}`;
    if (BOOLEAN_KEYS.has(setting)) {
      if (typeof value === 'boolean' || typeof value === 'string') values[setting] = value;
      else problems.push(`${where}: must be true or false, not ${describeType(value)}`);
    } else if (COUNT_KEYS.has(setting) && typeof value === 'number') {
      // A fraction or a negative number stays one, for the schema to refuse with the key's own rule.
      values[setting] = String(value);
    } else if (DURATION_KEYS.has(setting)) {
      if (typeof value === 'string') values[setting] = value;
      else if (typeof value === 'number' && Number.isFinite(value)) values[setting] = String(value);
      else problems.push(`${where}: must be a duration such as "30s", "500ms", "5m", or a number of seconds, not ${describeType(value)}`);
    } else if (typeof value !== 'string') {
      problems.push(`${where}: must be a string, not ${describeType(value)}`);
    } else if (PATH_KEYS.has(setting) && value !== '' && !path.isAbsolute(value)) {
      values[setting] = path.resolve(layer.baseDir, value);
    } else {
      values[setting] = value;
    }
  }
  return { values, problems };
}

/** Spelling variants and names from other tools, normalised (lower-case, no `_`/`-`), to the key meant. */
const ALIASES: Readonly<Record<string, SettingKey>> = {
  url: 'databaseUrl', databaseuri: 'databaseUrl', dburl: 'databaseUrl', connectionstring: 'databaseUrl',
  connectionurl: 'databaseUrl', database: 'databaseUrl', db: 'databaseUrl',
  migrations: 'dir', migrationsdir: 'dir', migrationsdirectory: 'dir', migrationsfolder: 'dir', migrationspath: 'dir',
  directory: 'dir', folder: 'dir', path: 'dir',
  migrationstable: 'table', tablename: 'table', historytable: 'table',
  migrationsschema: 'schema', schemaname: 'schema',
  waittimeout: 'wait', connecttimeout: 'wait',
  log: 'logFormat', format: 'logFormat', logformatter: 'logFormat',
  silent: 'quiet',
  ssl: 'sslmode', ca: 'sslrootcert', sslca: 'sslrootcert', sslrootcertificate: 'sslrootcert',
};

/** "did you mean lockTimeout?", or the list of keys when nothing is close. Exported for tests. */
export function unknownKeyHint(key: string): string {
  const suggestion = suggestKey(key);
  if (suggestion) {
    const unit = /ms$/i.test(key) && DURATION_KEYS.has(suggestion)
      ? ' (durations are strings such as "500ms" or numbers of seconds)'
      : '';
    return `did you mean ${suggestion}?${unit}`;
  }
  return `the keys are ${SETTINGS.map((s) => s.key).join(', ')}`;
}

export function suggestKey(key: string): SettingKey | undefined {
  const normal = normalise(key);
  const byNormal = new Map(SETTINGS.map((s) => [normalise(s.key), s.key] as const));
  // BERTH_LOCK_TIMEOUT and PGSSLMODE are the environment names of the same settings.
  for (const candidate of [normal, normal.replace(/^berth/, ''), normal.replace(/^pg/, ''), normal.replace(/ms$/, '')]) {
    const exact = byNormal.get(candidate) ?? ALIASES[candidate];
    if (exact) return exact;
  }
  let best: { key: SettingKey; distance: number } | undefined;
  for (const [candidate, settingKey] of byNormal) {
    const distance = editDistance(normal, candidate);
    if (distance <= 2 && distance < candidate.length / 2 && (!best || distance < best.distance)) best = { key: settingKey, distance };
  }
  return best?.key;
}

function normalise(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

async function fileKind(fs: ConfigFs, file: string): Promise<'file' | 'missing' | 'other'> {
  try {
    return (await fs.stat(file)).isFile() ? 'file' : 'other';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw configError(`cannot check for the config file ${file}: ${code ?? (err as Error).message}`, err);
  }
}

async function readText(fs: ConfigFs, shown: string, absolute: string): Promise<string> {
  try {
    return await fs.readFile(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM'
      ? 'permission denied; make it readable by the user berth runs as'
      : code ?? (err as Error).message;
    throw configError(`cannot read the config file ${shown}: ${why}`, err);
  }
}

async function readModuleConfig(
  shown: string,
  absolute: string,
  importModule: LoadConfigFileOptions['importModule'],
): Promise<Record<string, unknown>> {
  let mod: Record<string, unknown>;
  try {
    mod = importModule ? await importModule(absolute) : await (await import('../load-module.js')).loadModule(absolute);
  } catch (err) {
    // The loader's message already names the file and line; only the exit code changes (2, not 5).
    throw configError(err instanceof BerthError ? `config file: ${err.message}` : `cannot load the config file ${shown}: ${(err as Error).message}`, err);
  }
  let exported = mod.default;
  if (exported === undefined) {
    throw configError(`${shown}: export default the settings object, e.g. \`export default { dir: './migrations', lockTimeout: '5m' }\` (found ${Object.keys(mod).length ? `only named exports: ${Object.keys(mod).join(', ')}` : 'no exports'})`);
  }
  if (typeof exported === 'function') {
    try {
      exported = await (exported as () => unknown)();
    } catch (err) {
      throw configError(`${shown}: its default export function threw: ${(err as Error)?.message ?? String(err)}`, err);
    }
  }
  if (!isPlainObject(exported)) {
    throw configError(`${shown}: the default export must be an object of settings (or a function returning one), not ${describeType(exported)}`);
  }
  return { ...exported };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}

function configError(message: string, cause?: unknown): ConfigError {
  return new ConfigError('ERR_CONFIG_INVALID', message, cause === undefined ? {} : { cause });
}
