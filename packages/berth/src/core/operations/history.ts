import type { ApplyContext } from '../apply.js';
import type { HistoryChangeReport } from '../api.js';
import { adoptedMigrations, candidateSchemas, checkBaselineFrom, describeState, findAdoptable, notRecorded, type BaselineFrom } from '../adopt.js';
import { baselineCandidates, plan, unknownVersion } from '../plan.js';
import type { Session } from '../session.js';
import type { HistoryRow } from '../../drivers/driver.js';
import { ConfigError, OutcomeUnknownError } from '../../errors.js';
import type { Migration } from '../../source/types.js';
import { BERTH_VERSION } from '../../version.js';

/*
 * The commands that change history rows without running migrations, under the lock: each prints
 * every change it makes (SPEC §4.3, §4.4, §5).
 */

/** `repair`: rewrites the stored checksums of drifted migrations to match their files. */
export async function repair(session: Session): Promise<HistoryChangeReport[]> {
  const migrations = await session.load();
  return session.withConnection((c, table) => session.withLock(c, table, async (ctx, history) => {
    const changes: HistoryChangeReport[] = [];
    for (const entry of plan({ migrations, history, allowOutOfOrder: true }).drifted) {
      const m = entry.migration!;
      if (!(await ctx.driver.writeHistory(table, { update: m.version, set: { checksum: m.checksum } }, ctx.lockKey))) throw historyLockLost('repair');
      changes.push(session.report('repair', m.version, m.name, `checksum ${entry.row.checksum.slice(0, 12)} -> ${m.checksum.slice(0, 12)} (${m.up.fileName})`));
    }
    return changes;
  }));
}

/** `resolve`: settles a failed or interrupted migration after the operator inspected the database. */
export async function resolve(session: Session, version: number, outcome: 'applied' | 'rolled-back'): Promise<HistoryChangeReport> {
  const migrations = await session.load();
  return session.withConnection((c, table) => session.withLock(c, table, async (ctx, history) => {
    const row = history.find((r) => r.version === version);
    if (!row || row.status === 'applied') {
      const failed = history.filter((r) => r.status !== 'applied').map((r) => r.version);
      throw new ConfigError('ERR_USAGE', `migration ${version} is ${row ? 'applied, not failed' : 'not in the history table'}: there is nothing to resolve. ` +
        (failed.length ? `Failed or interrupted: ${failed.join(', ')}.` : 'No migration is failed.'));
    }
    if (outcome === 'applied') {
      const m = migrations.find((x) => x.version === version);
      const set = { status: 'applied' as const, ...(m ? { checksum: m.checksum, statementsApplied: m.statements.length } : {}) };
      if (!(await ctx.driver.writeHistory(table, { update: version, set }, ctx.lockKey))) throw historyLockLost('resolve');
      return session.report('resolve', version, row.name, `${row.status} -> applied`);
    }
    if (!(await ctx.driver.writeHistory(table, { delete: version }, ctx.lockKey))) throw historyLockLost('resolve');
    return session.report('resolve', version, row.name, `${row.status} -> rolled back (row removed; the migration will run again)`);
  }));
}

/** `baseline <version>` records every migration up to it as applied; `baseline --from <tool>` adopts another tool's history. */
export async function baseline(session: Session, target: number | BaselineFrom): Promise<HistoryChangeReport[]> {
  if (typeof target !== 'number') return adopt(session, target);
  const version = target;
  const migrations = await session.load();
  const unknown = unknownVersion('baseline', version, migrations);
  if (unknown) throw new ConfigError('ERR_USAGE', `${unknown} in ${session.settings.dir}`);
  return session.withConnection((c, table) => session.withLock(c, table, (ctx, history) =>
    recordApplied(session, ctx, history, migrations, baselineCandidates(migrations, history, version), (m) => `recorded as applied without running ${m.up.fileName}`),
  { foreign: 'adopt' }));
}

/** `baseline --from`: records what another tool's history covers. Its table is only read, so going back stays possible. */
async function adopt(session: Session, request: BaselineFrom): Promise<HistoryChangeReport[]> {
  checkBaselineFrom(request);
  const migrations = await session.load();
  return session.withConnection(async (c, table) => {
    // Everything is decided before the lock creates berth's table, which must stay absent when
    // adoption is refused (it is what makes migrate look for another tool's history). Berth's
    // own table is read first, so a --table that is not berth's is the error reported.
    await c.driver.readHistory(table);
    const foreign = await findAdoptable(c.driver, candidateSchemas(table.schema, c.server.currentSchema), request);
    const covered = adoptedMigrations(foreign, migrations, session.settings.dir);
    const gaps = notRecorded(foreign, migrations);
    if (gaps.length) {
      session.emit({ event: 'plan.warning', code: 'W_ADOPT_NOT_RECORDED',
        message: `${gaps.length} migration(s) older than the newest one ${foreign.tool} recorded were not recorded by it and stay pending: ` +
          `${gaps.slice(0, 10).map((m) => m.up.fileName).join(', ')}${gaps.length > 10 ? ', …' : ''}. berth migrate refuses them as out of order ` +
          'until you decide: --allow-out-of-order applies them, berth baseline <version> records them if they are in place already' });
    }
    const labels = new Map(foreign.versions.map((v) => [v.version, v.label]));
    const source = (m: Migration) => foreign.tool === 'golang-migrate'
      ? `golang-migrate ${describeState(foreign)}`
      : `${foreign.tool} recorded ${labels.get(m.version)}`;
    return session.withLock(c, table, (ctx, history) => {
      const known = new Set(history.map((r) => r.version));
      return recordApplied(session, ctx, history, migrations, covered.filter((m) => !known.has(m.version)),
        (m) => `recorded as applied without running ${m.up.fileName} (${source(m)} in ${foreign.table})`);
    }, { foreign: 'adopt' });
  });
}

/** Inserts an applied row for each of `recorded`, with the file's current checksum. */
async function recordApplied(session: Session, ctx: ApplyContext, history: readonly HistoryRow[], migrations: readonly Migration[],
  recorded: readonly Migration[], change: (m: Migration) => string): Promise<HistoryChangeReport[]> {
  session.checkUnverified(migrations, history);
  const changes: HistoryChangeReport[] = [];
  for (const m of recorded) {
    const row = {
      version: m.version, name: m.name, checksum: m.checksum, status: 'applied' as const, statementsApplied: 0,
      statementsTotal: m.statements.length, durationMs: 0, host: session.settings.host, berthVersion: BERTH_VERSION, release: ctx.release,
    };
    if (!(await ctx.driver.writeHistory(ctx.table, { insert: row }, ctx.lockKey))) throw historyLockLost('baseline');
    changes.push(session.report('baseline', m.version, m.name, change(m)));
  }
  return changes;
}

/** A history change of repair, resolve or baseline found the lock gone: nothing more was changed. */
function historyLockLost(command: 'repair' | 'resolve' | 'baseline'): OutcomeUnknownError {
  return new OutcomeUnknownError('ERR_LOCK_LOST', `the migration lock was lost during ${command}; the changes it printed were made, nothing after them. Run it again.`);
}
