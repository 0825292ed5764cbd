import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Pushgateway, Registry } from 'prom-client';
import type { BerthEvent, FleetEvent, FleetReport, ProgressSnapshot } from '../index.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Reporter } from './output.js';

/** Labels of every series: where the run went, never credentials. */
export interface MetricLabels {
  /** `host:port/database`, or `pglite:<dir>` */
  readonly database: string;
  /** `schema.table` of the history table. */
  table: string;
}

/**
 * The SPEC §8 metrics of one run, derived from the library's events and its progress snapshot
 * (never sprinkled through core) and rendered in the Prometheus text format with prom-client.
 * The same registry serves `--metrics-file`, `--metrics-push` and `--http`'s live `/metrics`:
 * while an operation runs, the gauges read the snapshot at each scrape (the running migration,
 * its elapsed time, the lock wait so far, pending); once it ended, `render` records the outcome.
 */
export class RunMetrics {
  readonly #registry = new Registry();
  readonly #labels: MetricLabels;
  readonly #applied: Counter;
  readonly #duration: Histogram;
  readonly #schemaVersion: Gauge;
  readonly #pending: Gauge;
  readonly #lockWait: Gauge;
  readonly #lastRunSuccess: Gauge;
  readonly #runDuration: Gauge;
  readonly #lastSuccess: Gauge;
  readonly #progress: () => ProgressSnapshot | undefined;
  #ended = false;
  readonly #backupDuration: Gauge;
  readonly #backupSuccess: Gauge;

  constructor(labels: MetricLabels, progress: () => ProgressSnapshot | undefined = () => undefined) {
    this.#labels = labels;
    this.#progress = progress;
    // prom-client calls collect() on each scrape: `self` is the gauge, `metrics` this instance.
    const metrics = this;
    // `idle`: the value once no operation runs (undefined: keep what the events and the outcome set).
    const live = (apply: (s: ProgressSnapshot, set: (value: number) => void) => void, idle?: number) => function collect(this: Gauge): void {
      const snapshot = metrics.#progress();
      if (snapshot && snapshot.phase !== 'idle') apply(snapshot, (value) => this.set(metrics.#l(), value));
      else if (idle !== undefined) this.set(metrics.#l(), idle);
    };
    const labelNames = ['database', 'table'] as const;
    const registers = [this.#registry];
    this.#applied = new Counter({ name: 'berth_migrations_applied_total', help: 'Migrations applied by this run.', labelNames, registers });
    this.#duration = new Histogram({
      name: 'berth_migration_duration_seconds', help: 'Time each migration of this run took.', labelNames, registers,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
    });
    this.#schemaVersion = new Gauge({
      name: 'berth_schema_version', help: 'Highest applied migration version (live while migrating, then after the run).', labelNames, registers,
      collect: live((s, set) => { if (s.current !== null) set(s.current); }),
    });
    this.#pending = new Gauge({
      name: 'berth_pending_migrations', help: 'Migrations still pending (live while migrating, then after the run).', labelNames, registers,
      collect: live((s, set) => { if (s.pending !== null) set(s.pending); }),
    });
    this.#lockWait = new Gauge({
      name: 'berth_lock_wait_seconds', help: "Time spent waiting for another runner's lock (growing while it waits).", labelNames, registers,
      collect: live((s, set) => { if (s.lockWait) set(s.lockWait.elapsedMs / 1000); }),
    });
    new Gauge({
      name: 'berth_current_migration_version', help: 'Version of the migration running now, 0 when none.', labelNames, registers,
      collect: live((s, set) => set(s.migration?.version ?? 0), 0),
    });
    new Gauge({
      name: 'berth_current_migration_elapsed_seconds', help: 'How long the migration running now has been running, 0 when none.', labelNames, registers,
      collect: live((s, set) => set((s.migration?.elapsedMs ?? 0) / 1000), 0),
    });
    new Gauge({
      name: 'berth_run_in_progress', help: '1 while the berth command runs, 0 once it ended.', labelNames, registers,
      // From the start of the command (before it connects) until its outcome is rendered.
      collect() {
        this.set(metrics.#l(), metrics.#ended ? 0 : 1);
      },
    });
    new Gauge({
      name: 'berth_migration_in_progress', help: '1 for the migration running now (by version and name); no series when none.',
      labelNames: [...labelNames, 'version', 'name', 'direction'], registers,
      collect() {
        this.reset();
        const m = metrics.#progress()?.migration;
        if (m) this.set({ ...metrics.#l(), version: String(m.version), name: m.name, direction: m.direction }, 1);
      },
    });
    this.#lastRunSuccess = new Gauge({ name: 'berth_last_run_success', help: '1 if the last run succeeded, 0 otherwise.', labelNames, registers });
    this.#runDuration = new Gauge({ name: 'berth_run_duration_seconds', help: 'Wall time of the last run.', labelNames, registers });
    this.#lastSuccess = new Gauge({ name: 'berth_last_success_timestamp_seconds', help: 'Unix time of the last successful run.', labelNames, registers });
    this.#backupDuration = new Gauge({ name: 'berth_backup_duration_seconds', help: 'Time the backup before migrating took (--backup-command, --backup-dir).', labelNames, registers });
    this.#backupSuccess = new Gauge({ name: 'berth_backup_success', help: '1 if the backup before migrating succeeded, 0 if it failed (absent: no backup ran).', labelNames, registers });
    this.#applied.inc(this.#l(), 0);
    this.#lockWait.set(this.#l(), 0);
  }

  #l(): Record<string, string> {
    return { database: this.#labels.database, table: this.#labels.table };
  }

  readonly observe = (e: BerthEvent): void => {
    switch (e.event) {
      case 'plan.ready':
        this.#relabel(e.table);
        this.#schemaVersion.set(this.#l(), e.current ?? 0);
        this.#pending.set(this.#l(), e.pending);
        break;
      case 'lock.acquired':
        this.#relabel(e.table);
        this.#lockWait.set(this.#l(), e.lockWaitMs / 1000);
        break;
      case 'backup.done':
      case 'backup.failed':
        this.#backupDuration.set(this.#l(), e.durationMs / 1000);
        this.#backupSuccess.set(this.#l(), e.event === 'backup.done' ? 1 : 0);
        break;
      case 'migration.applied':
        this.#applied.inc(this.#l());
        this.#duration.observe(this.#l(), e.durationMs / 1000);
        break;
      default:
    }
  };

  /** The table is known for sure only once the server said which schema is current. */
  #relabel(table: string): void {
    if (table === this.#labels.table) return;
    this.#labels.table = table;
    this.#registry.resetMetrics();
    this.#applied.inc(this.#l(), 0);
  }

  /** The metrics as they are now, for a scrape: live values while the run goes, else the outcome. */
  text(): Promise<string> {
    return this.#registry.metrics();
  }

  /** Records the run's outcome; `previousLastSuccess` keeps the last success time across a failure. */
  async render(outcome: { ok: boolean; durationMs: number; current?: number | null; pending?: number; previousLastSuccess?: number }): Promise<string> {
    this.#ended = true;
    this.#lastRunSuccess.set(this.#l(), outcome.ok ? 1 : 0);
    this.#runDuration.set(this.#l(), outcome.durationMs / 1000);
    if (outcome.current !== undefined) this.#schemaVersion.set(this.#l(), outcome.current ?? 0);
    if (outcome.pending !== undefined) this.#pending.set(this.#l(), outcome.pending);
    const lastSuccess = outcome.ok ? Math.floor(Date.now() / 1000) : outcome.previousLastSuccess;
    if (lastSuccess === undefined) this.#registry.removeSingleMetric('berth_last_success_timestamp_seconds');
    else this.#lastSuccess.set(this.#l(), lastSuccess);
    return this.#registry.metrics();
  }

  /**
   * Pushes to a Pushgateway (POST: replaces only these metric names in the group), retried
   * briefly. Resolves with an error message instead of throwing: metrics never fail a migration.
   */
  async push(url: string, instance: string): Promise<string | undefined> {
    return push(this.#registry, url, { instance, database: this.#labels.database });
  }
}

async function push(registry: Registry, url: string, groupings: Record<string, string>): Promise<string | undefined> {
  const gateway = new Pushgateway(url, { timeout: 2_000 }, registry);
  let last = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await gateway.pushAdd({ jobName: 'berth', groupings });
      return undefined;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
      if (attempt < 3) await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
  return last;
}

/**
 * Series with a `target` label for at most this many targets: the failed and interrupted first,
 * then the slowest. The others are summed under `target="_other"`, and the counts per result
 * cover every target: a fleet of 10,000 tenants must not become 10,000 series per metric.
 */
export const FLEET_METRICS_TARGETS = 100;

/**
 * A fleet run's metrics (docs/fleets.md): per target (label `target`, within the cardinality
 * guard above), and for the run (`berth_fleet_targets{result}`, `berth_last_run_success`).
 */
export class FleetMetrics {
  readonly #lockWait = new Map<string, number>();

  readonly observe = (e: BerthEvent | FleetEvent, target: string | undefined): void => {
    if (e.event === 'lock.acquired' && target) this.#lockWait.set(target, e.lockWaitMs / 1000);
  };

  /** The registry of the run's series, rendered with `metrics()`. */
  build(report: FleetReport): Registry {
    const registry = new Registry();
    const registers = [registry];
    const labelNames = ['target'] as const;
    const applied = new Counter({ name: 'berth_migrations_applied_total', help: 'Migrations applied by this run, per target.', labelNames, registers });
    const version = new Gauge({ name: 'berth_schema_version', help: 'Highest applied migration version after the run, per target.', labelNames, registers });
    const pending = new Gauge({ name: 'berth_pending_migrations', help: 'Migrations still pending after the run, per target.', labelNames, registers });
    const success = new Gauge({ name: 'berth_last_run_success', help: '1 if the run succeeded on the target (target="_all": on every target), 0 otherwise.', labelNames, registers });
    const duration = new Gauge({ name: 'berth_run_duration_seconds', help: 'Wall time of the run on the target (target="_all": the whole fleet).', labelNames, registers });
    const lockWait = new Gauge({ name: 'berth_lock_wait_seconds', help: "Time spent waiting for another runner's lock, per target.", labelNames, registers });
    const exit = new Gauge({ name: 'berth_target_exit_code', help: 'Exit class of the run on the target (SPEC §5; -1: skipped).', labelNames, registers });
    const results = new Gauge({ name: 'berth_fleet_targets', help: 'Targets of the run by result.', labelNames: ['result'], registers });
    const rank = (r: FleetReport['results'][number]) => (r.result === 'failed' || r.result === 'interrupted' ? 0 : 1);
    const shown = [...report.results].sort((a, b) => rank(a) - rank(b) || b.durationMs - a.durationMs).slice(0, FLEET_METRICS_TARGETS);
    const named = new Set(shown.map((r) => r.target));
    for (const r of shown) {
      const l = { target: r.target };
      applied.inc(l, r.applied.length);
      if (r.current !== undefined) version.set(l, r.current ?? 0);
      if (r.pending !== undefined) pending.set(l, r.pending);
      success.set(l, r.exitCode === 0 ? 1 : 0);
      duration.set(l, r.durationMs / 1000);
      lockWait.set(l, this.#lockWait.get(r.target) ?? 0);
      exit.set(l, r.exitCode ?? -1);
    }
    const rest = report.results.filter((r) => !named.has(r.target));
    if (rest.length) applied.inc({ target: '_other' }, rest.reduce((n, r) => n + r.applied.length, 0));
    for (const [result, n] of Object.entries(report.counts)) results.set({ result }, n);
    success.set({ target: '_all' }, report.exitCode === 0 ? 1 : 0);
    duration.set({ target: '_all' }, report.durationMs / 1000);
    return registry;
  }

  /** Writes and pushes, as a single run does: a failure only warns. */
  async finish(report: FleetReport, config: Pick<ResolvedConfig, 'metricsFile' | 'metricsPush'>, instance: string, reporter: Reporter): Promise<void> {
    const registry = this.build(report);
    const text = await registry.metrics();
    if (config.metricsFile) {
      try {
        writeAtomically(config.metricsFile, text);
      } catch (err) {
        reporter.log('warn', `could not write --metrics-file ${config.metricsFile}: ${(err as Error).message}`, { event: 'metrics.failed', target: 'file' });
      }
    }
    if (config.metricsPush) {
      const failure = await push(registry, config.metricsPush, { instance, fleet: 'true' });
      if (failure) reporter.log('warn', `could not push metrics to ${config.metricsPush}: ${failure} (the run's outcome is unchanged)`, { event: 'metrics.failed', target: 'push' });
    }
  }
}

/** The previous run's success time, read back from the textfile (a failed run keeps it). */
export function previousLastSuccess(path: string): number | undefined {
  try {
    const match = /^berth_last_success_timestamp_seconds\{[^}]*\} (\d+(?:\.\d+)?)$/m.exec(readFileSync(path, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes beside the target and renames, so node_exporter never reads a half-written file. */
export function writeAtomically(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}
