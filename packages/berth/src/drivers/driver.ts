/**
 * The driver contract. Drivers are small and dumb: they run the SQL of one dialect on one session
 * and report what the server said. Ordering, drift, locking policy (polling, deadlines) and
 * failure handling live in core (SPEC §9, STYLE §2).
 *
 * How to implement a driver:
 * 1. State `capabilities` honestly; the runner branches on them, never on the database's name.
 * 2. `connect` makes exactly one attempt and throws a classified `BerthError`
 *    (`TargetRejectedError` for auth/TLS/no database/standby; `UnreachableError` for anything a
 *    retry may fix). The caller retries; a driver never loops.
 * 3. Every method after `connect` runs on the same session, one call at a time; the caller never
 *    overlaps two calls, except `cancel`, which may be called while another call is running and
 *    must cancel it on the server (from a second connection where the database needs one).
 * 4. Errors from the server are wrapped in `DriverQueryError` with SQLSTATE and position kept and
 *    an `ErrorFamily`; a lost connection is `ConnectionLostError`. Never retry a COMMIT.
 * 5. Drivers never read `process.env`; everything arrives through their options.
 *
 * Caller guarantees: `connect` is called once per instance and before anything else; `close` is
 * always called, also after failures; history methods get an already validated `HistoryTable`.
 */

export interface DriverCapabilities {
  /** DDL is transactional: a failed migration can be rolled back whole. */
  readonly transactionalDdl: boolean;
  /** A lock that excludes other sessions exists. False where there is only one session. */
  readonly advisoryLocks: boolean;
  /** More than one session can reach the same database (for cancel and lock-holder lookup). */
  readonly multipleConnections: boolean;
  /**
   * The database runs inside this process (PGlite): no network, so no connect deadline and no
   * server-side session limits; it is kept open between operations (see `SessionKeeper`).
   */
  readonly inProcess: boolean;
  /**
   * A database holds schemas that a session's `search_path` chooses between (PostgreSQL), so one
   * database can hold a schema per tenant (`DriverOptions.searchPath`). On MySQL a schema is a
   * database: a tenant there is a URL of its own.
   */
  readonly searchPath: boolean;
}

/**
 * Keeps sessions open across the operations of one migrator, for a database that would vanish
 * with its last session (`pglite://memory`); the migrator ends them in its `close()`.
 */
export interface SessionKeeper {
  keep<T extends { end(): Promise<void> }>(key: string, open: () => Promise<T>): Promise<T>;
}

/** The history in one cheap query: what a no-op `migrate`, `check` and `await` need. */
export interface HistorySummary {
  /** Highest version with status `applied`, or null. */
  readonly current: number | null;
  /** Some row is `started` or `failed`. */
  readonly unsettled: boolean;
  /**
   * The history holds exactly the `expected` versions, every one applied with that checksum
   * (false when nothing was expected).
   */
  readonly matches: boolean;
}

/** One change to the history table. */
export type HistoryWrite =
  | { readonly insert: NewHistoryRow }
  | { readonly update: number; readonly set: HistoryChange }
  | { readonly delete: number };

export interface ServerInfo {
  readonly pid: number;
  readonly user: string;
  readonly database: string;
  readonly serverVersion: string;
  readonly serverVersionNum: number;
  /** A hot standby or a read-only session: migrations cannot run here. */
  readonly readOnly: boolean;
  /** The schema unqualified names resolve to, or null when the search_path is empty. */
  readonly currentSchema: string | null;
  /**
   * A pooler sits between berth and the server. Whether it keeps berth's server session between
   * transactions is checked by `claimSession`; until then nothing is SET on the session.
   */
  readonly pooled: boolean;
  /**
   * Session settings berth asked for that are not in force, and why (empty when all are). Behind a
   * pooler they are known only once `claimSession` has run, which returns them.
   */
  readonly unsetSettings: readonly UnsetSetting[];
}

export interface UnsetSetting {
  readonly name: string;
  /** The value berth wanted, in the setting's base unit (ms, s), as `pg_settings.setting` shows it. */
  readonly wanted: string;
  /** The value in force instead. */
  readonly actual: string | null;
  readonly reason: string;
}

/** A validated, quotable location of the history table. */
export interface HistoryTable {
  readonly schema: string;
  readonly table: string;
}

export type HistoryStatus = 'applied' | 'started' | 'failed';

export interface HistoryRow {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  readonly status: HistoryStatus;
  readonly statementsApplied: number | null;
  readonly statementsTotal: number | null;
  readonly appliedAt: Date;
  readonly durationMs: number | null;
  readonly appliedBy: string | null;
  readonly host: string | null;
  readonly berthVersion: string | null;
  /** The release that applied it (`--release`); null on rows written before the column existed. */
  readonly release: string | null;
  /** Where the backup taken before the run that applied it was written (`--backup-dir`, `--backup-command`). */
  readonly backup: string | null;
}

export interface NewHistoryRow {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  readonly status: HistoryStatus;
  readonly statementsApplied: number;
  readonly statementsTotal: number;
  readonly durationMs: number;
  readonly host: string | null;
  readonly berthVersion: string;
  readonly release?: string | null;
  readonly backup?: string | null;
}

export interface HistoryChange {
  readonly status?: HistoryStatus;
  readonly statementsApplied?: number;
  readonly durationMs?: number;
  readonly checksum?: string;
}

/** A table as `inspectTables` found it. */
export interface InspectedTable {
  readonly schema: string;
  readonly table: string;
  /** In column order, each type as the server spells it: `bigint`, `character varying(255)`. */
  readonly columns: readonly { readonly name: string; readonly type: string }[];
  /** With `rows: true`: every row, column name to value as text (NULL stays null). */
  readonly rows?: readonly Readonly<Record<string, string | null>>[];
}

export interface LockHolder {
  readonly pid: number;
  readonly user: string | null;
  readonly applicationName: string | null;
  readonly clientAddr: string | null;
  /** How long the holder's session has existed: an upper bound of how long it held the lock. */
  readonly heldForMs: number | null;
}

/**
 * What a migration's writes are checked against, in the same statement or transaction: the
 * session's advisory lock (`key`), or the lease row (`lease`, `--lock lease`): only while the row in
 * `table` still carries `token` and has not expired by the server's clock. Null: nothing to check
 * (a database with a single session).
 */
export type LockGuard =
  | { readonly key: bigint }
  | { readonly lease: HistoryTable; readonly token: bigint };

/** Who takes a lease, as the lease row records it (SPEC §11). */
export interface LeaseClaim {
  /** HOSTNAME: the pod's name in Kubernetes. */
  readonly pod: string | null;
  /** The machine's host name. */
  readonly host: string;
  readonly pid: number;
  readonly berthVersion: string;
}

/** The lease row as a waiter sees it; times measured by the server's clock. */
export interface LeaseHolder {
  /** The fencing token: incremented by every take and takeover. */
  readonly token: string;
  readonly pod: string | null;
  readonly host: string | null;
  readonly pid: number | null;
  readonly berthVersion: string | null;
  /** When this holder took the lease (ISO 8601), null when it never was. */
  readonly since: string | null;
  /** How long ago its last heartbeat was, in ms; null when there never was one. */
  readonly heartbeatAgeMs: number | null;
  /** Released by its holder when it finished (a takeover of it is no takeover). */
  readonly released: boolean;
  /** Expired by the server's clock: free to be taken. */
  readonly expired: boolean;
}

export type LeaseTake =
  /** Taken with this token; `previous` is the row as it was, when someone held it before. */
  | { readonly token: bigint; readonly previous: LeaseHolder | null }
  /** Held by someone else, whose lease has not expired. */
  | { readonly token: null; readonly holder: LeaseHolder };

export interface MigrationSessionOptions {
  /** `lock_timeout` for what follows, in ms; undefined leaves the session default. */
  readonly lockTimeoutMs?: number;
  /** `statement_timeout` for what follows, in ms; undefined leaves the session default. */
  readonly statementTimeoutMs?: number;
  /** Open a transaction (false for `-- berth:no-transaction` files). */
  readonly transaction: boolean;
}

/**
 * A transactional migration as one message: reset, BEGIN, the checks of §4.1, the statements,
 * the history change, COMMIT. One round trip instead of one per statement.
 */
export interface TransactionalScript {
  readonly table: HistoryTable;
  readonly session: Omit<MigrationSessionOptions, 'transaction'>;
  /**
   * The backend the lock was taken on: any other one means a pooler sits in between. Null under a
   * lease behind a transaction pooler, where each transaction may get another backend.
   */
  readonly expectedPid: number | null;
  readonly lockKey: LockGuard | null;
  /** The lock was seen held and nothing ran since: it is then checked only before COMMIT. */
  readonly lockVerified: boolean;
  readonly statements: readonly string[];
  /** Written in the same transaction, just before COMMIT; an insert's duration is measured there. */
  readonly history:
    | { readonly insert: Omit<NewHistoryRow, 'durationMs'> }
    | { readonly deleteVersion: number };
}

/**
 * How a script ended. Anything else (a lost session) is thrown. A statement that the server could
 * not even parse fails the whole message before anything runs: it is still reported as that
 * statement's failure, never as a failure of the set-up around it.
 */
export type ScriptOutcome =
  | { readonly ok: true }
  /** Statement `index` of the migration failed; the error's position is within that statement. */
  | { readonly ok: false; readonly failed: 'statement'; readonly index: number; readonly error: DriverQueryError }
  | { readonly ok: false; readonly failed: 'session-changed' | 'lock-lost' }
  /** berth's own part failed: resetting the session (`setup`), or writing the history row. */
  | { readonly ok: false; readonly failed: 'setup' | 'history'; readonly error: DriverQueryError }
  /** COMMIT itself was refused (a deferred constraint): the transaction was rolled back. */
  | { readonly ok: false; readonly failed: 'commit'; readonly error: DriverQueryError };

/** What the server reported for a failed statement. */
export interface ServerErrorInfo {
  readonly message: string;
  readonly sqlState?: string;
  /** 1-based character position in the statement text sent, as the server reports it. */
  readonly position?: number;
  readonly detail?: string;
  readonly hint?: string;
  readonly where?: string;
}

/**
 * What kind of failure a server error is. The driver decides it from its database's own codes;
 * core branches on the family, never on a SQLSTATE (docs/errors.md has the table).
 */
export type ErrorFamily =
  /** The statement text could not be parsed. */
  | 'syntax'
  /** The role lacks a privilege on an object. */
  | 'privilege'
  /** The server or the transaction accepts no writes (a standby, `default_transaction_read_only`). */
  | 'read-only'
  /** Serialization failure or deadlock: the transaction was rolled back; trying again may work. */
  | 'conflict'
  /** `lock_timeout` fired, or a NOWAIT lock was not available. */
  | 'lock-timeout'
  /** `statement_timeout` fired. */
  | 'statement-timeout'
  /** The statement was cancelled (by berth on SIGTERM, or by an operator). */
  | 'canceled'
  /** The statement cannot run inside a transaction block. */
  | 'needs-no-transaction'
  /** The server ran out of something, or failed for a reason of its own (disk, memory, I/O, a bug). */
  | 'server'
  /** Anything else: the statement itself is wrong for this database (missing object, bad data...). */
  | 'statement';

/** A statement failed on the server; the session is still usable (after a rollback). */
export class DriverQueryError extends Error {
  readonly info: ServerErrorInfo;
  readonly family: ErrorFamily;
  constructor(info: ServerErrorInfo, family: ErrorFamily, options?: { cause?: unknown }) {
    super(info.message, options);
    this.info = info;
    this.family = family;
  }
}

/** The session is gone (network, server restart, termination). Nothing more can run on it. */
export class ConnectionLostError extends Error {}

export interface Driver {
  readonly capabilities: DriverCapabilities;

  /** One attempt to open the session; see the checklist above. */
  connect(): Promise<ServerInfo>;

  /**
   * How many more client connections the server would accept now (its limit, less reserved
   * slots and those in use); undefined where the driver cannot tell. A fleet sizes its default
   * parallelism from it.
   */
  connectionHeadroom?(): Promise<number | undefined>;

  /**
   * Called before the first lock attempt: makes sure the session stays berth's own until it closes.
   * Behind a pooler that does not keep it between transactions (transaction pooling) it throws
   * `TargetRejectedError` (ERR_DB_POOLER) having changed nothing; behind one that does, it applies
   * the session settings there, and returns those the server refused. Where the session is a
   * connection of its own (`pooled` false) there is nothing to check, and it returns
   * `unsetSettings` again. Idempotent.
   */
  claimSession?(): Promise<readonly UnsetSetting[]>;
  /** One non-blocking attempt at the migration lock for `key`. Never blocks on the server. */
  tryLock(key: bigint): Promise<boolean>;
  /** Who holds the lock for `key`, if anyone can be seen. */
  lockHolder(key: bigint): Promise<LockHolder | null>;
  /** Releases the lock for `key`, and tells the sessions that `watchUnlock` it. */
  unlock(key: bigint): Promise<void>;
  /**
   * Calls `wake` whenever a session releases the lock for `key` with `unlock`, so a waiter can
   * try again at once instead of at its next poll. Returns a function that stops watching, or
   * undefined when this session cannot be told (waiters then only poll, as without the method).
   */
  watchUnlock?(key: bigint, wake: () => void): Promise<(() => Promise<void>) | undefined>;

  /**
   * The lease (`--lock lease`), for a database where a session lock cannot work (a transaction
   * pooler). Optional: a driver without it offers only its advisory lock. Every statement stands
   * alone (no session state), and times come from the server's clock. `table` is the lease
   * table, next to the history table.
   *
   * `takeLease` makes one attempt: creates the table (with its one row) if missing, safely when
   * several runners do it at once, then takes the row if it is expired or released, incrementing
   * its token. Never blocks for long.
   */
  takeLease?(table: HistoryTable, claim: LeaseClaim, ttlMs: number): Promise<LeaseTake>;
  /** Extends the lease by `ttlMs` from now; false when the token moved on or it already expired. */
  renewLease?(table: HistoryTable, token: bigint, ttlMs: number): Promise<boolean>;
  /** Marks the lease released (expired now), if `token` still holds it. */
  releaseLease?(table: HistoryTable, token: bigint): Promise<void>;
  /** The lease row, or null when there is no lease table: a runner with the advisory lock checks no lease is held. */
  readLease?(table: HistoryTable): Promise<LeaseHolder | null>;

  /** The history rows, or null when the table does not exist yet. */
  readHistory(table: HistoryTable): Promise<HistoryRow[] | null>;
  /**
   * The history summarised (see `HistorySummary`), compared with `expected` when given: the
   * up-to-date check of every pod start, answered without sending every row. Null when the table
   * does not exist. Needs only SELECT on it.
   */
  historySummary(table: HistoryTable, expected?: readonly { readonly version: number; readonly checksum: string }[]): Promise<HistorySummary | null>;
  /**
   * Looks at tables that may not be berth's, and writes nothing: the history another migration
   * tool left (golang-migrate, dbmate, node-pg-migrate), or whatever a `--table` that is not a
   * berth history table holds. Returns those of `tables` that exist as tables or views, in the
   * order asked, each with its columns and, with `rows: true`, all its rows. Needs only SELECT on
   * those tables.
   */
  inspectTables(tables: readonly HistoryTable[], options: { readonly rows: boolean }): Promise<InspectedTable[]>;
  /**
   * Creates the history table (and its schema) if it is missing, and adds the columns a table
   * created by an older berth lacks (`release`, `backup`), changing nothing when it has them all.
   * Called only while holding the lock, after the backup and before any other write.
   * `readHistory` reads a table without those columns (their values null), so a berth that only
   * reads never needs more than SELECT. Says which it did; `outdated`: the columns are missing and
   * this role may not add them (not the table's owner), so rows are written without them.
   */
  ensureHistoryTable(table: HistoryTable): Promise<'created' | 'upgraded' | 'current' | 'outdated'>;
  /**
   * Inserts, updates or deletes one history row as berth's own session user (whatever role a
   * migration switched to), and only while this session holds `lockKey` (checked in the same
   * statement; for a lease, the row is also locked against a takeover until the transaction ends;
   * null: there is no lock to check). Returns false when nothing was written because
   * the lock was not held (or, for an update or delete, there is no such row).
   */
  writeHistory(table: HistoryTable, change: HistoryWrite, lockKey: LockGuard | null): Promise<boolean>;

  /**
   * Prepares the session for the next migration: its start-up state again (user, role and every
   * setting, whatever the previous file changed), the file's timeouts, and a transaction when
   * asked; in the same round trip it reports the server session it runs on and whether it still
   * holds `lockKey`. The caller decides what a mismatch means.
   */
  beginMigration(options: MigrationSessionOptions, lockKey: LockGuard | null): Promise<{ pid: number; lockHeld: boolean }>;
  /**
   * Runs SQL the user wrote: without `params`, the text as the database's client would send it
   * (one or more statements); with them, one statement with bind parameters (`ctx.sql`). Rows and
   * count are those of the last statement.
   */
  execute(sql: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number }>;
  /** Ends the transaction `beginMigration` opened, keeping its work. Never retried by the caller. */
  commit(): Promise<void>;
  /** Ends the transaction without its work; a no-op when there is none or the session is gone. */
  rollback(): Promise<void>;
  /**
   * A transactional migration as one message: the reset and checks of `beginMigration`, the
   * statements, the history change and the commit in one round trip. Where absent, the caller
   * goes step by step. On failure the transaction is left for the caller to roll back.
   */
  runScript?(script: TransactionalScript): Promise<ScriptOutcome>;

  /** Cancels whatever statement this session is running, on the server. Safe to call any time. */
  cancel(): Promise<void>;
  /** Ends the session; session-level locks go with it. Idempotent. */
  close(): Promise<void>;
  /** What the session is doing (no I/O), for progress and a liveness probe. */
  activity?(): SessionActivity;
}

/**
 * What the database session is doing, as its driver last saw it: what a liveness probe needs to
 * tell a session busy with a long statement (healthy) from one that stopped answering.
 */
export interface SessionActivity {
  /** The session was found gone (the server ended it, the network failed). */
  readonly lost: boolean;
  /** Since when (epoch ms) a call is in flight on it, or null when it is idle. */
  readonly busySince: number | null;
  /** When (epoch ms) the last call ended, or null before any. */
  readonly lastRoundTripAt: number | null;
  /**
   * The driver sends a heartbeat into silence every `everyMs`: an idle session whose last round
   * trip is much older than that is not answering. Absent where the driver has none.
   */
  readonly heartbeat?: { readonly everyMs: number; readonly pendingSince: number | null };
}
