import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { formatDuration, parseDuration } from '../config/duration.js';
import type { SslMode } from '../config/database-url.js';
import { checkBodies, readMigrations } from '../source/read-migrations.js';
import type { Migration } from '../source/types.js';
import type { HistoryRow, HistoryTable } from '../drivers/driver.js';
import type { SqlSession } from '../drivers/postgres/sql-session.js';
import { BERTH_VERSION } from '../version.js';
import { commit, runInTransaction, runWithoutTransaction, upStep, type ApplyContext, type MigrationContext, type Step } from './apply.js';
import type { CodeMigration } from '../source/load-module.js';
import { connect, dialectFor, type Connection } from './connect.js';
import { ConfigError, OutcomeUnknownError, UnreachableError, ValidationError } from './errors.js';
import { sleep } from './sleep.js';
import type { EventListener } from './events.js';
import { acquireLock, lockKey } from './lock.js';
import {
  adoptedMigrations, adoptionRequiredError, candidateSchemas, checkBaselineFrom, describeState, explainHistoryError,
  findAdoptable, findForeignHistories, notRecorded, recordsNothing, type BaselineFrom,
} from './adopt.js';
import { plan, planDown, type DownTarget, type Plan } from './plan.js';

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
  readonly sslmode?: SslMode;
  readonly sslrootcert?: string;
  /** True when sslmode/sslrootcert must win over the URL's own parameters (a CLI flag does). */
  readonly sslOverridesUrl?: boolean;
  /** Recorded in the history table and in application_name. Default: the machine's host name. */
  readonly host?: string;
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
  readonly beforeApply?: (migrations: readonly PlannedMigration[]) => void | Promise<void>;
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
  close(): Promise<void>;
}

export const DEFAULT_DIR = './migrations';
export const DEFAULT_TABLE = 'berth_migrations';
export const DEFAULT_LOCK_TIMEOUT_MS = 15 * 60_000; // 15 minutes
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

interface Settings {
  readonly databaseUrl: () => string | Promise<string>;
  readonly dir: string;
  readonly table: string;
  readonly schema: string | undefined;
  readonly allowEmpty: boolean;
  readonly waitMs: number;
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly host: string;
  readonly ssl: { mode?: SslMode; rootcert?: string; override: boolean };
}

export function createMigrator(options: MigratorOptions): Migrator {
  const settings = settle(options);
  const emit: EventListener = options.onEvent ?? (() => undefined);
  const open = new Set<Connection>();
  const embedded = new Map<string, Promise<SqlSession>>();

  async function withConnection<T>(fn: (c: Connection, table: HistoryTable) => Promise<T>): Promise<T> {
    const connection = await connect({
      databaseUrl: settings.databaseUrl,
      waitMs: settings.waitMs,
      statementTimeoutMs: settings.statementTimeoutMs,
      applicationName: `berth/${BERTH_VERSION}/${settings.host}`.slice(0, 63),
      ssl: settings.ssl,
      onEvent: emit,
      embedded,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    open.add(connection);
    // An interrupt cancels the running statement on the server; the step then rolls back and the
    // lock is released before the session closes (SPEC §4.5).
    const cancel = () => void connection.driver.cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      const schema = settings.schema ?? connection.server.currentSchema;
      if (!schema) {
        throw new ConfigError('ERR_CONFIG_INVALID', 'the connection has no current schema (empty search_path): set --schema (BERTH_SCHEMA) for the history table');
      }
      const table = { schema, table: settings.table };
      // A --table that names someone else's table fails its first read: say so, not "column … does not exist".
      return await fn(connection, table).catch(async (err: unknown) => { throw await explainHistoryError(connection.driver, table, DEFAULT_TABLE, err); });
    } finally {
      options.signal?.removeEventListener('abort', cancel);
      open.delete(connection);
      await connection.driver.close();
    }
  }

  /**
   * Runs `fn` holding the migration lock, with the history table created and read under it.
   * While it waits for the lock, `unneeded` may find (without the lock) that there is nothing
   * left to do; its result is then returned without taking the lock.
   */
  async function withLock<T>(c: Connection, table: HistoryTable, fn: (ctx: ApplyContext, history: HistoryRow[]) => Promise<T>,
    unneeded?: () => Promise<T | undefined>, foreign: 'refuse' | 'adopt' = 'refuse'): Promise<T> {
    const { driver, server } = c;
    const key = lockKey(server.database, table);
    const tableName = `${table.schema}.${table.table}`;
    let early: T | undefined;
    const waited = await acquireLock(driver, key, tableName, {
      timeoutMs: settings.lockTimeoutMs, onEvent: emit,
      ...(options.signal ? { signal: options.signal } : {}),
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
        driver, table, lockKey: driver.capabilities.advisoryLocks ? key : null, pid: server.pid, user: server.user, secrets: c.secrets,
        host: settings.host, berthVersion: BERTH_VERSION, statementTimeoutMs: settings.statementTimeoutMs, onEvent: emit,
        lock: { verified: true },
        ...(options.signal ? { signal: options.signal } : {}),
      };
      return await fn(ctx, history);
    } finally {
      // The lock dies with the session anyway; unlocking first lets waiting runners go at once.
      await driver.unlock(key).then(() => emit({ event: 'lock.released', table: tableName }), () => undefined);
    }
  }

  /** The migrations, their names, bytes and structure checked; bodies wait for `checkUnverified`. */
  async function load(): Promise<Migration[]> {
    const ignored: string[] = [];
    const dialect = await dialectFor(settings.databaseUrl);
    const migrations = await readMigrations(settings.dir, { bodies: 'lazy', onFileIgnored: (file) => ignored.push(file), ...(dialect ? { dialect } : {}) });
    if (migrations.length === 0 && !settings.allowEmpty) {
      const others = ignored.length === 0 ? 'it is empty' : `it holds ${ignored.length} other file(s) (${ignored.slice(0, 3).join(', ')}${ignored.length > 3 ? ', ...' : ''})`;
      throw new ValidationError('ERR_SOURCE_EMPTY',
        `migrations directory ${settings.dir} holds no migrations (${others}): is it mounted at the right path? ` +
        'Point --dir (BERTH_DIR) at the folder of <version>_<name>.up.sql files, or pass --allow-empty if an empty set is what you mean.',
        { details: { dir: settings.dir } });
    }
    return migrations;
  }

  /**
   * Parses every down file and every up file that is not applied with its current bytes,
   * reporting all their problems at once, before any write (SPEC §4.4); every command that reads
   * the history calls it, so all of them refuse the same directory. An up file applied with a
   * matching checksum was parsed when it ran: skipping it keeps the no-op `migrate` of every pod
   * start cheap. `history` undefined: every up file is known to be applied as it is.
   */
  function checkUnverified(migrations: readonly Migration[], history: readonly HistoryRow[] | undefined): void {
    if (history === undefined) return checkBodies(settings.dir, migrations, () => true);
    const applied = new Map(history.filter((r) => r.status === 'applied').map((r) => [r.version, r.checksum]));
    checkBodies(settings.dir, migrations, (m) => applied.get(m.version) === m.checksum);
  }

  /**
   * The history rows, or null when there is no berth history table yet. Then another tool's
   * history means the database is not new: that stops the command (exit 5) saying how to adopt it.
   */
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

  async function status(): Promise<StatusReport> {
    const migrations = await load();
    return withConnection(async (c, table) => statusOf(migrations, c, table));
  }

  /** The status, once the files are known to be valid: `status` refuses what `migrate` refuses. */
  async function statusOf(migrations: Migration[], c: Connection, table: HistoryTable): Promise<StatusReport> {
    const history = (await readHistoryOrRefuse(c, table, migrations)) ?? [];
    checkUnverified(migrations, history);
    return toStatus(plan({ migrations, history }));
  }

  async function validate(validateOptions: { allowOutOfOrder?: boolean } = {}): Promise<StatusReport> {
    const migrations = await load();
    return withConnection(async (c, table) => {
      const history = (await readHistoryOrRefuse(c, table, migrations)) ?? [];
      checkUnverified(migrations, history);
      const p = plan({ migrations, history, allowOutOfOrder: validateOptions.allowOutOfOrder ?? false });
      failOnProblems(p);
      warnAhead(p);
      return toStatus(p);
    });
  }

  async function up(upOptions: UpOptions = {}): Promise<UpResult> {
    const migrations = await load();
    if (upOptions.to !== undefined && !migrations.some((m) => m.version === upOptions.to)) {
      throw new ConfigError('ERR_USAGE', `--to ${upOptions.to}: no migration has that version in ${settings.dir}`);
    }
    const planOf = (history: readonly HistoryRow[]) => plan({
      migrations, history,
      ...(upOptions.to === undefined ? {} : { target: upOptions.to }),
      allowOutOfOrder: upOptions.allowOutOfOrder ?? false,
    });
    return withConnection(async (c, table) => {
      if (upOptions.singleTransaction && !c.driver.capabilities.transactionalDdl) {
        throw new ConfigError('ERR_USAGE', '--single-transaction needs a database whose DDL is transactional; this one commits every DDL statement at once. ' +
          'Run without --single-transaction: each migration is then recorded as it goes. Nothing was changed.');
      }
      const upToDate = (p: Pick<Plan, 'current' | 'pending' | 'ahead'>, lockWaitMs: number): UpResult => {
        warnAhead(p);
        emit({ event: 'plan.ready', current: p.current, pending: p.pending.length, toApply: 0, dryRun: false, table: `${table.schema}.${table.table}` });
        return { applied: [], planned: [], current: p.current, pending: p.pending.length, lockWaitMs, dryRun: false };
      };
      // The history is exactly the files, all applied, checksums included: nothing to do. Every
      // pod start ends here, with no lock, no write and no history rows to read.
      const newest = migrations.at(-1);
      const ifAllApplied = async (lockWaitMs: number): Promise<UpResult | undefined> => {
        if (!newest || (upOptions.to ?? Infinity) < newest.version || !(await c.driver.historyMatches(table, migrations))) return undefined;
        checkUnverified(migrations, undefined);
        return upToDate({ current: newest.version, pending: [], ahead: [] }, lockWaitMs);
      };
      const noOp = upOptions.dryRun ? undefined : await ifAllApplied(0);
      if (noOp) return noOp;
      // Optimistic read without the lock: anything else is decided again under the lock.
      const before = await readHistoryOrRefuse(c, table, migrations);
      const optimistic = planOf(before ?? []);
      checkUnverified(migrations, before ?? []);
      if (upOptions.dryRun) {
        failOnProblems(optimistic);
        warnEmpty(optimistic.toApply);
        if (optimistic.toApply.length) await upOptions.beforeApply?.(optimistic.toApply.map(toPlanned));
        return reportDryRun(optimistic, `${table.schema}.${table.table}`);
      }
      if (before !== null && optimistic.problems.length === 0 && optimistic.toApply.length === 0) return upToDate(optimistic, 0);
      // While another runner holds the lock: once the schema has reached the last version this
      // run would apply, re-plan without the lock; up to date means done, as at the start.
      const last = optimistic.toApply.at(-1)?.version ?? Infinity;
      const doneByAnother = async (): Promise<UpResult | undefined> => {
        const state = await c.driver.readCurrentVersion(table);
        if (state === null || state.unsettled || state.current === null || state.current < last) return undefined;
        const done = await ifAllApplied(Date.now() - lockStarted);
        if (done) return done;
        const p = planOf((await c.driver.readHistory(table)) ?? []);
        return p.problems.length === 0 && p.toApply.length === 0 ? upToDate(p, Date.now() - lockStarted) : undefined;
      };
      // Code migrations about to run are imported now, before the lock and before any write, so
      // a module that does not load stops the run with nothing changed (SPEC §4.4).
      await Promise.all(optimistic.toApply.filter((m) => m.kind === 'code').map(loadCode));
      const lockStarted = Date.now();
      let lockWaitMs = 0;
      return withLock(c, table, async (ctx, history) => {
        lockWaitMs = Date.now() - lockStarted;
        const current = planOf(history);
        checkUnverified(migrations, history);
        failOnProblems(current);
        warnAhead(current);
        emit({ event: 'plan.ready', current: current.current, pending: current.pending.length, toApply: current.toApply.length, dryRun: false, table: `${ctx.table.schema}.${ctx.table.table}` });
        if (upOptions.singleTransaction) {
          const noTx = current.toApply.find((m) => m.directives.noTransaction);
          if (noTx) {
            const why = noTx.directives.noTransactionImpliedBy ? `its ${noTx.directives.noTransactionImpliedBy} cannot run in a transaction` : 'it is marked -- berth:no-transaction';
            throw new ConfigError('ERR_USAGE', `--single-transaction cannot include ${noTx.up.fileName}: ${why}. Run without --single-transaction, or --to the version before it.`);
          }
        }
        warnEmpty(current.toApply);
        if (current.toApply.length) await upOptions.beforeApply?.(current.toApply.map(toPlanned));
        // Code is loaded before anything runs, so a broken module fails the run with nothing applied.
        const steps = numbered(await Promise.all(current.toApply.map(async (m) => upStep(m, m.kind === 'code' ? (await loadCode(m)).up : undefined))));
        const applied: AppliedMigration[] = [];
        if (upOptions.singleTransaction && steps.length > 0) {
          await c.driver.exec('BEGIN');
          try {
            for (const step of steps) {
              applied.push({ version: step.migration.version, name: step.migration.name, durationMs: await runInTransaction(ctx, step, 'shared') });
            }
          } catch (err) {
            await c.driver.rollback().catch(() => undefined);
            throw err;
          }
          await commit(ctx, current.toApply);
        } else {
          applied.push(...await runEach(ctx, steps));
        }
        const last = current.toApply.at(-1)?.version;
        return {
          applied,
          planned: current.toApply.map(describe),
          current: last === undefined ? current.current : Math.max(last, current.current ?? 0),
          pending: current.pending.length - applied.length,
          lockWaitMs,
          dryRun: false,
        };
      }, doneByAnother);
    });
  }

  async function down(target: DownTarget): Promise<DownResult> {
    const migrations = await load();
    return withConnection(async (c, table) => {
      // Before the lock, whose taking creates the history table: an invalid set changes nothing.
      checkUnverified(migrations, (await c.driver.readHistory(table)) ?? []);
      return withLock(c, table, async (ctx, history) => revertUnderLock(ctx, history));
    });
    async function revertUnderLock(ctx: ApplyContext, history: HistoryRow[]): Promise<DownResult> {
      checkUnverified(migrations, history);
      const p = plan({ migrations, history, allowOutOfOrder: true });
      failOnProblems(p);
      const entries = planDown(p, target);
      if ('to' in target && target.to !== 0 && !migrations.some((m) => m.version === target.to) && !history.some((r) => r.version === target.to)) {
        throw new ConfigError('ERR_USAGE', `--to ${target.to}: no migration has that version`);
      }
      // Every step is prepared (down file read, code loaded) before the first one runs, so a
      // missing down refuses the whole request with nothing changed.
      const steps: Step[] = [];
      const missing: string[] = [];
      for (const entry of entries) {
        const m = entry.migration;
        if (!m) { missing.push(`${entry.row.version} (${entry.row.name}): its file is missing`); continue; }
        if (m.kind === 'code') {
          const mod = await loadCode(m);
          if (!mod.down) { missing.push(`${m.version} (${m.up.fileName}) exports no down()`); continue; }
          steps.push({ migration: m, direction: 'down', file: m.up.fileName, directives: { noTransaction: false }, body: { kind: 'code', fn: mod.down } });
        } else if (!m.downSql) {
          missing.push(`${m.version} (${m.up.fileName}) has no ${m.up.fileName.replace(/\.up\.sql$/, '.down.sql')}`);
        } else {
          const d = m.downSql;
          steps.push({ migration: m, direction: 'down', file: d.fileName, directives: d.directives, body: { kind: 'sql', sql: d.sql, statements: d.statements } });
        }
      }
      if (missing.length) {
        throw new ValidationError('ERR_DOWN_MISSING',
          `cannot roll back: ${missing.length} migration(s) in the requested range cannot be reverted, nothing was changed:\n${missing.map((x) => `  - ${x}`).join('\n')}`,
          { details: { missing } });
      }
      const reverted = await runEach(ctx, numbered(steps));
      const remaining = p.applied.map((a) => a.row.version).filter((v) => !reverted.some((r) => r.version === v));
      return { reverted, current: remaining.length ? Math.max(...remaining) : null };
    }
  }

  /**
   * Runs steps one after another, each in its own transaction, or statement by statement where
   * the file asks for it or the database cannot roll DDL back (the `failed` state covers those).
   */
  async function runEach(ctx: ApplyContext, steps: readonly Step[]): Promise<AppliedMigration[]> {
    const done: AppliedMigration[] = [];
    for (const step of steps) {
      options.signal?.throwIfAborted();
      const durationMs = step.directives.noTransaction || !ctx.driver.capabilities.transactionalDdl
        ? await runWithoutTransaction(ctx, step)
        : await runInTransaction(ctx, step, 'own');
      done.push({ version: step.migration.version, name: step.migration.name, durationMs });
    }
    return done;
  }

  async function repair(): Promise<HistoryChangeReport[]> {
    const migrations = await load();
    return withConnection((c, table) => withLock(c, table, async (ctx, history) => {
      const p = plan({ migrations, history, allowOutOfOrder: true });
      const changes: HistoryChangeReport[] = [];
      for (const entry of p.drifted) {
        const m = entry.migration!;
        await ctx.driver.updateHistory(table, m.version, { checksum: m.checksum });
        changes.push(report('repair', m.version, m.name, `checksum ${entry.row.checksum.slice(0, 12)} -> ${m.checksum.slice(0, 12)} (${m.up.fileName})`));
      }
      return changes;
    }));
  }

  async function resolve(version: number, outcome: 'applied' | 'rolled-back'): Promise<HistoryChangeReport> {
    const migrations = await load();
    return withConnection((c, table) => withLock(c, table, async (ctx, history) => {
      const row = history.find((r) => r.version === version);
      if (!row || row.status === 'applied') {
        const failed = history.filter((r) => r.status !== 'applied').map((r) => r.version);
        throw new ConfigError('ERR_USAGE', `migration ${version} is ${row ? 'applied, not failed' : 'not in the history table'}: there is nothing to resolve. ` +
          (failed.length ? `Failed or interrupted: ${failed.join(', ')}.` : 'No migration is failed.'));
      }
      if (outcome === 'applied') {
        const m = migrations.find((x) => x.version === version);
        await ctx.driver.updateHistory(table, version, { status: 'applied', ...(m ? { checksum: m.checksum, statementsApplied: m.statements.length } : {}) });
        return report('resolve', version, row.name, `${row.status} -> applied`);
      }
      if (!(await ctx.driver.deleteHistory(table, version, ctx.lockKey))) {
        throw new OutcomeUnknownError('ERR_LOCK_LOST', `the migration lock was lost before the row of migration ${version} could be removed; run resolve again`);
      }
      return report('resolve', version, row.name, `${row.status} -> rolled back (row removed; the migration will run again)`);
    }));
  }

  async function baseline(target: number | BaselineFrom): Promise<HistoryChangeReport[]> {
    if (typeof target !== 'number') return adopt(target);
    const version = target;
    const migrations = await load();
    if (!migrations.some((m) => m.version === version)) {
      throw new ConfigError('ERR_USAGE', `baseline ${version}: no migration has that version in ${settings.dir}`);
    }
    return withConnection((c, table) => withLock(c, table, (ctx, history) =>
      recordApplied(ctx, history, migrations, migrations.filter((m) => m.version <= version), (m) => `recorded as applied without running ${m.up.fileName}`),
    undefined, 'adopt'));
  }

  /** `baseline --from`: records what another tool's history covers. Its table is only read, so going back stays possible. */
  async function adopt(request: BaselineFrom): Promise<HistoryChangeReport[]> {
    checkBaselineFrom(request);
    const migrations = await load();
    return withConnection(async (c, table) => {
      // Everything is decided before the lock creates berth's table, which must stay absent when
      // adoption is refused (it is what makes migrate look for another tool's history). Berth's
      // own table is read first, so a --table that is not berth's is the error reported.
      await c.driver.readHistory(table);
      const foreign = await findAdoptable(c.driver, candidateSchemas(table.schema, c.server.currentSchema), request);
      const covered = adoptedMigrations(foreign, migrations, settings.dir);
      const gaps = notRecorded(foreign, migrations);
      if (gaps.length) {
        emit({ event: 'plan.warning', code: 'W_ADOPT_NOT_RECORDED',
          message: `${gaps.length} migration(s) older than the newest one ${foreign.tool} recorded were not recorded by it and stay pending: ` +
            `${gaps.slice(0, 10).map((m) => m.up.fileName).join(', ')}${gaps.length > 10 ? ', …' : ''}. berth migrate refuses them as out of order ` +
            'until you decide: --allow-out-of-order applies them, berth baseline <version> records them if they are in place already' });
      }
      const labels = new Map(foreign.versions.map((v) => [v.version, v.label]));
      const source = (m: Migration) => foreign.tool === 'golang-migrate'
        ? `golang-migrate ${describeState(foreign)}`
        : `${foreign.tool} recorded ${labels.get(m.version)}`;
      return withLock(c, table, (ctx, history) =>
        recordApplied(ctx, history, migrations, covered, (m) => `recorded as applied without running ${m.up.fileName} (${source(m)} in ${foreign.table})`),
      undefined, 'adopt');
    });
  }

  /** Inserts an applied row for each of `candidates` not in the history yet, with the file's current checksum. */
  async function recordApplied(ctx: ApplyContext, history: readonly HistoryRow[], migrations: readonly Migration[],
    candidates: readonly Migration[], change: (m: Migration) => string): Promise<HistoryChangeReport[]> {
    const known = new Set(history.map((r) => r.version));
    const recorded = candidates.filter((m) => !known.has(m.version));
    checkUnverified(migrations, history);
    const changes: HistoryChangeReport[] = [];
    for (const m of recorded) {
      if (!(await ctx.driver.insertHistory(ctx.table, {
        version: m.version, name: m.name, checksum: m.checksum, status: 'applied', statementsApplied: 0,
        statementsTotal: m.statements.length, durationMs: 0, host: settings.host, berthVersion: BERTH_VERSION,
      }, ctx.lockKey))) {
        throw new OutcomeUnknownError('ERR_LOCK_LOST', 'the migration lock was lost during baseline; run it again');
      }
      changes.push(report('baseline', m.version, m.name, change(m)));
    }
    return changes;
  }

  function report(command: 'repair' | 'resolve' | 'baseline', version: number, name: string, change: string): HistoryChangeReport {
    emit({ event: 'history.changed', command, version, name, change });
    return { version, name, change };
  }

  /** Each code module is imported once per migrator (importing runs its top-level code). */
  const codeModules = new Map<number, Promise<CodeMigration<MigrationContext>>>();
  function loadCode(m: Migration): Promise<CodeMigration<MigrationContext>> {
    let module = codeModules.get(m.version);
    if (!module) {
      module = import('../source/load-module.js').then(({ loadCodeMigration }) => loadCodeMigration<MigrationContext>(m.up.path));
      codeModules.set(m.version, module);
    }
    return module;
  }

  function reportDryRun(p: Plan, table: string): UpResult {
    emit({ event: 'plan.ready', current: p.current, pending: p.pending.length, toApply: p.toApply.length, dryRun: true, table });
    for (const m of p.toApply) emit({ event: 'migration.planned', ...describe(m), transaction: !m.directives.noTransaction });
    return { applied: [], planned: p.toApply.map(describe), current: p.current, pending: p.pending.length, lockWaitMs: 0, dryRun: true };
  }

  /** A file with no statement (empty, or only comments) is recorded as applied: say so. */
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

  async function check(checkOptions: { expect?: number } = {}): Promise<CheckResult> {
    const migrations = await load();
    const newest = migrations.at(-1);
    // A readiness probe's common answer, as in up(): the history is exactly the files.
    const report = await withConnection(async (c, table) => {
      if (newest && (checkOptions.expect ?? 0) <= newest.version && await c.driver.historyMatches(table, migrations)) {
        checkUnverified(migrations, undefined);
        return newest.version;
      }
      return statusOf(migrations, c, table);
    });
    if (typeof report === 'number') return { current: report, upToDate: true, pending: 0 };
    const reasons: string[] = [];
    if (report.failed.length) reasons.push(`migration ${report.failed.map((f) => f.version).join(', ')} failed`);
    if (report.drifted.length) reasons.push(`migration ${report.drifted.map((f) => f.version).join(', ')} changed after it was applied`);
    if (report.missing.length) reasons.push(`applied migration ${report.missing.map((f) => f.version).join(', ')} is missing from the directory`);
    if (report.pending.length) reasons.push(`${report.pending.length} migration(s) pending, the first ${report.pending[0]?.version}`);
    if (checkOptions.expect !== undefined && (report.current === null || report.current < checkOptions.expect)) {
      reasons.push(`schema is at ${report.current ?? 'no version'}, expected at least ${checkOptions.expect}`);
    }
    return {
      current: report.current,
      upToDate: reasons.length === 0,
      pending: report.pending.length,
      ...(reasons.length ? { reason: reasons.join('; ') } : {}),
    };
  }

  async function awaitSchema(awaitOptions: AwaitOptions): Promise<AwaitResult> {
    const timeoutMs = typeof awaitOptions.timeout === 'number' ? awaitOptions.timeout : parseDuration(awaitOptions.timeout);
    if (timeoutMs === undefined) throw new ConfigError('ERR_CONFIG_INVALID', `timeout: "${String(awaitOptions.timeout)}" is not a duration`);
    let expected = awaitOptions.version;
    if (expected === undefined) {
      const migrations = await load();
      const newest = migrations.at(-1);
      if (!newest) throw new ConfigError('ERR_CONFIG_INVALID', `${settings.dir} holds no migrations: pass --version, or point --dir at this build's migrations`);
      expected = newest.version;
    }
    const signal = awaitOptions.signal ?? options.signal;
    const pollMs = awaitOptions.pollMs ?? 250;
    const started = Date.now();
    const deadline = started + timeoutMs;
    let current: number | null = null;
    let reason = 'not checked yet';
    let lastReport = -Infinity;
    const report = () => {
      const waitedMs = Date.now() - started;
      if (waitedMs - lastReport < 5_000) return;
      lastReport = waitedMs;
      emit({ event: 'await.waiting', current, expected: expected!, waitedMs, reason });
    };
    while (true) {
      let connection: Connection | undefined;
      try {
        // One attempt at a time: a database that is down, still being created, or refusing this
        // role yet (an init script has not run) is all "not there yet" until the deadline.
        connection = await connect({
          databaseUrl: settings.databaseUrl, waitMs: 0, statementTimeoutMs: settings.statementTimeoutMs,
          applicationName: `berth/${BERTH_VERSION}/${settings.host}`.slice(0, 63), ssl: settings.ssl,
          onEvent: (e) => { if (e.event !== 'connect.attempt' && e.event !== 'connect.ok') emit(e); },
          embedded,
          ...(signal ? { signal } : {}),
        }).catch((err: unknown) => {
          if (err instanceof ConfigError) throw err;
          reason = err instanceof Error ? err.message : String(err);
          return undefined;
        });
        const table = connection ? { schema: settings.schema ?? connection.server.currentSchema ?? 'public', table: settings.table } : undefined;
        while (connection && table) {
          const state = await connection.driver.readCurrentVersion(table);
          current = state?.current ?? null;
          if (current !== null && current >= expected) {
            const waitedMs = Date.now() - started;
            emit({ event: 'await.reached', current, expected, waitedMs });
            return { current, expected, waitedMs };
          }
          reason = state === null ? `${table.schema}.${table.table} does not exist yet` : `schema is at ${current ?? 'no version'}${state.unsettled ? ' (a failed migration awaits berth resolve)' : ''}`;
          if (Date.now() >= deadline) break;
          report();
          await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())), signal);
        }
      } catch (err) {
        if (err instanceof ConfigError || (signal?.aborted && err === signal.reason)) throw err;
        reason = err instanceof Error ? err.message : String(err);
      } finally {
        await connection?.driver.close();
      }
      if (Date.now() >= deadline) break;
      report();
      await sleep(Math.min(pollMs * 2, Math.max(1, deadline - Date.now())), signal);
    }
    throw new UnreachableError('ERR_AWAIT_TIMEOUT',
      `the schema did not reach version ${expected} within ${formatDuration(timeoutMs)}: it is at ${current ?? 'no version'} (${reason}). ` +
      'Is the migration Job running? berth await never migrates.', { details: { current, expected } });
  }

  async function wait(): Promise<void> {
    await withConnection(async () => undefined);
  }

  async function close(): Promise<void> {
    await Promise.all([...open].map((c) => c.driver.close()));
    const sessions = [...embedded.values()];
    embedded.clear();
    await Promise.all(sessions.map((s) => s.then((session) => session.end(), () => undefined)));
  }

  return Object.freeze({ status, up, down, validate, repair, resolve, baseline, check, awaitSchema, wait, close });
}

function failOnProblems(p: Plan): void {
  if (p.problems.length === 0) return;
  throw new ValidationError('ERR_VALIDATION_FAILED',
    `validation failed, nothing was changed:\n${p.problems.map((x) => `  - ${x.message}`).join('\n')}`,
    { details: { problems: p.problems } });
}

/** Each step with its place in the run, for progress (n of N). */
function numbered(steps: readonly Step[]): Step[] {
  return steps.map((step, i) => ({ ...step, position: { index: i + 1, total: steps.length } }));
}

function toPlanned(m: Migration): PlannedMigration {
  return { version: m.version, name: m.name, file: m.up.fileName, path: m.up.path, sql: m.sql, noTransaction: m.directives.noTransaction };
}

function describe(m: Migration): { version: number; name: string; file: string } {
  return { version: m.version, name: m.name, file: m.up.fileName };
}

function toStatus(p: Plan): StatusReport {
  const row = (r: HistoryRow, file?: string): StatusEntry => ({
    version: r.version, name: r.name, ...(file ? { file } : {}), status: r.status, appliedAt: r.appliedAt.toISOString(),
    durationMs: r.durationMs, checksum: r.checksum, statementsApplied: r.statementsApplied, statementsTotal: r.statementsTotal,
  });
  return {
    current: p.current,
    applied: p.applied.map((a) => row(a.row, a.migration?.up.fileName)),
    pending: p.pending.map((m) => ({ version: m.version, name: m.name, file: m.up.fileName })),
    failed: p.failed.map((r) => row(r)),
    drifted: p.drifted.map((a) => ({ ...row(a.row, a.migration?.up.fileName), fileChecksum: a.migration?.checksum })),
    missing: p.missing.map((r) => row(r)),
    ahead: p.ahead.map((r) => row(r)),
  };
}

function settle(o: MigratorOptions): Settings {
  const problems: string[] = [];
  const duration = (key: string, value: string | number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const ms = typeof value === 'number' ? value : parseDuration(value);
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
      problems.push(`${key}: "${String(value)}" is not a duration (use 500ms, 30s, 5m, 1h or seconds)`);
      return fallback;
    }
    return ms;
  };
  const table = o.table ?? DEFAULT_TABLE;
  if (!IDENTIFIER.test(table)) problems.push(`table: "${table}" is not a valid identifier (letters, digits, _; at most 63; not starting with a digit)`);
  if (o.schema !== undefined && !IDENTIFIER.test(o.schema)) problems.push(`schema: "${o.schema}" is not a valid identifier`);
  const settings: Settings = {
    databaseUrl: typeof o.databaseUrl === 'function' ? o.databaseUrl : () => o.databaseUrl as string,
    dir: resolve(o.dir ?? DEFAULT_DIR),
    table,
    schema: o.schema,
    allowEmpty: o.allowEmpty ?? false,
    waitMs: duration('wait', o.wait, 0),
    lockTimeoutMs: duration('lockTimeout', o.lockTimeout, DEFAULT_LOCK_TIMEOUT_MS),
    statementTimeoutMs: duration('statementTimeout', o.statementTimeout, 0),
    host: o.host ?? hostname(),
    ssl: { ...(o.sslmode ? { mode: o.sslmode } : {}), ...(o.sslrootcert ? { rootcert: o.sslrootcert } : {}), override: o.sslOverridesUrl ?? false },
  };
  if (typeof o.databaseUrl !== 'function' && !o.databaseUrl) problems.push('databaseUrl: missing');
  if (problems.length) throw new ConfigError('ERR_CONFIG_INVALID', `invalid migrator options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return Object.freeze(settings);
}

