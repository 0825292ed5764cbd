import { commit, runInTransaction, upStep, type Step } from '../apply.js';
import type { AppliedMigration, ApplyTarget, PlannedMigration, UpOptions, UpResult } from '../api.js';
import type { Connection } from '../connect.js';
import { plan, singleTransactionConflict, unknownVersion, type Plan } from '../plan.js';
import { backupWanted, checkBackupOptions, runBackup } from '../backup.js';
import { failOnProblems, type Session } from '../session.js';
import { parseDatabaseUrl } from '../../drivers/registry.js';
import type { HistoryRow } from '../../drivers/driver.js';
import { ConfigError } from '../../errors.js';
import type { Migration } from '../../source/types.js';

/** How often the session is used while a backup runs (see beforeWrite): well within MySQL's 60 s idle limit. */
const BACKUP_KEEPALIVE_MS = 10_000;

/** `migrate`: applies pending migrations under the lock (SPEC §4.1–4.4). */
export async function up(session: Session, upOptions: UpOptions = {}): Promise<UpResult> {
  const { emit } = session;
  const migrations = await session.load();
  const unknown = upOptions.to === undefined ? undefined : unknownVersion('migrate', upOptions.to, migrations);
  if (unknown) throw new ConfigError('ERR_USAGE', `${unknown} in ${session.settings.dir}`);
  const planOf = (history: readonly HistoryRow[]) => plan({
    migrations, history,
    ...(upOptions.to === undefined ? {} : { target: upOptions.to }),
    allowOutOfOrder: upOptions.allowOutOfOrder ?? false,
  });
  const { backup } = upOptions;
  if (backup) checkBackupOptions(backup, parseDatabaseUrl(await session.settings.databaseUrl()));
  const always = backup?.when === 'always' && !upOptions.dryRun;
  return session.withConnection(async (c, table) => {
    const tableName = `${table.schema}.${table.table}`;
    const upToDate = (p: Pick<Plan, 'current' | 'pending' | 'ahead'>, lockWaitMs: number): UpResult => {
      session.warnAhead(p);
      emit({ event: 'plan.ready', current: p.current, pending: p.pending.length, toApply: 0, dryRun: false, table: tableName });
      return { applied: [], planned: [], current: p.current, pending: p.pending.length, lockWaitMs, dryRun: false };
    };
    // The history is exactly the files, all applied, checksums included: nothing to do. Every
    // pod start ends here, with no lock, no write and no history rows to read.
    const newest = migrations.at(-1);
    const ifAllApplied = async (lockWaitMs: number): Promise<UpResult | undefined> => {
      if (!newest || (upOptions.to ?? Infinity) < newest.version || !(await c.driver.historySummary(table, migrations))?.matches) return undefined;
      session.checkUnverified(migrations, undefined);
      return upToDate({ current: newest.version, pending: [], ahead: [] }, lockWaitMs);
    };
    // --backup-when always: every run backs up, under the lock, whatever is pending.
    const noOp = upOptions.dryRun || always ? undefined : await ifAllApplied(0);
    if (noOp) {
      await session.warnIfTransactionPooler(c);
      return noOp;
    }
    // Optimistic read without the lock: anything else is decided again under the lock.
    const before = await session.readHistoryOrRefuse(c, table, migrations);
    const optimistic = planOf(before ?? []);
    session.checkUnverified(migrations, before ?? []);
    if (upOptions.dryRun) {
      failOnProblems(optimistic);
      session.warnEmpty(optimistic.toApply);
      if (optimistic.toApply.length) await upOptions.beforeApply?.(optimistic.toApply.map(toPlanned), applyTarget(c, before?.length ?? 0));
      emit({ event: 'plan.ready', current: optimistic.current, pending: optimistic.pending.length, toApply: optimistic.toApply.length, dryRun: true, table: tableName });
      for (const m of optimistic.toApply) emit({ event: 'migration.planned', ...describe(m), transaction: !m.directives.noTransaction });
      return { applied: [], planned: optimistic.toApply.map(describe), current: optimistic.current, pending: optimistic.pending.length, lockWaitMs: 0, dryRun: true };
    }
    if (before !== null && optimistic.problems.length === 0 && optimistic.toApply.length === 0 && !always) return upToDate(optimistic, 0);
    if (upOptions.singleTransaction && !c.driver.capabilities.transactionalDdl) {
      throw new ConfigError('ERR_USAGE', '--single-transaction needs a database whose DDL is transactional; this one commits every DDL statement at once. ' +
        'Run without --single-transaction: each migration is then recorded as it goes. Nothing was changed.');
    }
    // While another runner holds the lock: once the schema has reached the last version this
    // run would apply, re-plan without the lock; up to date means done, as at the start.
    const last = optimistic.toApply.at(-1)?.version ?? Infinity;
    const doneByAnother = async (): Promise<UpResult | undefined> => {
      const state = await c.driver.historySummary(table);
      if (state === null || state.unsettled || state.current === null || state.current < last) return undefined;
      const done = await ifAllApplied(Date.now() - lockStarted);
      if (done) return done;
      const p = planOf((await c.driver.readHistory(table)) ?? []);
      return p.problems.length === 0 && p.toApply.length === 0 ? upToDate(p, Date.now() - lockStarted) : undefined;
    };
    // Code migrations about to run are imported now, before the lock and before any write, so
    // a module that does not load stops the run with nothing changed (SPEC §4.4).
    await Promise.all(optimistic.toApply.filter((m) => m.kind === 'code').map(session.loadCode));
    const lockStarted = Date.now();
    let current: Plan;
    let lockWaitMs = 0;
    // Everything that decides whether to go on, then the backup: under the lock, before any write.
    const beforeWrite = async (history: HistoryRow[]): Promise<{ backup?: string }> => {
      lockWaitMs = Date.now() - lockStarted;
      current = planOf(history);
      session.checkUnverified(migrations, history);
      failOnProblems(current);
      session.warnAhead(current);
      emit({ event: 'plan.ready', current: current.current, pending: current.pending.length, toApply: current.toApply.length, dryRun: false, table: tableName });
      const conflict = upOptions.singleTransaction ? singleTransactionConflict(current.toApply) : undefined;
      if (conflict) {
        throw new ConfigError('ERR_USAGE', `--single-transaction cannot include ${conflict.migration.up.fileName}: ${conflict.why}. Run without --single-transaction, or --to the version before it.`);
      }
      session.warnEmpty(current.toApply);
      if (current.toApply.length) await upOptions.beforeApply?.(current.toApply.map(toPlanned), applyTarget(c, history.length));
      const irreversible = current.toApply.some((m) => m.directives.noTransaction || !c.driver.capabilities.transactionalDdl);
      if (!backup || !backupWanted(backup, current.toApply.length, irreversible)) return {};
      // A dump takes minutes where berth's session would sit idle, and a server ends an idle
      // session (MySQL's wait_timeout: 60 s), the lock with it: a cheap read now and then keeps it.
      const keepAlive = setInterval(() => void c.driver.historySummary(table).catch(() => undefined), BACKUP_KEEPALIVE_MS);
      try {
        return {
          backup: await runBackup(backup, {
            target: c.target, url: await session.settings.databaseUrl(), from: current.current, to: current.toApply.at(-1)?.version ?? current.current,
            ...(session.settings.searchPath ? { schema: session.settings.searchPath } : {}),
            onEvent: emit, signal: session.signal,
          }),
        };
      } finally {
        clearInterval(keepAlive);
      }
    };
    return session.withLock(c, table, async (ctx) => {
      // Code is loaded before anything runs, so a broken module fails the run with nothing applied.
      const steps = numbered(await Promise.all(current.toApply.map(async (m) => upStep(m, m.kind === 'code' ? (await session.loadCode(m)).up : undefined))));
      const applied: AppliedMigration[] = [];
      if (upOptions.singleTransaction && steps.length > 0) {
        await c.driver.execute('BEGIN');
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
        applied.push(...await session.runEach(ctx, steps));
      }
      const newestApplied = current.toApply.at(-1)?.version;
      return {
        applied,
        planned: current.toApply.map(describe),
        current: newestApplied === undefined ? current.current : Math.max(newestApplied, current.current ?? 0),
        pending: current.pending.length - applied.length,
        lockWaitMs,
        dryRun: false,
      };
    }, { ...(always ? {} : { unneeded: doneByAnother }), beforeWrite });
  });
}

/** Each step with its place in the run, for progress (n of N). */
export function numbered(steps: readonly Step[]): Step[] {
  return steps.map((step, i) => ({ ...step, position: { index: i + 1, total: steps.length } }));
}

/** What `beforeApply` is told of the database, with `recorded` history rows. */
function applyTarget(c: Connection, recorded: number): ApplyTarget {
  return { recorded, serverVersionNum: c.server.serverVersionNum, dialect: c.dialect.name, lintable: c.dialect.lint };
}

function toPlanned(m: Migration): PlannedMigration {
  return { version: m.version, name: m.name, file: m.up.fileName, path: m.up.path, sql: m.sql, noTransaction: m.directives.noTransaction };
}

function describe(m: Migration): { version: number; name: string; file: string } {
  return { version: m.version, name: m.name, file: m.up.fileName };
}
