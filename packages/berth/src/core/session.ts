import type { MigrationContext } from './apply.js';
import { runInTransaction, runWithoutTransaction, type ApplyContext, type Step } from './apply.js';
import type { AppliedMigration, HistoryChangeReport, MigratorOptions } from './api.js';
import { adoptionRequiredError, candidateSchemas, explainHistoryError, findForeignHistories, recordsNothing } from './adopt.js';
import { connect, sessionKeeper, settingsWarning, type ConnectOptions, type Connection } from './connect.js';
import type { EventListener } from './events.js';
import { acquireLease } from './lease.js';
import { acquireLock, lockKey } from './lock.js';
import { ProgressTracker, type ProgressSnapshot } from './progress.js';
import type { Plan } from './plan.js';
import { DEFAULT_TABLE, LEASE_SUFFIX, type Settings } from './settings.js';
import { ConnectionLostError, type HistoryRow, type HistoryTable, type LockGuard, type UnsetSetting } from '../drivers/driver.js';
import { driverFor, parseDatabaseUrl } from '../drivers/registry.js';
import { ConfigError, OutcomeUnknownError, TargetRejectedError, ValidationError } from '../errors.js';
import type { CodeMigration } from '../load-module.js';
import { checkBodies, readMigrations } from '../source/read-migrations.js';
import type { Migration } from '../source/types.js';
import { BERTH_VERSION } from '../version.js';
import { hostname } from 'node:os';

/**
 * What every operation of one migrator shares: its settings and events, its connections (each
 * with the history table's location), the lock, the files and their checks. The operations
 * (core/operations/) decide what to do with the pure planner (plan.ts); this does the I/O.
 */
export interface Session {
  readonly settings: Settings;
  readonly emit: EventListener;
  readonly signal: AbortSignal | undefined;
  /** What `connect` is given for this migrator, but for how long to wait. */
  readonly connectOptions: Omit<ConnectOptions, 'waitMs'>;
  /** Connects (with `--wait`), runs `fn`, closes; an interrupt cancels the running statement. */
  withConnection<T>(fn: (c: Connection, table: HistoryTable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` holding the migration lock, with the history read under it and the table created
   * (or given the columns an older berth did not create) before `fn` runs: see `LockOptions`.
   */
  withLock<T>(c: Connection, table: HistoryTable, fn: (ctx: ApplyContext, history: HistoryRow[]) => Promise<T>, options?: LockOptions<T>): Promise<T>;
  /** The migrations, their names, bytes and structure checked; bodies wait for `checkUnverified`. */
  load(): Promise<Migration[]>;
  /**
   * Parses every down file and every up file that is not applied with its current bytes,
   * reporting all their problems at once, before any write (SPEC §4.4); every command that reads
   * the history calls it, so all of them refuse the same directory. An up file applied with a
   * matching checksum was parsed when it ran: skipping it keeps the no-op `migrate` of every pod
   * start cheap. `history` undefined: every up file is known to be applied as it is.
   */
  checkUnverified(migrations: readonly Migration[], history: readonly HistoryRow[] | undefined): void;
  /**
   * The history rows, or null when there is no berth history table yet. Then another tool's
   * history means the database is not new: that stops the command (exit 5) saying how to adopt it.
   */
  readHistoryOrRefuse(c: Connection, table: HistoryTable, migrations: readonly Migration[]): Promise<HistoryRow[] | null>;
  /**
   * A migrate with nothing to do takes no lock, so a transaction pool would pass unnoticed until
   * the next release's migrations: behind a pooler it checks anyway, and warns.
   */
  warnIfTransactionPooler(c: Connection): Promise<void>;
  /** Each code module is imported once per migrator (importing runs its top-level code). */
  loadCode(m: Migration): Promise<CodeMigration<MigrationContext>>;
  /**
   * Runs steps one after another, each in its own transaction, or statement by statement where
   * the file asks for it or the database cannot roll DDL back (the `failed` state covers those).
   */
  runEach(ctx: ApplyContext, steps: readonly Step[]): Promise<AppliedMigration[]>;
  /** Emits and returns one change of repair, resolve or baseline. */
  report(command: 'repair' | 'resolve' | 'baseline', version: number, name: string, change: string): HistoryChangeReport;
  /** Runs one operation of the migrator, so that `progress()` knows when none is running. */
  track<T>(operation: () => Promise<T>): Promise<T>;
  /** What the migrator is doing now (no I/O). */
  progress(): ProgressSnapshot;
  /** A file with no statement (empty, or only comments) is recorded as applied: say so. */
  warnEmpty(migrations: readonly Migration[]): void;
  /** Applied versions newer than every file: an older release after a newer one. */
  warnAhead(p: Pick<Plan, 'ahead'>): void;
  close(): Promise<void>;
}

export interface LockOptions<T> {
  /**
   * While waiting for the lock, may find (without the lock) that there is nothing left to do; its
   * result is then returned without taking the lock.
   */
  readonly unneeded?: () => Promise<T | undefined>;
  /** `adopt` creates berth's table even where another tool's history is found (baseline does so on purpose). */
  readonly foreign?: 'refuse' | 'adopt';
  /**
   * Runs under the lock with the history as read there, before anything is written, the history
   * table's creation included: what decides whether to go on (the plan, its checks) and the
   * backup. Throwing stops with nothing written; `backup` is recorded on the rows `fn` writes.
   */
  readonly beforeWrite?: (history: HistoryRow[]) => Promise<{ readonly backup?: string } | void>;
}

export function createSession(settings: Settings, options: Pick<MigratorOptions, 'onEvent' | 'signal'>): Session {
  const tracker = new ProgressTracker();
  const listener: EventListener = options.onEvent ?? (() => undefined);
  // Progress is derived from the events, before the host sees them: its listener may read it.
  const emit: EventListener = (e) => {
    tracker.observe(e);
    listener(e);
  };
  const signal = options.signal;
  const open = new Set<Connection>();
  // Keeps a `pglite://memory` database open between operations; ended in close().
  const keeper = sessionKeeper();
  const codeModules = new Map<number, Promise<CodeMigration<MigrationContext>>>();

  const connectOptions: Omit<ConnectOptions, 'waitMs'> = Object.freeze({
    databaseUrl: settings.databaseUrl,
    applicationName: `berth/${BERTH_VERSION}/${settings.host}`.slice(0, 63),
    ssl: settings.ssl,
    onEvent: emit,
    keeper,
    ...(signal ? { signal } : {}),
    ...(settings.searchPath ? { searchPath: settings.searchPath } : {}),
  });

  async function withConnection<T>(fn: (c: Connection, table: HistoryTable) => Promise<T>): Promise<T> {
    const connection = await connect({ ...connectOptions, waitMs: settings.waitMs });
    open.add(connection);
    // An interrupt cancels the running statement on the server; the step then rolls back and the
    // lock is released before the session closes (SPEC §4.5).
    const cancel = () => void connection.driver.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      const schema = settings.schema ?? connection.server.currentSchema;
      if (!schema) {
        throw new ConfigError('ERR_CONFIG_INVALID', 'the connection has no current schema (on PostgreSQL an empty search_path, on MySQL no database in the URL): name the database in the URL, or set --schema (BERTH_SCHEMA) for the history table');
      }
      const table = { schema, table: settings.table };
      // A --table that names someone else's table fails its first read: say so, not "column … does not exist".
      return await fn(connection, table).catch(async (err: unknown) => {
        // Lost outside a migration (which says so itself): reading the history, creating it, after a long backup.
        if (err instanceof ConnectionLostError) {
          throw new OutcomeUnknownError('ERR_CONNECTION_LOST', `the database connection was lost: ${err.message}. ` +
            'Nothing after the last change berth reported was written. Run berth again: it continues from what the history table says.', { cause: err });
        }
        throw await explainHistoryError(connection.driver, table, DEFAULT_TABLE, err);
      });
    } finally {
      signal?.removeEventListener('abort', cancel);
      open.delete(connection);
      await connection.driver.close();
    }
  }

  async function withLock<T>(c: Connection, table: HistoryTable, fn: (ctx: ApplyContext, history: HistoryRow[]) => Promise<T>,
    options: LockOptions<T> = {}): Promise<T> {
    const { unneeded, foreign = 'refuse', beforeWrite } = options;
    const { driver, server } = c;
    const key = lockKey(server.database, table);
    const tableName = `${table.schema}.${table.table}`;
    const leaseTable: HistoryTable = { schema: table.schema, table: `${table.table}${LEASE_SUFFIX}` };
    // The lease needs a second connection (its heartbeat) and a driver that has one.
    const leaseCapable = driver.takeLease !== undefined && driver.capabilities.multipleConnections;
    if (settings.lock === 'lease' && !leaseCapable) {
      throw new ConfigError('ERR_CONFIG_INVALID',
        `--lock lease (BERTH_LOCK) is not available on ${c.target.redacted}: the lease needs a database server (PostgreSQL, MySQL, MariaDB) that a second connection can reach. Use --lock advisory or auto there.`);
    }
    let transactionPool = false;
    let unset: readonly UnsetSetting[] | undefined;
    try {
      // Behind a pooler: refused here, before the lock, if the session is not berth's own.
      unset = await driver.claimSession?.();
    } catch (err) {
      if (settings.lock === 'advisory' || !leaseCapable || !(err instanceof TargetRejectedError && err.code === 'ERR_DB_POOLER')) throw err;
      // A transaction pooler: nothing was SET on the session, and the lease needs nothing there.
      transactionPool = true;
    }
    if (server.pooled && unset?.length) emit(settingsWarning(c.target.redacted, unset));
    const useLease = leaseCapable && (settings.lock === 'lease' || transactionPool);
    let early: T | undefined;
    const whenUnneeded = unneeded ? { unneeded: async () => (early = await unneeded()) !== undefined } : {};
    let guard: LockGuard | null;
    let release: () => Promise<void>;
    if (useLease) {
      const lease = await acquireLease({
        table: leaseTable, tableName, ...(settings.lock === 'auto' ? { reason: '--lock auto found a transaction pooler, where a session lock cannot work' } : {}), ttlMs: settings.leaseTtlMs, timeoutMs: settings.lockTimeoutMs, onEvent: emit,
        claim: { pod: settings.host, host: hostname(), pid: process.pid, berthVersion: BERTH_VERSION },
        // Its connection logs nothing of its own but retries and warnings: the run's connect said it all.
        open: () => connect({ ...connectOptions, waitMs: settings.waitMs, onEvent: (e) => {
          if (e.event !== 'connect.attempt' && e.event !== 'connect.ok') emit(e);
        } }),
        // A runner on a direct connection with the advisory lock would not see the lease.
        advisoryHolder: async (d) => (await d.lockHolder(key)) !== null,
        ...(signal ? { signal } : {}),
        ...whenUnneeded,
      });
      if (lease === undefined) return early as T;
      guard = { lease: leaseTable, token: lease.token };
      release = () => lease.release();
    } else {
      const waited = await acquireLock(driver, key, tableName, {
        timeoutMs: settings.lockTimeoutMs, onEvent: emit,
        ...(signal ? { signal } : {}),
        ...whenUnneeded,
        // A runner through a transaction pooler with the lease would not see this lock.
        ...(leaseCapable ? { leaseHolder: async () => {
          const holder = await driver.readLease!(leaseTable);
          return holder && !holder.released && !holder.expired ? holder : null;
        } } : {}),
      });
      if (waited === undefined) return early as T;
      guard = driver.capabilities.advisoryLocks ? { key } : null;
      // The lock dies with the session anyway; unlocking first lets waiting runners go at once.
      release = () => driver.unlock(key).then(() => emit({ event: 'lock.released', table: tableName }), () => undefined);
    }
    try {
      // Read again under the lock: another runner may have changed everything while we waited.
      const history = await driver.readHistory(table);
      // Creating the table would make berth the owner of a database another tool migrated.
      if (history === null && foreign === 'refuse') await refuseForeignHistory(c, table, []);
      const prepared = await beforeWrite?.(history ?? []);
      // The first write: the table, or the columns an older berth's table lacks (a no-op otherwise).
      const done = await driver.ensureHistoryTable(table);
      if (done === 'created' || done === 'upgraded') emit({ event: done === 'created' ? 'history.created' : 'history.upgraded', table: tableName });
      if (done === 'outdated') {
        emit({ event: 'plan.warning', code: 'W_HISTORY_COLUMNS',
          message: `${tableName} was created by an older berth and this role may not add its release and backup columns (only the table's owner may): ` +
            'rows are written without them. Run berth once as the owner to add them.' });
      }
      const ctx: ApplyContext = {
        driver, table, lockKey: guard, pid: transactionPool ? null : server.pid, user: server.user, dialect: c.dialect, secrets: c.secrets,
        host: settings.host, berthVersion: BERTH_VERSION, release: settings.release, backup: prepared?.backup ?? null, onEvent: emit, pooled: server.pooled,
        statementTimeoutMs: (unset ?? server.unsetSettings).some((s) => s.name === 'statement_timeout') ? undefined : settings.statementTimeoutMs,
        // After a backup (minutes, maybe) the lock is checked again before the first migration.
        lock: { verified: prepared?.backup === undefined },
        ...(signal ? { signal } : {}),
      };
      return await fn(ctx, history ?? []);
    } finally {
      await release();
    }
  }

  async function warnIfTransactionPooler(c: Connection): Promise<void> {
    // With lease or auto, a transaction pooler is no problem.
    if (!c.server.pooled || settings.lock !== 'advisory') return;
    try {
      await c.driver.claimSession?.();
    } catch (err) {
      if (!(err instanceof TargetRejectedError && err.code === 'ERR_DB_POOLER')) throw err;
      emit({ event: 'plan.warning', code: 'W_TRANSACTION_POOLER', message: `${err.message} Nothing was pending this time; migrate exits 6 as soon as something is.` });
    }
  }

  async function load(): Promise<Migration[]> {
    const ignored: string[] = [];
    // Files are read as the target's database reads them (its dialect): known from the URL's scheme.
    const { dialect } = driverFor(parseDatabaseUrl(await settings.databaseUrl()));
    const migrations = await readMigrations(settings.dir, { dialect, bodies: 'lazy', onFileIgnored: (file) => ignored.push(file) });
    if (migrations.length === 0 && !settings.allowEmpty) {
      const others = ignored.length === 0 ? 'it is empty' : `it holds ${ignored.length} other file(s) (${ignored.slice(0, 3).join(', ')}${ignored.length > 3 ? ', ...' : ''})`;
      throw new ValidationError('ERR_SOURCE_EMPTY',
        `migrations directory ${settings.dir} holds no migrations (${others}): is it mounted at the right path? ` +
        'Point --dir (BERTH_DIR) at the folder of <version>_<name>.up.sql files, or pass --allow-empty if an empty set is what you mean.',
        { details: { dir: settings.dir } });
    }
    return migrations;
  }

  function checkUnverified(migrations: readonly Migration[], history: readonly HistoryRow[] | undefined): void {
    if (history === undefined) return checkBodies(settings.dir, migrations, () => true);
    const applied = new Map(history.filter((r) => r.status === 'applied').map((r) => [r.version, r.checksum]));
    checkBodies(settings.dir, migrations, (m) => applied.get(m.version) === m.checksum);
  }

  async function readHistoryOrRefuse(c: Connection, table: HistoryTable, migrations: readonly Migration[]): Promise<HistoryRow[] | null> {
    const history = await c.driver.readHistory(table);
    if (history === null) await refuseForeignHistory(c, table, migrations);
    return history;
  }

  async function refuseForeignHistory(c: Connection, table: HistoryTable, migrations: readonly Migration[]): Promise<void> {
    const found = await findForeignHistories(c.driver, candidateSchemas(table.schema, c.server.currentSchema));
    const recorded = found.filter((h) => !recordsNothing(h));
    if (recorded.length) throw adoptionRequiredError(recorded, `${table.schema}.${table.table}`, migrations);
    for (const h of found) {
      emit({ event: 'plan.warning', code: 'W_FOREIGN_HISTORY_EMPTY', message: `${h.table} is ${h.tool}'s history table and records no migration: berth starts from the first one` });
    }
  }

  function loadCode(m: Migration): Promise<CodeMigration<MigrationContext>> {
    let module = codeModules.get(m.version);
    if (!module) {
      module = import('../load-module.js').then(({ loadCodeMigration }) => loadCodeMigration<MigrationContext>(m.up.path));
      codeModules.set(m.version, module);
    }
    return module;
  }

  async function runEach(ctx: ApplyContext, steps: readonly Step[]): Promise<AppliedMigration[]> {
    const done: AppliedMigration[] = [];
    for (const step of steps) {
      signal?.throwIfAborted();
      const durationMs = step.directives.noTransaction || !ctx.driver.capabilities.transactionalDdl
        ? await runWithoutTransaction(ctx, step)
        : await runInTransaction(ctx, step, 'own');
      done.push({ version: step.migration.version, name: step.migration.name, durationMs });
    }
    return done;
  }

  function report(command: 'repair' | 'resolve' | 'baseline', version: number, name: string, change: string): HistoryChangeReport {
    emit({ event: 'history.changed', command, version, name, change });
    return { version, name, change };
  }

  function warnEmpty(migrations: readonly Migration[]): void {
    for (const m of migrations) {
      if (m.kind !== 'sql' || m.statements.length > 0) continue;
      emit({ event: 'plan.warning', code: 'W_EMPTY_MIGRATION', version: m.version,
        message: `${m.up.fileName} has no statements (it is empty or only comments): it is recorded as applied without running anything` });
    }
  }

  function warnAhead(p: Pick<Plan, 'ahead'>): void {
    for (const row of p.ahead) {
      emit({ event: 'plan.warning', code: 'W_HISTORY_AHEAD', version: row.version,
        message: `version ${row.version} (${row.name}) is applied but newer than every file here: an older release is running after a newer one` });
    }
  }

  function progress(): ProgressSnapshot {
    // The newest connection is the operation's (a second one only ever cancels or looks up).
    const connection = [...open].at(-1);
    return tracker.snapshot(connection?.driver.activity?.() ?? null);
  }

  async function close(): Promise<void> {
    await Promise.all([...open].map((c) => c.driver.close()));
    await keeper.closeAll();
  }

  return Object.freeze({
    settings, emit, signal, connectOptions, withConnection, withLock, load, checkUnverified, readHistoryOrRefuse, warnIfTransactionPooler,
    loadCode, runEach, report, warnEmpty, warnAhead, close, progress, track: <T>(operation: () => Promise<T>) => tracker.run(operation),
  });
}

/** Stops with every problem of the plan (exit 5): drift, missing files, failed rows, out-of-order. */
export function failOnProblems(p: Plan): void {
  if (p.problems.length === 0) return;
  throw new ValidationError('ERR_VALIDATION_FAILED',
    `validation failed, nothing was changed:\n${p.problems.map((x) => `  - ${x.message}`).join('\n')}`,
    { details: { problems: p.problems } });
}
