import type { Shard } from './shard.js';

/**
 * What happened to one target. `applied`: migrate applied something; `unchanged`: it had nothing
 * to do; `ok`: status, check, validate or await (or a dry run) succeeded; `failed`: its error's
 * exit class says why; `interrupted`: a signal stopped it (rolled back as in a single run);
 * `skipped`: never touched (a failed canary, --fail-fast, or a signal before its turn).
 */
export type TargetOutcome = 'applied' | 'unchanged' | 'ok' | 'failed' | 'interrupted' | 'skipped';

export const TARGET_OUTCOMES: readonly TargetOutcome[] = ['applied', 'unchanged', 'ok', 'failed', 'interrupted', 'skipped'];

export interface TargetResult<T = unknown> {
  readonly target: string;
  readonly result: TargetOutcome;
  /** The exit code a single-target run would have ended with; null when skipped. */
  readonly exitCode: number | null;
  /** The error's stable code (docs/errors.md), when it failed. */
  readonly code?: string;
  /** The first line of its error message. */
  readonly error?: string;
  /** Versions applied (migrate), in order. */
  readonly applied: readonly number[];
  readonly current?: number | null;
  readonly pending?: number;
  readonly durationMs: number;
  /** The operation's own result (UpResult, StatusReport, CheckResult...); the library's, never in the JSON report. */
  readonly value?: T;
}

export interface FleetReport {
  readonly command: string;
  readonly shard: Shard | null;
  readonly targets: number;
  readonly parallel: number;
  readonly exitCode: number;
  readonly durationMs: number;
  readonly counts: Readonly<Record<TargetOutcome, number>>;
  readonly appliedMigrations: number;
  /** The slowest targets, slowest first (at most SLOWEST_SHOWN). */
  readonly slowest: readonly { target: string; durationMs: number; result: TargetOutcome }[];
  /** Every failed or interrupted target, with its class and first error line. */
  readonly failed: readonly { target: string; exitCode: number; code?: string; error?: string }[];
  /** Why targets were skipped, when some were. */
  readonly stopped?: 'canary' | 'fail-fast' | 'interrupted';
  readonly results: readonly TargetResult[];
}

export const SLOWEST_SHOWN = 5;

/**
 * The order of exit classes over a fleet, most severe first: the exit code of a fleet run is the
 * first of these any target ended with. A person is needed first (a bug in berth, configuration,
 * the migration set or history, the target refusing us, a migration's SQL); then a run a signal
 * stopped (nothing half-done); then what a retry fixes, the least certain state first (outcome
 * unknown, a lock held elsewhere, a database not up). A Job's podFailurePolicy therefore fails the
 * pod (no retry) when any target needs a person, and retries it only when every failure is one a
 * retry fixes (deploy/k8s/fleet/).
 */
export const EXIT_SEVERITY: readonly number[] = [70, 2, 5, 6, 8, 1, 143, 130, 7, 4, 3, 0];

/** The most severe of `codes` by EXIT_SEVERITY (0 for none); an unknown code ranks with 70. */
export function mostSevere(codes: Iterable<number>): number {
  let best = 0;
  let bestRank = EXIT_SEVERITY.indexOf(0);
  for (const code of codes) {
    const found = EXIT_SEVERITY.indexOf(code);
    const rank = found < 0 ? 0 : found;
    if (rank < bestRank) {
      best = code;
      bestRank = rank;
    }
  }
  return best;
}

export function summarizeFleet(input: {
  command: string; shard: Shard | null; parallel: number; durationMs: number; results: readonly TargetResult[]; stopped?: FleetReport['stopped'];
}): FleetReport {
  const counts = Object.fromEntries(TARGET_OUTCOMES.map((o) => [o, 0])) as Record<TargetOutcome, number>;
  for (const r of input.results) counts[r.result]++;
  const ran = input.results.filter((r) => r.result !== 'skipped');
  return {
    command: input.command,
    shard: input.shard,
    targets: input.results.length,
    parallel: input.parallel,
    exitCode: mostSevere(input.results.map((r) => r.exitCode ?? 0)),
    durationMs: input.durationMs,
    counts,
    appliedMigrations: input.results.reduce((n, r) => n + r.applied.length, 0),
    slowest: [...ran].sort((a, b) => b.durationMs - a.durationMs).slice(0, SLOWEST_SHOWN).map((r) => ({ target: r.target, durationMs: r.durationMs, result: r.result })),
    failed: input.results.filter((r) => r.result === 'failed' || r.result === 'interrupted').map((r) => ({
      target: r.target, exitCode: r.exitCode ?? 0, ...(r.code ? { code: r.code } : {}), ...(r.error ? { error: r.error } : {}),
    })),
    ...(input.stopped ? { stopped: input.stopped } : {}),
    results: input.results,
  };
}
