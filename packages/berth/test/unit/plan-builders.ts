/**
 * Small builders for the planner's input: a migration as the source layer hands it over and a
 * history row as a driver reads it. Only what a test names differs from a sensible default, so each
 * table row in plan.test.ts reads as the state it describes.
 */
import type { HistoryRow } from '../../src/drivers/driver.js';
import type { Migration } from '../../src/source/types.js';

const DIR = '/srv/migrations';

/** A stable, fake sha256-looking checksum derived from a label (64 hex characters). */
export function checksumOf(label: string): string {
  let hex = '';
  for (const ch of label) hex += ch.charCodeAt(0).toString(16).padStart(4, '0');
  return hex.padEnd(64, '0').slice(0, 64);
}

export interface MigrationSpec {
  readonly name?: string;
  /** Defaults to a checksum derived from the version, the same one `row()` stores. */
  readonly checksum?: string;
  readonly noTransaction?: boolean;
  /** Set when no directive asked for it: the command that keeps the file out of a transaction. */
  readonly impliedBy?: string;
  readonly down?: boolean;
}

/** `migration(3)` → `3_m3.up.sql` with the checksum `row(3)` records. */
export function migration(version: number, spec: MigrationSpec = {}): Migration {
  const name = spec.name ?? `m${version}`;
  const fileName = `${version}_${name}.up.sql`;
  return {
    version,
    name,
    kind: 'sql',
    up: { fileName, path: `${DIR}/${fileName}` },
    ...(spec.down ? {
      down: { fileName: `${version}_${name}.down.sql`, path: `${DIR}/${version}_${name}.down.sql` },
      downSql: { fileName: `${version}_${name}.down.sql`, sql: `SELECT -${version};`, statements: [{ sql: `SELECT -${version}`, offset: 0, line: 1, column: 1 }], directives: { noTransaction: false } },
    } : {}),
    checksum: spec.checksum ?? checksumOf(`v${version}`),
    sql: `SELECT ${version};`,
    statements: [{ sql: `SELECT ${version}`, offset: 0, line: 1, column: 1 }],
    directives: spec.impliedBy ? { noTransaction: true, noTransactionImpliedBy: spec.impliedBy } : { noTransaction: spec.noTransaction ?? false },
  };
}

export interface RowSpec {
  readonly name?: string;
  readonly checksum?: string;
  readonly status?: HistoryRow['status'];
  readonly statementsApplied?: number | null;
  readonly statementsTotal?: number | null;
}

/** `row(3)`: version 3 applied with the checksum `migration(3)` has on disk. */
export function row(version: number, spec: RowSpec = {}): HistoryRow {
  return {
    version,
    name: spec.name ?? `m${version}`,
    checksum: spec.checksum ?? checksumOf(`v${version}`),
    status: spec.status ?? 'applied',
    statementsApplied: spec.statementsApplied === undefined ? 1 : spec.statementsApplied,
    statementsTotal: spec.statementsTotal === undefined ? 1 : spec.statementsTotal,
    appliedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, version % 60)),
    durationMs: 5,
    appliedBy: 'app',
    host: 'pod-1',
    berthVersion: '0.1.0',
    release: null,
    backup: null,
  };
}

/** `migrations(1, 2, 3)` */
export const migrations = (...versions: number[]): Migration[] => versions.map((v) => migration(v));
/** `rows(1, 2)`: all applied, checksums matching `migrations(...)`. */
export const rows = (...versions: number[]): HistoryRow[] => versions.map((v) => row(v));
