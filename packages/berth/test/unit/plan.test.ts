import { describe, expect, it } from 'vitest';

import type { HistoryRow } from '../../src/drivers/driver.js';
import {
  baselineCandidates, currentness, missingDowns, plan, planDown, singleTransactionConflict, unknownVersion,
  type Plan, type PlanInput, type ProblemKind,
} from '../../src/core/plan.js';
import type { Migration } from '../../src/source/types.js';
import { checksumOf, migration, migrations, row, rows } from './plan-builders.js';

/** The plan reduced to versions, so a table row states the whole outcome in one line. */
interface Shape {
  current: number | null;
  applied: number[];
  pending: number[];
  toApply: number[];
  failed: number[];
  drifted: number[];
  missing: number[];
  ahead: number[];
  problems: [ProblemKind, number][];
}

function shape(p: Plan): Shape {
  return {
    current: p.current,
    applied: p.applied.map((a) => a.row.version),
    pending: p.pending.map((m) => m.version),
    toApply: p.toApply.map((m) => m.version),
    failed: p.failed.map((r) => r.version),
    drifted: p.drifted.map((a) => a.row.version),
    missing: p.missing.map((r) => r.version),
    ahead: p.ahead.map((r) => r.version),
    problems: p.problems.map((x) => [x.kind, x.version]),
  };
}

const none: Shape = {
  current: null, applied: [], pending: [], toApply: [], failed: [], drifted: [], missing: [], ahead: [], problems: [],
};

/** Frozen all the way down: the planner must not mutate what it is given. */
function frozen(input: PlanInput): PlanInput {
  const deep = <T>(value: T): T => {
    if (value && typeof value === 'object' && !(value instanceof Date)) {
      for (const v of Object.values(value)) deep(v);
      Object.freeze(value);
    }
    return value;
  };
  return deep(input);
}

const run = (input: PlanInput): Plan => plan(frozen(input));

describe('plan(): outcomes', () => {
  const cases: { title: string; input: PlanInput; expected: Partial<Shape> }[] = [
    {
      title: 'no files and no history: nothing to do',
      input: { migrations: [], history: [] },
      expected: {},
    },
    {
      title: 'empty history: every file is pending and to apply, in order',
      input: { migrations: migrations(1, 2, 3), history: [] },
      expected: { pending: [1, 2, 3], toApply: [1, 2, 3] },
    },
    {
      title: 'all applied: nothing pending, current is the newest',
      input: { migrations: migrations(1, 2, 3), history: rows(1, 2, 3) },
      expected: { current: 3, applied: [1, 2, 3] },
    },
    {
      title: 'some applied: the rest is pending in version order',
      input: { migrations: migrations(1, 2, 3, 4), history: rows(1, 2) },
      expected: { current: 2, applied: [1, 2], pending: [3, 4], toApply: [3, 4] },
    },
    {
      title: 'versions order numerically, not as text (9 before 10, timestamps after both)',
      input: { migrations: migrations(9, 10, 20260101120000), history: [] },
      expected: { pending: [9, 10, 20260101120000], toApply: [9, 10, 20260101120000] },
    },
    {
      title: 'files given out of order are still planned in version order',
      input: { migrations: [migration(3), migration(1), migration(2)], history: rows(1) },
      expected: { current: 1, applied: [1], pending: [2, 3], toApply: [2, 3] },
    },
    {
      title: 'history given out of order: current is still the highest applied version',
      input: { migrations: migrations(1, 2, 3), history: [row(3), row(1), row(2)] },
      expected: { current: 3, applied: [1, 2, 3] },
    },
    {
      title: '--to stops at the target; later files stay pending',
      input: { migrations: migrations(1, 2, 3, 4), history: rows(1), target: 3 },
      expected: { current: 1, applied: [1], pending: [2, 3, 4], toApply: [2, 3] },
    },
    {
      title: '--to at the current version applies nothing',
      input: { migrations: migrations(1, 2, 3), history: rows(1, 2), target: 2 },
      expected: { current: 2, applied: [1, 2], pending: [3], toApply: [] },
    },
    {
      title: '--to below the current version applies nothing (down is a separate command)',
      input: { migrations: migrations(1, 2, 3), history: rows(1, 2), target: 1 },
      expected: { current: 2, applied: [1, 2], pending: [3], toApply: [] },
    },
    {
      title: 'drifted checksum: a problem, still counted as applied',
      input: { migrations: migrations(1, 2, 3), history: [row(1), row(2, { checksum: checksumOf('edited') })] },
      expected: { current: 2, applied: [1, 2], drifted: [2], pending: [3], toApply: [3], problems: [['drifted', 2]] },
    },
    {
      title: 'applied but its file is gone while a newer file exists: missing (a problem)',
      input: { migrations: migrations(1, 3), history: rows(1, 2) },
      expected: { current: 2, applied: [1, 2], missing: [2], pending: [3], toApply: [3], problems: [['missing', 2]] },
    },
    {
      title: 'applied versions newer than every file: ahead, not a problem',
      input: { migrations: migrations(1, 2), history: rows(1, 2, 3, 4) },
      expected: { current: 4, applied: [1, 2, 3, 4], ahead: [3, 4] },
    },
    {
      title: 'missing and ahead together: only the gap below the newest file is a problem',
      input: { migrations: migrations(1, 3), history: rows(1, 2, 3, 5) },
      expected: { current: 5, applied: [1, 2, 3, 5], missing: [2], ahead: [5], problems: [['missing', 2]] },
    },
    {
      title: 'a failed row: a problem, neither applied nor pending, not current',
      input: { migrations: migrations(1, 2, 3), history: [row(1), row(2, { status: 'failed', statementsApplied: 1, statementsTotal: 3 })] },
      expected: { current: 1, applied: [1], failed: [2], pending: [3], toApply: [3], problems: [['failed', 2]] },
    },
    {
      title: 'a started row (interrupted no-transaction migration): a problem like failed',
      input: { migrations: migrations(1, 2), history: [row(1), row(2, { status: 'started', statementsApplied: 0, statementsTotal: 2 })] },
      expected: { current: 1, applied: [1], failed: [2], problems: [['failed', 2]] },
    },
    {
      title: 'a failed row whose file is gone is still reported as failed',
      input: { migrations: migrations(1), history: [row(1), row(2, { status: 'failed' })] },
      expected: { current: 1, applied: [1], failed: [2], problems: [['failed', 2]] },
    },
    {
      title: 'out-of-order pending migration: a problem',
      input: { migrations: migrations(1, 2, 3), history: rows(1, 3) },
      expected: { current: 3, applied: [1, 3], pending: [2], toApply: [2], problems: [['out-of-order', 2]] },
    },
    {
      title: 'out-of-order pending migration with allowOutOfOrder: no problem, it is applied',
      input: { migrations: migrations(1, 2, 3, 4), history: rows(1, 3), allowOutOfOrder: true },
      expected: { current: 3, applied: [1, 3], pending: [2, 4], toApply: [2, 4] },
    },
    {
      title: 'out-of-order against an applied row that is ahead of the files',
      input: { migrations: migrations(1, 2), history: rows(1, 5) },
      expected: { current: 5, applied: [1, 5], ahead: [5], pending: [2], toApply: [2], problems: [['out-of-order', 2]] },
    },
    {
      title: 'a pending file above the newest applied one is not out of order',
      input: { migrations: migrations(1, 2, 3), history: rows(1, 2) },
      expected: { current: 2, applied: [1, 2], pending: [3], toApply: [3] },
    },
    {
      title: 'a failed row above a pending file is not "applied": only the failure is a problem',
      input: { migrations: migrations(1, 2, 3), history: [row(1), row(3, { status: 'failed' })] },
      expected: { current: 1, applied: [1], failed: [3], pending: [2], toApply: [2], problems: [['failed', 3]] },
    },
    {
      title: 'every kind of problem at once, in version order of the history, then pending',
      input: {
        migrations: [migration(1, { checksum: checksumOf('edited') }), migration(3), migration(4), migration(6)],
        history: [row(1), row(2), row(5), row(7, { status: 'failed' }), row(8)],
      },
      expected: {
        current: 8,
        applied: [1, 2, 5, 8],
        drifted: [1],
        missing: [2, 5],
        failed: [7],
        ahead: [8],
        pending: [3, 4, 6],
        toApply: [3, 4, 6],
        problems: [['drifted', 1], ['missing', 2], ['missing', 5], ['failed', 7], ['out-of-order', 3], ['out-of-order', 4], ['out-of-order', 6]],
      },
    },
  ];

  it.each(cases)('$title', ({ input, expected }) => {
    expect(shape(run(input))).toEqual({ ...none, ...expected });
  });
});

describe('plan(): what each problem says', () => {
  const only = (input: PlanInput) => {
    const p = run(input);
    expect(p.problems).toHaveLength(1);
    return p.problems[0]!;
  };

  it('a drifted checksum names the version and the file, both checksums, and what to do', () => {
    const problem = only({ migrations: migrations(1, 20260101120000), history: [row(1), row(20260101120000, { checksum: checksumOf('old') })] });
    expect(problem).toMatchObject({ kind: 'drifted', version: 20260101120000, name: 'm20260101120000', file: '20260101120000_m20260101120000.up.sql' });
    expect(problem.message).toContain('20260101120000_m20260101120000.up.sql');
    expect(problem.message).toMatch(/\b20260101120000\b/);
    expect(problem.message).toContain(checksumOf('old').slice(0, 12));
    expect(problem.message).toContain(checksumOf('v20260101120000').slice(0, 12));
    expect(problem.message).toContain('berth repair');
  });

  it('the drifted entry keeps both the history row and the file', () => {
    const p = run({ migrations: migrations(1), history: [row(1, { checksum: checksumOf('old') })] });
    expect(p.drifted[0]!.row.checksum).toBe(checksumOf('old'));
    expect(p.drifted[0]!.migration?.checksum).toBe(checksumOf('v1'));
  });

  it('a missing file names the version and the recorded name, and what to check', () => {
    const problem = only({ migrations: migrations(1, 3), history: [row(1), row(2, { name: 'add_orders' })] });
    expect(problem).toMatchObject({ kind: 'missing', version: 2, name: 'add_orders' });
    expect(problem.message).toMatch(/\b2\b/);
    expect(problem.message).toContain('add_orders');
    expect(problem.message).toContain('--dir');
  });

  it.each([
    ['failed', 'marked failed'],
    ['started', 'interrupted'],
  ] as const)('a %s row says how to settle it with berth resolve', (status, wording) => {
    const problem = only({
      migrations: migrations(1, 2),
      history: [row(1), row(2, { status, name: 'backfill', statementsApplied: 2, statementsTotal: 5 })],
    });
    expect(problem).toMatchObject({ kind: 'failed', version: 2, name: 'backfill', file: '2_m2.up.sql' });
    expect(problem.message).toContain(wording);
    expect(problem.message).toContain('2 of 5 statements');
    expect(problem.message).toContain('berth resolve 2 --applied');
    expect(problem.message).toContain('berth resolve 2 --rolled-back');
  });

  it('a failed row without a file names the recorded name instead', () => {
    const problem = only({ migrations: migrations(1), history: [row(1), row(2, { status: 'failed', name: 'backfill' })] });
    expect(problem.file).toBeUndefined();
    expect(problem.message).toContain('backfill');
    expect(problem.message).toContain('berth resolve 2 --applied');
  });

  it('an out-of-order migration names its file, the newest applied version and the flag that allows it', () => {
    const problem = only({ migrations: migrations(1, 2, 3), history: rows(1, 3) });
    expect(problem).toMatchObject({ kind: 'out-of-order', version: 2, file: '2_m2.up.sql' });
    expect(problem.message).toContain('2_m2.up.sql');
    expect(problem.message).toContain('version 3');
    expect(problem.message).toContain('--allow-out-of-order');
  });

  it('ahead rows are reported in `ahead` with their rows, for the warning', () => {
    const p = run({ migrations: migrations(1), history: [row(1), row(2, { name: 'from_newer_release' })] });
    expect(p.problems).toEqual([]);
    expect(p.ahead.map((r: HistoryRow) => r.name)).toEqual(['from_newer_release']);
  });

  it('applied entries carry the matching file, and none when it is gone', () => {
    const p = run({ migrations: migrations(1, 3), history: rows(1, 2) });
    const byVersion = new Map(p.applied.map((a) => [a.row.version, a.migration] as [number, Migration | undefined]));
    expect(byVersion.get(1)?.up.fileName).toBe('1_m1.up.sql');
    expect(byVersion.get(2)).toBeUndefined();
  });

  it('--to does not hide problems above or below the target', () => {
    const p = run({ migrations: migrations(1, 2, 3), history: [row(1, { checksum: checksumOf('old') })], target: 2 });
    expect(p.toApply.map((m) => m.version)).toEqual([2]);
    expect(p.problems.map((x) => x.kind)).toEqual(['drifted']);
  });
});

describe('decisions of the commands', () => {
  it('unknownVersion: --to and baseline name a file; down --to may name a history row, or 0', () => {
    const files = migrations(1, 2);
    expect(unknownVersion('migrate', 2, files)).toBeUndefined();
    expect(unknownVersion('migrate', 3, files)).toBe('--to 3: no migration has that version');
    expect(unknownVersion('baseline', 0, files)).toBe('baseline 0: no migration has that version');
    expect(unknownVersion('down', 0, files)).toBeUndefined();
    expect(unknownVersion('down', 7, files, rows(7))).toBeUndefined();
    expect(unknownVersion('down', 8, files, rows(7))).toBe('--to 8: no migration has that version');
  });

  it('singleTransactionConflict: the first file that cannot run in a transaction, and why', () => {
    expect(singleTransactionConflict(migrations(1, 2))).toBeUndefined();
    const marked = migration(2, { noTransaction: true });
    const implied = migration(3, { impliedBy: 'CREATE INDEX CONCURRENTLY' });
    expect(singleTransactionConflict([migration(1), marked, implied])).toEqual({ migration: marked, why: 'it is marked -- berth:no-transaction' });
    expect(singleTransactionConflict([implied])).toEqual({ migration: implied, why: 'its CREATE INDEX CONCURRENTLY cannot run in a transaction' });
  });

  it('currentness: every reason the schema is not current, and --expect', () => {
    expect(currentness(plan({ migrations: migrations(1, 2), history: rows(1, 2) }))).toEqual({ upToDate: true, reasons: [] });
    expect(currentness(plan({ migrations: migrations(1, 2), history: rows(1, 2) }), 3)).toEqual({ upToDate: false, reasons: ['schema is at 2, expected at least 3'] });
    expect(currentness(plan({ migrations: migrations(0), history: rows(0) }), 0).upToDate).toBe(true);
    expect(currentness(plan({ migrations: migrations(0), history: [] }), 0).reasons).toEqual(['1 migration(s) pending, the first 0', 'schema is at no version, expected at least 0']);
    const p = plan({
      migrations: [migration(1, { checksum: checksumOf('edited') }), migration(3), migration(4)],
      history: [row(1), row(2), row(3, { status: 'failed' })],
    });
    expect(currentness(p).reasons).toEqual([
      'migration 3 failed', 'migration 1 changed after it was applied', 'applied migration 2 is missing from the directory', '1 migration(s) pending, the first 4',
    ]);
  });

  it('baselineCandidates: the files up to the version that the history does not hold', () => {
    expect(baselineCandidates(migrations(0, 1, 2, 3), rows(1), 2).map((m) => m.version)).toEqual([0, 2]);
  });

  it('missingDowns: a file gone, an SQL migration without a down file; code migrations are judged once imported', () => {
    const code: Migration = { ...migration(3), kind: 'code', up: { fileName: '3_code.ts', path: '/srv/migrations/3_code.ts' } };
    const p = plan({ migrations: [migration(1, { down: true }), migration(2), code], history: rows(1, 2, 3, 4) });
    expect(missingDowns(planDown(p, { all: true }))).toEqual(['4 (m4): its file is missing', '2 (2_m2.up.sql) has no 2_m2.down.sql']);
  });
});
