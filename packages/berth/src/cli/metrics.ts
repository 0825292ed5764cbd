import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Pushgateway, Registry } from 'prom-client';
import type { BerthEvent, ProgressSnapshot } from '../index.js';

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
    const gateway = new Pushgateway(url, { timeout: 2_000 }, this.#registry);
    let last = '';
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await gateway.pushAdd({ jobName: 'berth', groupings: { instance, database: this.#labels.database } });
        return undefined;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
        if (attempt < 3) await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    return last;
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
