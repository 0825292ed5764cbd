import { DEFAULTS } from '../defaults.js';

/**
 * Every setting the CLI reads, with its flag, environment variables and default, in one table.
 * Help text, the README's configuration table and the resolver all come from here. A config
 * file (SPEC §6) uses the `key` of each row as its key name.
 */
export interface SettingSpec {
  readonly key: SettingKey;
  readonly flag: string;
  /** Environment variables, most specific first; each also has an `_FILE` twin. */
  readonly env: readonly string[];
  /** Shown in help; undefined when there is no default. */
  readonly defaultText?: string;
  readonly description: string;
  /** Never printed, and re-read from its `_FILE` on each connection attempt. */
  readonly secret?: boolean;
  /** A fleet setting (docs/fleets.md): listed only by the commands that run over a fleet. */
  readonly fleet?: boolean;
}

export type SettingKey =
  | 'databaseUrl' | 'dir' | 'allowEmpty' | 'table' | 'schema' | 'wait' | 'lockTimeout' | 'statementTimeout'
  | 'logFormat' | 'quiet' | 'sslmode' | 'sslrootcert' | 'metricsFile' | 'metricsPush' | 'http' | 'linger' | 'lock' | 'leaseTtl' | 'release'
  | 'targets' | 'targetsQuery' | 'targetsDatabaseUrl' | 'schemaPerTarget' | 'parallel' | 'failFast' | 'canary' | 'shard' | 'report';

export const SETTINGS: readonly SettingSpec[] = [
  { key: 'databaseUrl', flag: '-d, --database-url <url>', env: ['BERTH_DATABASE_URL', 'DATABASE_URL'], secret: true,
    description: 'postgres://user:password@host:port/db, pglite://memory or pglite://<dir>' },
  { key: 'dir', flag: '--dir <path>', env: ['BERTH_DIR'], defaultText: DEFAULTS.dir, description: 'migrations directory' },
  { key: 'allowEmpty', flag: '--allow-empty', env: ['BERTH_ALLOW_EMPTY'], defaultText: 'false', description: 'accept a migrations directory with no migrations (otherwise exit 5: a volume mounted at the wrong path looks like success)' },
  { key: 'table', flag: '--table <name>', env: ['BERTH_TABLE'], defaultText: DEFAULTS.table, description: 'history table' },
  { key: 'schema', flag: '--schema <name>', env: ['BERTH_SCHEMA'], defaultText: "the connection's current schema", description: 'schema of the history table' },
  { key: 'wait', flag: '--wait <duration>', env: ['BERTH_WAIT'], defaultText: '0 (one attempt)', description: 'keep retrying the connection this long' },
  { key: 'lockTimeout', flag: '--lock-timeout <duration>', env: ['BERTH_LOCK_TIMEOUT'], defaultText: DEFAULTS.lockTimeout, description: "how long to wait for another runner's lock" },
  { key: 'statementTimeout', flag: '--statement-timeout <duration>', env: ['BERTH_STATEMENT_TIMEOUT'], defaultText: '0 (none)', description: 'statement_timeout for every migration statement' },
  { key: 'logFormat', flag: '--log-format <format>', env: ['BERTH_LOG_FORMAT'], defaultText: 'pretty on a TTY, json otherwise', description: 'pretty or json' },
  { key: 'quiet', flag: '-q, --quiet', env: ['BERTH_QUIET'], defaultText: 'false', description: 'only warnings, errors and the summary' },
  { key: 'sslmode', flag: '--sslmode <mode>', env: ['PGSSLMODE'], defaultText: 'disable', description: 'disable, require, verify-ca or verify-full (never falls back to plaintext)' },
  { key: 'sslrootcert', flag: '--sslrootcert <file>', env: ['PGSSLROOTCERT'], description: 'CA certificate for verify-ca / verify-full' },
  { key: 'metricsFile', flag: '--metrics-file <path>', env: ['BERTH_METRICS_FILE'], description: "write the run's Prometheus metrics to this file (atomically; for node_exporter's textfile collector)" },
  { key: 'metricsPush', flag: '--metrics-push <url>', env: ['BERTH_METRICS_PUSH'], description: "push the run's metrics to this Pushgateway (a failed push only warns)" },
  { key: 'http', flag: '--http <addr>', env: ['BERTH_HTTP'], description: 'serve live /metrics, /healthz (alive, database session responsive) and /readyz (schema current) on this address while berth runs: :9464, 0.0.0.0:9464, 127.0.0.1:0 (any free port); a port in use exits 2 (ERR_HTTP_LISTEN)' },
  { key: 'linger', flag: '--linger <duration>', env: ['BERTH_LINGER'], defaultText: DEFAULTS.linger, description: 'with --http, keep serving this long after the command finished, so a scrape sees the final state (SIGTERM ends it at once, with the exit code)' },
  { key: 'lock', flag: '--lock <mode>', env: ['BERTH_LOCK'], defaultText: DEFAULTS.lock,
    description: 'how runners exclude each other: advisory (a session advisory lock; a transaction pooler is refused, exit 6), lease (a heartbeated, fenced lease row in <table>_lock, which works through PgBouncer pool_mode=transaction; PostgreSQL, MySQL, MariaDB) or auto (advisory, or the lease where a transaction pooler is detected); see docs/locking.md' },
  { key: 'leaseTtl', flag: '--lease-ttl <duration>', env: ['BERTH_LEASE_TTL'], defaultText: DEFAULTS.leaseTtl,
    description: 'with the lease: how long it lives without a heartbeat (renewed every sixth of it); a frozen or killed holder is taken over this long after its last heartbeat' },
  { key: 'release', flag: '--release <id>', env: ['BERTH_RELEASE'], defaultText: "discovered from the pod's name (HOSTNAME: <job>-<suffix>, <replicaset>-<suffix>), else none",
    description: 'the release recorded on each history row written (an image tag or digest, a Job name); berth await --release <id> waits until a row carries it and its version is reached (await never discovers one)' },
  // Fleets (docs/fleets.md): one command over many databases or schemas.
  { key: 'targets', flag: '--targets <file|->', env: ['BERTH_TARGETS'], fleet: true,
    description: 'run over a fleet: a YAML/JSON list of targets (names and URLs, or names and a {name} template; no passwords), - for stdin' },
  { key: 'targetsQuery', flag: '--targets-query <sql>', env: ['BERTH_TARGETS_QUERY'], fleet: true,
    description: 'run over the targets a SELECT returns (a name column, optionally url), on --targets-database' },
  { key: 'targetsDatabaseUrl', flag: '--targets-database <url>', env: ['BERTH_TARGETS_DATABASE_URL'], secret: true, fleet: true, defaultText: 'the -d URL',
    description: 'the control database --targets-query runs on' },
  { key: 'schemaPerTarget', flag: '--schema-per-target', env: ['BERTH_SCHEMA_PER_TARGET'], defaultText: 'false', fleet: true,
    description: 'each target name is a schema of the -d database (PostgreSQL), with its own history table and search_path' },
  { key: 'parallel', flag: '--parallel <n>', env: ['BERTH_PARALLEL'], fleet: true, defaultText: "4 per CPU, at most 64 and half the server's free connections",
    description: 'targets migrated at once, each with its own session and lock' },
  { key: 'failFast', flag: '--fail-fast', env: ['BERTH_FAIL_FAST'], defaultText: 'false: run every target, then report', fleet: true,
    description: 'start no target after the first one fails' },
  { key: 'canary', flag: '--canary <k>', env: ['BERTH_CANARY'], defaultText: '0', fleet: true,
    description: 'run the first k targets first, and touch no other if one of them fails' },
  { key: 'shard', flag: '--shard <i/n>', env: ['BERTH_SHARD'], fleet: true, defaultText: 'JOB_COMPLETION_INDEX/BERTH_SHARDS in an Indexed Job, else all',
    description: "only this pod's stable share of the targets (0 <= i < n)" },
  { key: 'report', flag: '--report <file>', env: ['BERTH_REPORT'], fleet: true,
    description: "also write the fleet's JSON report (every target's result) to this file" },
];

/**
 * `--config <file>`: not a setting, it chooses the config-file layer (defaults < file <
 * environment < flags). Without it, the first of `CONFIG_FILE_NAMES` found in the working
 * directory is read.
 */
export const CONFIG_OPTION = {
  flag: '--config <file>',
  description: 'config file (.json, .yaml, .yml, .ts, .js, .mjs); its keys are the flags below in camelCase (lockTimeout: 5m)',
  defaultText: 'berth.config.* in the working directory',
} as const;
