import type { CheckResult, StatusEntry, StatusReport } from '../api.js';
import type { Connection } from '../connect.js';
import { currentness, plan, type Plan } from '../plan.js';
import { failOnProblems, type Session } from '../session.js';
import type { HistoryRow, HistoryTable } from '../../drivers/driver.js';
import type { Migration } from '../../source/types.js';

/** `status`: applied, pending, failed, drifted and missing migrations (SPEC §5). */
export async function status(session: Session): Promise<StatusReport> {
  const migrations = await session.load();
  return session.withConnection(async (c, table) => toStatus(await planned(session, migrations, c, table)));
}

/** `validate`: exit 5 with every problem of files and history; the status otherwise. */
export async function validate(session: Session, options: { allowOutOfOrder?: boolean } = {}): Promise<StatusReport> {
  const migrations = await session.load();
  return session.withConnection(async (c, table) => {
    const p = await planned(session, migrations, c, table, options.allowOutOfOrder ?? false);
    failOnProblems(p);
    session.warnAhead(p);
    return toStatus(p);
  });
}

/** `check`: whether the schema is current, for readiness probes and CI. */
export async function check(session: Session, options: { expect?: number } = {}): Promise<CheckResult> {
  const migrations = await session.load();
  const newest = migrations.at(-1);
  return session.withConnection(async (c, table) => {
    // A readiness probe's common answer, as in up(): the history is exactly the files.
    if (newest && (options.expect ?? 0) <= newest.version && (await c.driver.historySummary(table, migrations))?.matches) {
      session.checkUnverified(migrations, undefined);
      return { current: newest.version, upToDate: true, pending: 0 };
    }
    const p = await planned(session, migrations, c, table);
    const { upToDate, reasons } = currentness(p, options.expect);
    return { current: p.current, upToDate, pending: p.pending.length, ...(reasons.length ? { reason: reasons.join('; ') } : {}) };
  });
}

/** The plan of the files against the history, once the files are known to be valid: `status` refuses what `migrate` refuses. */
async function planned(session: Session, migrations: readonly Migration[], c: Connection, table: HistoryTable, allowOutOfOrder = false): Promise<Plan> {
  const history = (await session.readHistoryOrRefuse(c, table, migrations)) ?? [];
  session.checkUnverified(migrations, history);
  return plan({ migrations, history, allowOutOfOrder });
}

function toStatus(p: Plan): StatusReport {
  const row = (r: HistoryRow, file?: string): StatusEntry => ({
    version: r.version, name: r.name, ...(file ? { file } : {}), status: r.status, appliedAt: r.appliedAt.toISOString(),
    durationMs: r.durationMs, checksum: r.checksum, statementsApplied: r.statementsApplied, statementsTotal: r.statementsTotal, release: r.release,
  });
  // The newest row that records a backup: the one an operator restores from (docs/backup-and-restore.md).
  const backedUp = [...p.applied.map((a) => a.row), ...p.failed].filter((r) => r.backup !== null)
    .sort((a, b) => b.appliedAt.getTime() - a.appliedAt.getTime() || b.version - a.version)[0];
  return {
    current: p.current,
    applied: p.applied.map((a) => row(a.row, a.migration?.up.fileName)),
    pending: p.pending.map((m) => ({ version: m.version, name: m.name, file: m.up.fileName })),
    failed: p.failed.map((r) => row(r)),
    drifted: p.drifted.map((a) => ({ ...row(a.row, a.migration?.up.fileName), fileChecksum: a.migration?.checksum })),
    missing: p.missing.map((r) => row(r)),
    ahead: p.ahead.map((r) => row(r)),
    lastBackup: backedUp ? { location: backedUp.backup!, version: backedUp.version, appliedAt: backedUp.appliedAt.toISOString() } : null,
  };
}
