import type { SslMode } from '../config/database-url.js';
import type { HistoryRow } from '../drivers/driver.js';
import type { BaselineFrom } from './adopt.js';
import type { EventListener } from './events.js';
import type { ProgressSnapshot } from './progress.js';
import type { DownTarget } from './plan.js';

/*
 * The library's public surface (SPEC §7): what `createMigrator` takes and what its operations
 * return. One module per operation implements them (core/operations/); core/migrator.ts wires
 * them to one session of settings, events and connections (core/session.ts).
 */

export type LockMode = 'advisory' | 'lease' | 'auto';

/** Options of `createMigrator`. Durations are a string (`30s`, `500ms`, `5m`) or milliseconds. */
export interface MigratorOptions {
  /** A postgres:// or pglite:// URL, or a function returning one (called for every connection attempt). */
  readonly databaseUrl: string | (() => string | Promise<string>);
  /** Migrations directory. Default `./migrations`. */
  readonly dir?: string;
  /** History table. Default `berth_migrations`. */
  readonly table?: string;
  /** Schema of the history table. Default: the connection's current schema. */
  readonly schema?: string;
  /**
   * PostgreSQL: the session's `search_path`, one schema, in force for every migration (a schema
   * per tenant; `createFleet` with `schemaPerTarget` sets it with `schema`). Lower-case
   * identifier. Refused (exit 2) on a database without schemas (MySQL).
   */
  readonly searchPath?: string;
  /**
   * Accept a directory with no migrations. Default false: an empty directory is refused (exit 5),
   * since it is far more often a volume mounted at the wrong path than an intended empty set.
   */
  readonly allowEmpty?: boolean;
  /** How long to retry connecting. Default `0`: one attempt. */
  readonly wait?: string | number;
  /** How long to wait for another runner's lock. Default `15m`. */
  readonly lockTimeout?: string | number;
  /** Session-wide statement_timeout. Default `0`: none. */
  readonly statementTimeout?: string | number;
  /**
   * How runners exclude each other (docs/locking.md): `advisory` (default) a session advisory
   * lock; `lease` a heartbeated, fenced lease row, which works through a transaction pooler;
   * `auto` the advisory lock, or the lease where a transaction pooler is detected.
   */
  readonly lock?: LockMode;
  /** How long a lease lives without a heartbeat (renewed every sixth of it). Default `30s`. */
  readonly leaseTtl?: string | number;
  readonly sslmode?: SslMode;
  readonly sslrootcert?: string;
  /** True when sslmode/sslrootcert must win over the URL's own parameters (a CLI flag does). */
  readonly sslOverridesUrl?: boolean;
  /** Recorded in the history table and in application_name. Default: the machine's host name. */
  readonly host?: string;
  /**
   * The release that runs the migrations (an image tag or digest, a Job name), recorded on every
   * history row this migrator writes. Default: none (the CLI discovers one, see docs).
   */
  readonly release?: string;
  /** Receives every progress event (see events.ts). The library never writes to stdout. */
  readonly onEvent?: EventListener;
  /** Aborting it cancels the running statement on the server and rolls back. */
  readonly signal?: AbortSignal;
}

export interface UpOptions {
  /** Apply nothing above this version. */
  readonly to?: number;
  /** Print the plan; change nothing. */
  readonly dryRun?: boolean;
  /** Run all pending migrations in one transaction. */
  readonly singleTransaction?: boolean;
  readonly allowOutOfOrder?: boolean;
  /**
   * Called once the plan is final (under the lock, or for a dry run) with the migrations about to
   * run, before the first one starts. Throwing stops the run with nothing applied (the CLI's
   * `--lint error` uses it). Not called when there is nothing to apply.
   */
  readonly beforeApply?: (migrations: readonly PlannedMigration[], target: ApplyTarget) => void | Promise<void>;
  /** Back up the database under the lock, after the plan and `beforeApply`, before the first write. */
  readonly backup?: BackupOptions;
}

/**
 * The backup before migrating: one of `command` or `dir`. A failure stops the run with nothing
 * written (BackupFailedError, exit 8).
 */
export interface BackupOptions {
  /**
   * A shell command (`/bin/sh -c`), given BERTH_TARGET (the URL, password masked),
   * BERTH_FROM_VERSION, BERTH_TO_VERSION, BERTH_RUN_ID, and the credentials only through files:
   * BERTH_DATABASE_URL_FILE, and the client's own (PGPASSFILE with PGHOST, PGPORT, PGDATABASE,
   * PGUSER; BERTH_MYSQL_DEFAULTS_FILE). The last line it prints on stdout is recorded as the
   * backup's location.
   */
  readonly command?: string;
  /** The built-in: the database's dump client (pg_dump --format=custom, mysqldump) into this folder. */
  readonly dir?: string;
  /**
   * `pending` (default): when something is about to be applied; `always`: on every run, even with
   * nothing to apply; `no-transaction`: only when a migration about to run cannot be rolled back
   * (a `-- berth:no-transaction` file, or any migration where DDL is not transactional: MySQL).
   */
  readonly when?: 'always' | 'pending' | 'no-transaction';
  /**
   * The environment the backup inherits (the CLI passes its own; default none, but what berth
   * sets). Variables that carry the target's password (DATABASE_URL, PGPASSWORD, any whose value
   * contains it) are left out.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** What `beforeApply` knows of the database the migrations are about to run on. */
export interface ApplyTarget {
  /** Rows in the history table, whatever their status: 0 on a database nothing was applied to. */
  readonly recorded: number;
  /** The server's `server_version_num`, e.g. 160004. */
  readonly serverVersionNum: number;
  /** The target's SQL as messages name it: `PostgreSQL`, `MySQL`. */
  readonly dialect: string;
  /** `berth lint` understands that SQL (PostgreSQL's): the CLI lints the files only then. */
  readonly lintable: boolean;
}

/** A migration about to run, as `beforeApply` sees it. */
export interface PlannedMigration {
  readonly version: number;
  readonly name: string;
  /** File name relative to the migrations directory, and its absolute path. */
  readonly file: string;
  readonly path: string;
  /** The SQL text for SQL migrations (BOM stripped); undefined for code migrations. */
  readonly sql: string | undefined;
  readonly noTransaction: boolean;
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly durationMs: number;
}

export interface UpResult {
  readonly applied: readonly AppliedMigration[];
  /** What would run (dry run) or what was run. */
  readonly planned: readonly { version: number; name: string; file: string }[];
  readonly current: number | null;
  readonly pending: number;
  readonly lockWaitMs: number;
  readonly dryRun: boolean;
}

export interface StatusEntry {
  readonly version: number;
  readonly name: string;
  readonly file?: string;
  readonly status?: HistoryRow['status'];
  readonly appliedAt?: string;
  readonly durationMs?: number | null;
  readonly checksum?: string;
  readonly statementsApplied?: number | null;
  readonly statementsTotal?: number | null;
  /** The release that applied it (`--release`), null when none was recorded. */
  readonly release?: string | null;
}

export interface StatusReport {
  readonly current: number | null;
  readonly applied: readonly StatusEntry[];
  readonly pending: readonly StatusEntry[];
  readonly failed: readonly StatusEntry[];
  readonly drifted: readonly StatusEntry[];
  readonly missing: readonly StatusEntry[];
  /** Applied versions newer than every file (an older release after a newer one). */
  readonly ahead: readonly StatusEntry[];
  /** The newest backup recorded with a migration (`--backup-dir`, `--backup-command`), or null. */
  readonly lastBackup: { readonly location: string; readonly version: number; readonly appliedAt: string } | null;
}

export interface CheckResult {
  readonly current: number | null;
  readonly upToDate: boolean;
  readonly pending: number;
  /** Why the schema is not current, when it is not. */
  readonly reason?: string;
}

export interface DownResult {
  readonly reverted: readonly AppliedMigration[];
  readonly current: number | null;
}

/** One row changed by repair, resolve or baseline, for the operator to read. */
export interface HistoryChangeReport {
  readonly version: number;
  readonly name: string;
  readonly change: string;
}

export interface AwaitOptions {
  /** The version to wait for; default: the newest migration in `dir`. */
  readonly version?: number;
  /**
   * Also wait until this release has migrated: some history row carries it, and nothing of the
   * set is left to apply (the version above reached, nothing failed).
   */
  readonly release?: string;
  /** How long to wait in total (duration string or ms). */
  readonly timeout: string | number;
  /** Ends the wait early (rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** How often to poll, in ms. Default 250. */
  readonly pollMs?: number;
}

export interface AwaitResult {
  readonly current: number;
  readonly expected: number;
  readonly waitedMs: number;
}

export interface Migrator {
  status(): Promise<StatusReport>;
  up(options?: UpOptions): Promise<UpResult>;
  /** Reverts applied migrations newest first, each in a transaction with its history row. */
  down(target: DownTarget): Promise<DownResult>;
  /** Throws ValidationError (exit 5) listing drift, missing files, failed rows, out-of-order. */
  validate(options?: { allowOutOfOrder?: boolean }): Promise<StatusReport>;
  /** Rewrites stored checksums of drifted migrations to match their files. */
  repair(): Promise<HistoryChangeReport[]>;
  /** Settles a failed/started migration after the operator inspected the database. */
  resolve(version: number, outcome: 'applied' | 'rolled-back'): Promise<HistoryChangeReport>;
  /**
   * Records every migration up to `version` as applied without running it; or, with `{ from }`,
   * the migrations another tool's history records (golang-migrate: every file up to its version;
   * dbmate, node-pg-migrate: exactly the versions they recorded). The other table is only read.
   */
  baseline(target: number | BaselineFrom): Promise<HistoryChangeReport[]>;
  check(options?: { expect?: number }): Promise<CheckResult>;
  /**
   * Waits until the schema reaches `version` (default: the newest migration in `dir`), polling
   * the history table; never migrates and needs only read access. Tolerates a database that is
   * not up, or does not exist yet, until `timeout` (then UnreachableError, exit 3).
   */
  awaitSchema(options: AwaitOptions): Promise<AwaitResult>;
  /** Only waits until the database accepts connections (and is not a standby). */
  wait(): Promise<void>;
  /**
   * What the migrator is doing right now: the running migration and for how long, the lock wait,
   * applied and pending so far, the session's last round trip (no I/O; poll it as often as you like).
   */
  progress(): ProgressSnapshot;
  close(): Promise<void>;
}
