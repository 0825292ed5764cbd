// zod/mini: the same validation with a tree-shakable API; full zod would add ~800 kB to a bundle
// that every container start parses.
import * as z from 'zod/mini';
import { ConfigError } from '../errors.js';
import { configFileValues, type ConfigFileLayer } from './config-file.js';
import { SSL_MODES, type SslMode } from './database-url.js';
import { parseListenAddress, type ListenAddress } from './listen-address.js';
import { parseDuration } from '../duration.js';
import { DEFAULTS as BERTH_DEFAULTS } from '../defaults.js';
import { SETTINGS, type SettingKey } from './settings.js';

/** Where a value came from, for error messages ("BERTH_WAIT (environment)", "wait in berth.config.yaml"). */
export type ValueSource =
  | { kind: 'default' }
  | { kind: 'flag'; name: string }
  | { kind: 'env'; name: string }
  | { kind: 'env-file'; name: string; path: string }
  /** `path` as the operator named the file; `name` is how messages say it: `lockTimeout in berth.config.yaml`. */
  | { kind: 'file'; name: string; path: string; key: SettingKey };

export interface ResolvedConfig {
  /** Returns the URL; re-reads its `_FILE` every call so a rotated secret is picked up. */
  readonly databaseUrl: (() => string) | undefined;
  readonly dir: string;
  readonly allowEmpty: boolean;
  readonly table: string;
  readonly schema: string | undefined;
  readonly waitMs: number;
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly lock: 'advisory' | 'lease' | 'auto';
  readonly leaseTtlMs: number;
  readonly logFormat: 'pretty' | 'json' | undefined;
  readonly quiet: boolean;
  readonly sslmode: SslMode | undefined;
  readonly sslrootcert: string | undefined;
  readonly metricsFile: string | undefined;
  readonly metricsPush: string | undefined;
  /** `--http`: where to serve /metrics, /healthz and /readyz. */
  readonly http: ListenAddress | undefined;
  readonly lingerMs: number;
  /** `--release` / BERTH_RELEASE as given; undefined when not set (the CLI may discover one for writes). */
  readonly release: string | undefined;
  /** Fleets (docs/fleets.md): undefined / false / 0 when not asked for. */
  readonly targets: string | undefined;
  readonly targetsQuery: string | undefined;
  /** Re-reads its `_FILE` every call, like `databaseUrl`. */
  readonly targetsDatabaseUrl: (() => string) | undefined;
  readonly schemaPerTarget: boolean;
  readonly parallel: number | undefined;
  readonly failFast: boolean;
  readonly canary: number;
  /** `--shard`, else from an Indexed Job: JOB_COMPLETION_INDEX and BERTH_SHARDS (count undefined when BERTH_SHARDS is missing). */
  readonly shard: { readonly index: number; readonly count: number | undefined; readonly from: string } | undefined;
  readonly report: string | undefined;
  /** True when sslmode/sslrootcert came from a flag and so beat the URL's own parameters. */
  readonly sslFromFlag: boolean;
  readonly sources: Readonly<Partial<Record<SettingKey, ValueSource>>>;
  /** The config file that was read (as the operator named it), if any. */
  readonly configFile?: string;
}

export interface ResolveInput {
  /** Flag values as parsed from the command line, keyed by setting key. */
  readonly flags: Partial<Record<SettingKey, string | boolean>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a `_FILE` secret; injected so resolution stays testable. */
  readonly readFile: (path: string) => string;
  /** The config file's raw values (read by `loadConfigFile`), between the defaults and the environment. */
  readonly file?: ConfigFileLayer;
}

const duration = z.pipe(
  z.string().check(z.refine((value) => parseDuration(value) !== undefined, {
    error: (issue) => `"${String(issue.input)}" is not a duration (use 500ms, 30s, 5m, 1h or a number of seconds)`,
  })),
  z.transform((value: string) => parseDuration(value) as number),
);
// PostgreSQL keeps statement_timeout, and Node its timers, in a signed 32-bit count of ms.
const MAX_TIMEOUT_MS = 2_147_483_647;
const timeout = z.pipe(duration, z.number().check(z.maximum(MAX_TIMEOUT_MS, `must be at most ${MAX_TIMEOUT_MS} ms (about 24 days); use 0 for none`)));
const identifier = z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be an identifier: letters, digits and _, at most 63, not starting with a digit'));
const bool = z.pipe(
  z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', ''])], { error: 'must be true or false' }),
  z.transform((v: boolean | '' | '0' | '1' | 'true' | 'false' | 'yes' | 'no'): boolean => v === true || v === 'true' || v === '1' || v === 'yes'),
);

const schema = z.object({
  databaseUrl: z.optional(z.string()),
  dir: z.string().check(z.minLength(1, 'must not be empty')),
  allowEmpty: bool,
  table: identifier,
  schema: z.optional(identifier),
  wait: duration,
  lockTimeout: timeout,
  statementTimeout: timeout,
  lock: z.enum(['advisory', 'lease', 'auto'], { error: 'must be advisory, lease or auto' }),
  leaseTtl: z.pipe(timeout, z.number().check(z.minimum(1_000, 'must be at least 1s'))),
  logFormat: z.optional(z.enum(['pretty', 'json'], { error: 'must be pretty or json' })),
  quiet: bool,
  sslmode: z.optional(z.enum(SSL_MODES as [SslMode, ...SslMode[]], { error: `must be one of ${SSL_MODES.join(', ')}` })),
  sslrootcert: z.optional(z.string()),
  metricsFile: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  metricsPush: z.optional(z.string().check(z.regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL of a Pushgateway'))),
  http: z.optional(z.pipe(
    z.string().check(z.refine((value) => parseListenAddress(value) !== undefined, {
      error: (issue) => `"${String(issue.input)}" is not a listen address (use :9464, 0.0.0.0:9464, 127.0.0.1:9464 or [::]:9464; port 0 picks a free one)`,
    })),
    z.transform((value: string) => parseListenAddress(value) as ListenAddress),
  )),
  linger: timeout,
  release: z.optional(z.string().check(z.maxLength(255, 'must be at most 255 characters'))),
  targets: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  targetsQuery: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  targetsDatabaseUrl: z.optional(z.string()),
  schemaPerTarget: bool,
  parallel: z.optional(z.pipe(z.string().check(z.regex(/^[1-9]\d{0,4}$/, 'must be a whole number from 1 to 99999')), z.transform(Number))),
  failFast: bool,
  canary: z.pipe(z.string().check(z.regex(/^\d{1,5}$/, 'must be a whole number (0: no canary)')), z.transform(Number)),
  shard: z.optional(z.string().check(z.refine((v) => {
    const m = /^(\d+)\/(\d+)$/.exec(v);
    return m !== null && Number(m[2]) >= 1 && Number(m[1]) < Number(m[2]);
  }, 'must be i/n with 0 <= i < n (e.g. 0/4 ... 3/4)'))),
  report: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
});

/** Built-in defaults, the lowest layer (src/defaults.ts). */
export const DEFAULTS: Readonly<Partial<Record<SettingKey, string | boolean>>> = BERTH_DEFAULTS;

/**
 * Merges defaults < config file < environment (with `_FILE` twins) < flags, keeping each value's
 * source, validates everything at once and reports every problem with its key and source (exit 2).
 * Pure: the config file arrives already read, as `input.file`.
 */
export function resolveConfig(input: ResolveInput): ResolvedConfig {
  const problems: string[] = [];
  const values: Partial<Record<SettingKey, string | boolean>> = { ...DEFAULTS };
  const sources: Partial<Record<SettingKey, ValueSource>> = {};
  // The secret settings' _FILE, re-read on each use so a rotated secret is picked up.
  const secretFiles: Partial<Record<SettingKey, { path: string; variable: string }>> = {};
  const file = input.file ? configFileValues(input.file) : undefined;
  if (file) problems.push(...file.problems);

  for (const spec of SETTINGS) {
    if (values[spec.key] !== undefined) sources[spec.key] = { kind: 'default' };
    const fromFile = file?.values[spec.key];
    if (fromFile !== undefined && input.file) {
      values[spec.key] = fromFile;
      sources[spec.key] = { kind: 'file', name: `${spec.key} in ${input.file.path}`, path: input.file.path, key: spec.key };
    }
    for (const name of [...spec.env].reverse()) {
      const direct = input.env[name];
      const file = input.env[`${name}_FILE`];
      if (direct !== undefined && direct !== '' && file !== undefined && file !== '') {
        problems.push(`${name} and ${name}_FILE are both set: keep one`);
        continue;
      }
      if (file !== undefined && file !== '') {
        try {
          values[spec.key] = input.readFile(file).replace(/\r?\n$/, '');
          sources[spec.key] = { kind: 'env-file', name: `${name}_FILE`, path: file };
          if (spec.secret) secretFiles[spec.key] = { path: file, variable: `${name}_FILE` };
        } catch (err) {
          problems.push(`${name}_FILE (environment): cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      } else if (direct !== undefined && direct !== '') {
        values[spec.key] = direct;
        sources[spec.key] = { kind: 'env', name };
        delete secretFiles[spec.key];
      }
    }
    const flag = input.flags[spec.key];
    if (flag !== undefined) {
      values[spec.key] = flag;
      sources[spec.key] = { kind: 'flag', name: spec.flag.replace(/^-\w, /, '').split(' ')[0] ?? spec.flag };
      delete secretFiles[spec.key];
    }
  }

  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path[0] as SettingKey;
      const spec = SETTINGS.find((s) => s.key === key);
      problems.push(`${describeSource(key, sources[key], spec?.flag)}: ${issue.message}`);
    }
  }
  if (problems.length) {
    throw new ConfigError('ERR_CONFIG_INVALID', `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { details: { problems } });
  }
  const v = parsed.data!;
  const secret = (key: SettingKey, value: string | undefined): (() => string) | undefined => {
    if (value === undefined || value === '') return undefined;
    const file = secretFiles[key];
    return file ? () => rereadSecret(input, file.path, file.variable) : () => value;
  };
  return Object.freeze({
    databaseUrl: secret('databaseUrl', v.databaseUrl),
    dir: v.dir,
    allowEmpty: v.allowEmpty,
    table: v.table,
    schema: v.schema,
    waitMs: v.wait,
    lockTimeoutMs: v.lockTimeout,
    statementTimeoutMs: v.statementTimeout,
    lock: v.lock,
    leaseTtlMs: v.leaseTtl,
    logFormat: v.logFormat,
    quiet: v.quiet,
    sslmode: v.sslmode,
    sslrootcert: v.sslrootcert,
    metricsFile: v.metricsFile,
    metricsPush: v.metricsPush,
    http: v.http,
    lingerMs: v.linger,
    release: v.release === '' ? undefined : v.release,
    targets: v.targets,
    targetsQuery: v.targetsQuery,
    targetsDatabaseUrl: secret('targetsDatabaseUrl', v.targetsDatabaseUrl),
    schemaPerTarget: v.schemaPerTarget,
    parallel: v.parallel,
    failFast: v.failFast,
    canary: v.canary,
    shard: v.shard !== undefined
      ? { index: Number(v.shard.split('/')[0]), count: Number(v.shard.split('/')[1]), from: describeSource('shard', sources.shard) }
      : jobShard(input.env),
    report: v.report,
    sslFromFlag: sources.sslmode?.kind === 'flag' || sources.sslrootcert?.kind === 'flag',
    sources: Object.freeze(sources),
    ...(input.file ? { configFile: input.file.path } : {}),
  });
}

export function describeSource(key: string, source: ValueSource | undefined, flag?: string): string {
  switch (source?.kind) {
    case 'flag': return `${source.name} (flag)`;
    case 'env': return `${source.name} (environment)`;
    case 'env-file': return `${source.name}=${source.path} (secret file)`;
    case 'file': return source.name;
    case 'default': return `${key} (built-in default)`;
    default: return flag ? `${flag.split(' ')[0]}` : key;
  }
}

/** The secret file is read again on each connection attempt; if it vanished, say which one. */
function rereadSecret(input: ResolveInput, path: string, variable: string): string {
  try {
    return input.readFile(path).replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError('ERR_CONFIG_INVALID', `${variable} (environment): cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * In a Kubernetes Indexed Job each pod has JOB_COMPLETION_INDEX; the count is not in the pod's
 * environment unless the manifest puts `.spec.completions` there as BERTH_SHARDS
 * (deploy/k8s/fleet/tenants-migrate.yaml). Used only by a fleet run, which refuses a missing count.
 */
function jobShard(env: Readonly<Record<string, string | undefined>>): ResolvedConfig['shard'] {
  const index = env.JOB_COMPLETION_INDEX;
  if (index === undefined || !/^\d+$/.test(index)) return undefined;
  const count = env.BERTH_SHARDS !== undefined && /^[1-9]\d*$/.test(env.BERTH_SHARDS) ? Number(env.BERTH_SHARDS) : undefined;
  return { index: Number(index), count, from: 'JOB_COMPLETION_INDEX and BERTH_SHARDS (environment)' };
}

/** Whether the configuration asks for a fleet run (docs/fleets.md). */
export function isFleetRun(config: Pick<ResolvedConfig, 'targets' | 'targetsQuery' | 'schemaPerTarget'>): boolean {
  return config.targets !== undefined || config.targetsQuery !== undefined || config.schemaPerTarget;
}
