import type { HistoryRow } from '../drivers/driver.js';
import type { Migration } from '../source/types.js';

/**
 * Planning is pure: files + history rows + options in, the plan out. No database, file system or
 * clock (STYLE §4), so every drift and ordering rule is unit-tested with plain data.
 */

export interface PlanInput {
  readonly migrations: readonly Migration[];
  /** History rows; empty when the table does not exist yet. */
  readonly history: readonly HistoryRow[];
  /** `--to`: apply nothing above this version. */
  readonly target?: number;
  readonly allowOutOfOrder?: boolean;
}

export type ProblemKind = 'failed' | 'drifted' | 'missing' | 'out-of-order';

export interface PlanProblem {
  readonly kind: ProblemKind;
  readonly version: number;
  readonly name: string;
  /** The file concerned, when there is one. */
  readonly file?: string;
  /** A complete sentence: what is wrong and what to do next. */
  readonly message: string;
}

export interface AppliedEntry {
  readonly row: HistoryRow;
  /** The matching file, or undefined when it is gone from the directory. */
  readonly migration?: Migration;
}

export interface Plan {
  /** Highest version with status `applied`, or null. */
  readonly current: number | null;
  readonly applied: readonly AppliedEntry[];
  /** Every migration with no history row, in version order. */
  readonly pending: readonly Migration[];
  /** The migrations `up` would run now, in order (pending, up to the target). */
  readonly toApply: readonly Migration[];
  /** Rows left `started` or `failed` by an interrupted or failed no-transaction migration. */
  readonly failed: readonly HistoryRow[];
  readonly drifted: readonly AppliedEntry[];
  /** Applied rows whose file is gone although a newer file exists. */
  readonly missing: readonly HistoryRow[];
  /** Applied rows newer than every file: an older release running after a newer one. */
  readonly ahead: readonly HistoryRow[];
  /** Everything that stops `migrate` and `validate` (exit 5). */
  readonly problems: readonly PlanProblem[];
}

export function plan(input: PlanInput): Plan {
  const migrations = [...input.migrations].sort((a, b) => a.version - b.version);
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const rowsByVersion = new Map(input.history.map((r) => [r.version, r]));
  const newestFile = migrations.reduce((max, m) => Math.max(max, m.version), -Infinity);
  // Only applied rows order the pending ones: a failed row is reported as failed, not as "applied".
  const newestRow = input.history.reduce((max, r) => (r.status === 'applied' ? Math.max(max, r.version) : max), -Infinity);

  const applied: AppliedEntry[] = [];
  const failed: HistoryRow[] = [];
  const drifted: AppliedEntry[] = [];
  const missing: HistoryRow[] = [];
  const ahead: HistoryRow[] = [];
  const problems: PlanProblem[] = [];
  let current: number | null = null;

  for (const row of [...input.history].sort((a, b) => a.version - b.version)) {
    const migration = byVersion.get(row.version);
    if (row.status !== 'applied') {
      failed.push(row);
      problems.push({
        kind: 'failed',
        version: row.version,
        name: row.name,
        ...(migration ? { file: migration.up.fileName } : {}),
        message: `migration ${row.version} (${migration?.up.fileName ?? row.name}) is ${row.status === 'started' ? 'marked started: it was interrupted' : 'marked failed'} after ` +
          `${row.statementsApplied ?? '?'} of ${row.statementsTotal ?? '?'} statements and was not rolled back. Inspect the database, then run ` +
          `"berth resolve ${row.version} --applied" if its effects are complete or "berth resolve ${row.version} --rolled-back" once you have undone them.`,
      });
      continue;
    }
    const entry: AppliedEntry = migration ? { row, migration } : { row };
    applied.push(entry);
    current = row.version;
    if (!migration) {
      if (row.version > newestFile) {
        ahead.push(row);
      } else {
        missing.push(row);
        problems.push({
          kind: 'missing',
          version: row.version,
          name: row.name,
          message: `migration ${row.version} (${row.name}) is applied but its file is missing from the directory while newer files exist. ` +
            'Restore the file (history must not be rewritten), or check that --dir points at the right folder.',
        });
      }
    } else if (migration.checksum !== row.checksum) {
      drifted.push(entry);
      problems.push({
        kind: 'drifted',
        version: row.version,
        name: row.name,
        file: migration.up.fileName,
        message: `migration ${row.version} (${migration.up.fileName}) was changed after it was applied ` +
          `(checksum ${short(row.checksum)} applied, ${short(migration.checksum)} on disk). Revert the edit and put the change in a new ` +
          'migration, or run "berth repair" if the edit is harmless (e.g. a comment).',
      });
    }
  }

  const pending = migrations.filter((m) => !rowsByVersion.has(m.version));
  for (const m of pending) {
    if (m.version < newestRow && !input.allowOutOfOrder) {
      problems.push({
        kind: 'out-of-order',
        version: m.version,
        name: m.name,
        file: m.up.fileName,
        message: `migration ${m.version} (${m.up.fileName}) is pending but version ${newestRow} is already applied. ` +
          'Give it a version above the newest applied one ("berth new" does), or run with --allow-out-of-order if applying it late is safe.',
      });
    }
  }
  const toApply = pending.filter((m) => input.target === undefined || m.version <= input.target);

  return { current, applied, pending, toApply, failed, drifted, missing, ahead, problems };
}

function short(checksum: string): string {
  return checksum.slice(0, 12);
}

export type DownTarget = { readonly steps: number } | { readonly to: number } | { readonly all: true };

/**
 * The applied migrations `down` reverts, newest first: the last `steps`, everything above `to`,
 * or all. Rows that are not `applied` never count; problems are the caller's to check first.
 */
export function planDown(p: Plan, target: DownTarget): AppliedEntry[] {
  const newestFirst = [...p.applied].sort((a, b) => b.row.version - a.row.version);
  if ('steps' in target) return newestFirst.slice(0, target.steps);
  if ('to' in target) return newestFirst.filter((e) => e.row.version > target.to);
  return newestFirst;
}

/**
 * `--to <version>` (of `migrate` or `down`) and `baseline <version>`: a version that names no
 * migration is a usage error, whose message this returns; undefined when the version is known (a
 * file, or for `down` also a history row). `down --to 0` means "everything above 0" even without
 * a version 0.
 */
export function unknownVersion(command: 'migrate' | 'down' | 'baseline', version: number, migrations: readonly Migration[], history: readonly HistoryRow[] = []): string | undefined {
  if (migrations.some((m) => m.version === version)) return undefined;
  if (command === 'down' && (version === 0 || history.some((r) => r.version === version))) return undefined;
  return command === 'baseline' ? `baseline ${version}: no migration has that version` : `--to ${version}: no migration has that version`;
}

/**
 * `--single-transaction` runs every pending migration in one transaction: the first one that
 * cannot run in a transaction, and why, or undefined.
 */
export function singleTransactionConflict(toApply: readonly Migration[]): { readonly migration: Migration; readonly why: string } | undefined {
  const migration = toApply.find((m) => m.directives.noTransaction);
  if (!migration) return undefined;
  const implied = migration.directives.noTransactionImpliedBy;
  return { migration, why: implied ? `its ${implied} cannot run in a transaction` : 'it is marked -- berth:no-transaction' };
}

/** `check`: whether the schema is current (nothing pending, failed, drifted or missing; at least `expect`), and why not. */
export function currentness(p: Plan, expect?: number): { readonly upToDate: boolean; readonly reasons: readonly string[] } {
  const reasons: string[] = [];
  const versions = (items: readonly { readonly version: number }[]) => items.map((i) => i.version).join(', ');
  if (p.failed.length) reasons.push(`migration ${versions(p.failed)} failed`);
  if (p.drifted.length) reasons.push(`migration ${versions(p.drifted.map((d) => d.row))} changed after it was applied`);
  if (p.missing.length) reasons.push(`applied migration ${versions(p.missing)} is missing from the directory`);
  if (p.pending.length) reasons.push(`${p.pending.length} migration(s) pending, the first ${p.pending[0]?.version}`);
  if (expect !== undefined && (p.current === null || p.current < expect)) reasons.push(`schema is at ${p.current ?? 'no version'}, expected at least ${expect}`);
  return { upToDate: reasons.length === 0, reasons };
}

/** `baseline <version>`: the migrations up to `version` that the history does not hold yet. */
export function baselineCandidates(migrations: readonly Migration[], history: readonly HistoryRow[], version: number): Migration[] {
  const known = new Set(history.map((r) => r.version));
  return migrations.filter((m) => m.version <= version && !known.has(m.version));
}

/**
 * What stops `down` before anything is reverted, as far as the files tell: an entry whose file is
 * gone, or an SQL migration without a down file. (Whether a code migration exports `down()` is
 * known once it is imported.)
 */
export function missingDowns(entries: readonly AppliedEntry[]): string[] {
  return entries.flatMap((entry) => {
    const m = entry.migration;
    if (!m) return [`${entry.row.version} (${entry.row.name}): its file is missing`];
    if (m.kind === 'sql' && !m.downSql) return [`${m.version} (${m.up.fileName}) has no ${m.up.fileName.replace(/\.up\.sql$/, '.down.sql')}`];
    return [];
  });
}
