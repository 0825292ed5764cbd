import type { MigrationContext } from './apply.js';
import { runInTransaction, runWithoutTransaction, type ApplyContext, type Step } from './apply.js';
import type { AppliedMigration, HistoryChangeReport, MigratorOptions } from './api.js';
import { adoptionRequiredError, candidateSchemas, explainHistoryError, findForeignHistories, recordsNothing } from './adopt.js';
import { connect, sessionKeeper, settingsWarning, type ConnectOptions, type Connection } from './connect.js';
import type { EventListener } from './events.js';
import { acquireLock, lockKey } from './lock.js';
import type { Plan } from './plan.js';
import { DEFAULT_TABLE, type Settings } from './settings.js';
import type { HistoryRow, HistoryTable } from '../drivers/driver.js';
import { driverFor, parseDatabaseUrl } from '../drivers/registry.js';
import { ConfigError, TargetRejectedError, ValidationError } from '../errors.js';
import type { CodeMigration } from '../load-module.js';
import { checkBodies, readMigrations } from '../source/read-migrations.js';
import type { Migration } from '../source/types.js';
import { BERTH_VERSION } from '../version.js';

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
   * Runs `fn` holding the migration lock, with the history table created and read under it.
   * While it waits for the lock, `unneeded` may find (without the lock) that there is nothing
   * left to do; its result is then returned without taking the lock. `foreign: 'adopt'` creates
   * berth's table even where another tool's history is found (baseline does so on purpose).
   */
  withLock<T>(c: Connection, table: HistoryTable, fn: (ctx: ApplyContext, history: HistoryRow[]) => Promise<T>,
    unneeded?: () => Promise<T | undefined>, foreign?: 'refuse' | 'adopt'): Promise<T>;
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
  /** A file with no statement (empty, or only comments) is recorded as applied: say so. */
  warnEmpty(migrations: readonly Migration[]): void;
  /** Applied versions newer than every file: an older release after a newer one. */
  warnAhead(p: Pick<Plan, 'ahead'>): void;
  close(): Promise<void>;
}

export function createSession(settings: Settings, options: Pick<MigratorOptions, 'onEvent' | 'signal'>): Session {
  const emit: EventListener = options.onEvent ?? (() => undefined);
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
      return await fn(connection, table).catch(async (err: unknown) => { throw await explainHistoryError(connection.driver, table, DEFAULT_TABLE, err); });
    } finally {
      signal?.removeEventListener('abort', cancel);
      open.delete(connection);
      await connection.driver.close();
    }
  }

  async function withLock<T>(c: Connection, table: HistoryTable, fn: (ctx: ApplyContext, history: HistoryRow[]) => Promise<T>,
    unneeded?: () => Promise<T | undefined>, foreign: 'refuse' | 'adopt' = 'refuse'): Promise<T> {
    const { driver, server } = c;
    // Behind a pooler: refused here, before the lock, if the session is not berth's own.
    const unset = await driver.claimSession?.();
    if (server.pooled && unset?.length) emit(settingsWarning(c.target.redacted, unset));
    const key = lockKey(server.database, table);
    const tableName = `${table.schema}.${table.table}`;
    let early: T | undefined;
    const waited = await acquireLock(driver, key, tableName, {
      timeoutMs: settings.lockTimeoutMs, onEvent: emit,
      ...(signal ? { signal } : {}),
      ...(unneeded ? { unneeded: async () => (early = await unneeded()) !== undefined } : {}),
    });
    if (waited === undefined) return early as T;
    try {
      // Read again under the lock: another runner may have changed everything while we waited.
      let history = await driver.readHistory(table);
      if (history === null) {
        // Creating the table would make berth the owner of a database another tool migrated.
        if (foreign === 'refuse') await refuseForeignHistory(c, table, []);
        await driver.ensureHistoryTable(table);
        emit({ event: 'history.created', table: tableName });
        history = [];
      }
      const ctx: ApplyContext = {
        driver, table, lockKey: driver.capabilities.advisoryLocks ? key : null, pid: server.pid, user: server.user, dialect: c.dialect, secrets: c.secrets,
        host: settings.host, berthVersion: BERTH_VERSION, onEvent: emit, pooled: server.pooled,
        statementTimeoutMs: (unset ?? server.unsetSettings).some((s) => s.name === 'statement_timeout') ? undefined : settings.statementTimeoutMs,
        lock: { verified: true },
        ...(signal ? { signal } : {}),
      };
      return await fn(ctx, history);
    } finally {
      // The lock dies with the session anyway; unlocking first lets waiting runners go at once.
      await driver.unlock(key).then(() => emit({ event: 'lock.released', table: tableName }), () => undefined);
    }
  }

  async function warnIfTransactionPooler(c: Connection): Promise<void> {
    if (!c.server.pooled) return;
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

  async function close(): Promise<void> {
    await Promise.all([...open].map((c) => c.driver.close()));
    await keeper.closeAll();
  }

  return Object.freeze({
    settings, emit, signal, connectOptions, withConnection, withLock, load, checkUnverified, readHistoryOrRefuse, warnIfTransactionPooler,
    loadCode, runEach, report, warnEmpty, warnAhead, close,
  });
}

/** Stops with every problem of the plan (exit 5): drift, missing files, failed rows, out-of-order. */
export function failOnProblems(p: Plan): void {
  if (p.problems.length === 0) return;
  throw new ValidationError('ERR_VALIDATION_FAILED',
    `validation failed, nothing was changed:\n${p.problems.map((x) => `  - ${x.message}`).join('\n')}`,
    { details: { problems: p.problems } });
}
