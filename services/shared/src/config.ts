/**
 * Configuration from the environment, validated once at start-up and frozen (STYLE §7).
 *
 * Every key `X` may instead be given as `X_FILE`, the path of a file holding the value (Docker and
 * Kubernetes secrets); one trailing newline is trimmed, and setting both is an error. An empty
 * variable counts as unset. All problems are reported at once, each naming its key and where the
 * value came from, and never echoing a value (it may be a secret).
 *
 * Each service's `config.ts` is the only place that reads `process.env`: it passes the
 * environment to `parseEnv` with its schema (`baseShape` plus its own keys).
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import { parseDuration } from 'berth';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigSource {
  readonly env: Env;
  /** Reads an `X_FILE` path; injected by tests. Default: `fs.readFileSync(path, 'utf8')`. */
  readonly readFile?: (path: string) => string;
}

export interface ConfigIssue {
  readonly key: string;
  /** `environment`, `file <path>` or `default`. */
  readonly source: string;
  readonly problem: string;
}

/** Start-up configuration is invalid; `message` lists every issue, one per line. */
export class ServiceConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.key} (${i.source}): ${i.problem}`).join('; ')}`);
    this.name = 'ServiceConfigError';
  }
}

// ---- value types --------------------------------------------------------------------------------

export const duration = z.pipe(
  z.string().check(z.refine((v) => parseDuration(v) !== undefined, 'must be a duration: 500ms, 30s, 5m, 1h or a number of seconds')),
  z.transform((v: string) => parseDuration(v) as number),
);

export const bool = z.pipe(
  z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' }),
  z.transform((v: 'true' | 'false' | '1' | '0' | 'yes' | 'no') => v === 'true' || v === '1' || v === 'yes'),
);

export function integer(min: number, max: number) {
  return z.pipe(
    z.string().check(z.regex(/^\d+$/, `must be an integer from ${min} to ${max}`)),
    z.pipe(
      z.transform((v: string) => Number(v)),
      z.number().check(z.gte(min, `must be an integer from ${min} to ${max}`), z.lte(max, `must be an integer from ${min} to ${max}`)),
    ),
  );
}

const nonEmpty = z.string().check(z.minLength(1, 'must not be empty'));

function urlWithProtocols(protocols: readonly string[], what: string) {
  return z.string().check(z.refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be ${what}`));
}

export const postgresUrl = urlWithProtocols(['postgres:', 'postgresql:'], 'a postgres:// URL');
export const httpUrl = urlWithProtocols(['http:', 'https:'], 'an http:// or https:// URL');

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// ---- the keys both services share ----------------------------------------------------------------

export const baseShape = {
  DATABASE_URL: postgresUrl,
  PORT: integer(0, 65_535),
  HOST: nonEmpty,
  MIGRATIONS_DIR: nonEmpty,
  MIGRATE_ON_START: bool,
  MIGRATION_DATABASE_URL: z.optional(postgresUrl),
  SHUTDOWN_TIMEOUT: duration,
  DB_POOL_MAX: integer(1, 1_000),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
  DEBUG_DELAY_ENDPOINT: bool,
};

/** Defaults of `baseShape` (a service adds `MIGRATIONS_DIR` and its own keys). */
export const BASE_DEFAULTS = Object.freeze({
  PORT: '8080',
  HOST: '0.0.0.0', // probes come from outside the pod
  MIGRATE_ON_START: 'false',
  SHUTDOWN_TIMEOUT: '10s', // in-flight requests may finish this long after SIGTERM
  DB_POOL_MAX: '10', // connections
  LOG_LEVEL: 'info',
  DEBUG_DELAY_ENDPOINT: 'false', // GET /debug/delay?ms=: for shutdown tests only
});

export interface ServiceConfig {
  /** The app role's URL. */
  readonly databaseUrl: string;
  readonly port: number;
  readonly host: string;
  /** What `/ready` compares the schema with, and what `MIGRATE_ON_START` applies. */
  readonly migrationsDir: string;
  readonly migrateOnStart: boolean;
  /** The owner's URL; `databaseUrl` unless `MIGRATION_DATABASE_URL` is set. */
  readonly migrationDatabaseUrl: string;
  readonly shutdownTimeoutMs: number;
  readonly dbPoolMax: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly debugDelayEndpoint: boolean;
}

type BaseValues = z.output<z.ZodMiniObject<typeof baseShape>>;

/** The shared part of a service's config, from values parsed with a schema that spreads `baseShape`. */
export function serviceConfig(values: BaseValues): ServiceConfig {
  return {
    databaseUrl: values.DATABASE_URL,
    port: values.PORT,
    host: values.HOST,
    migrationsDir: values.MIGRATIONS_DIR,
    migrateOnStart: values.MIGRATE_ON_START,
    migrationDatabaseUrl: values.MIGRATION_DATABASE_URL ?? values.DATABASE_URL,
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT,
    dbPoolMax: values.DB_POOL_MAX,
    logLevel: values.LOG_LEVEL,
    debugDelayEndpoint: values.DEBUG_DELAY_ENDPOINT,
  };
}

// ---- reading -------------------------------------------------------------------------------------

/**
 * Reads the schema's keys from `source.env` (or their `_FILE`), fills in `defaults`, validates.
 * Throws one `ServiceConfigError` listing every problem.
 */
export function parseEnv<S extends z.ZodMiniObject>(schema: S, defaults: Readonly<Record<string, string>>, source: ConfigSource): z.output<S> {
  const readFile = source.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const raw: Record<string, string> = {};
  const origin: Record<string, string> = {};
  const issues: ConfigIssue[] = [];

  for (const key of Object.keys(schema.def.shape)) {
    const direct = nonEmptyOrUndefined(source.env[key]);
    const filePath = nonEmptyOrUndefined(source.env[`${key}_FILE`]);
    if (direct !== undefined && filePath !== undefined) {
      issues.push({ key, source: 'environment', problem: `set ${key} or ${key}_FILE, not both` });
    } else if (filePath !== undefined) {
      try {
        raw[key] = readFile(filePath).replace(/\r?\n$/, '');
        origin[key] = `file ${filePath}`;
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        issues.push({ key, source: `${key}_FILE`, problem: `cannot read ${filePath} (${reason})` });
      }
    } else if (direct !== undefined) {
      raw[key] = direct;
      origin[key] = 'environment';
    } else if (defaults[key] !== undefined) {
      raw[key] = defaults[key];
      origin[key] = 'default';
    }
  }

  const result = schema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '(config)');
      if (issues.some((i) => i.key === key)) continue; // already reported (e.g. unreadable file)
      issues.push(key in raw
        ? { key, source: origin[key] ?? 'environment', problem: issue.message }
        : { key, source: 'environment', problem: `required: set ${key} or ${key}_FILE` });
    }
  }
  if (issues.length > 0) throw new ServiceConfigError(issues);
  return Object.freeze(result.data) as z.output<S>;
}

function nonEmptyOrUndefined(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
