import { maskUrlCredentials } from '../config/database-url.js';
import { describeLease, describeLockHolder as describeHolder, type BerthEvent } from '../index.js';
import { formatDuration } from '../duration.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Writable {
  write(chunk: string): unknown;
}

export interface ReporterOptions {
  readonly format: 'pretty' | 'json';
  readonly quiet: boolean;
  /** Also print debug lines (BERTH_DEBUG=1). */
  readonly debug: boolean;
  readonly color: boolean;
  /** Log lines go to stderr so that stdout carries only command results (status --json). */
  readonly stderr: Writable;
  /**
   * Keep a line at the bottom that says where a run is (n of N, the current file, elapsed),
   * rewritten in place: only for a person at a terminal, never in a log a program reads.
   */
  readonly progress?: boolean;
}

/**
 * Renders the library's events as log lines: one JSON object per line, or a readable line on a
 * terminal. Every line passes through credential masking here, the last point before output (text
 * from outside berth was already redacted where it came in: see core/guard-driver.ts).
 */
export class Reporter {
  readonly #o: ReporterOptions;
  /** The progress line shown at the bottom of the terminal, while a migration runs. */
  #progress: { readonly label: string; readonly since: number; readonly timer: NodeJS.Timeout } | undefined;
  #runStarted: number | undefined;

  constructor(options: ReporterOptions) {
    this.#o = options;
  }

  event = (e: BerthEvent): void => {
    const { level, msg } = describeEvent(e);
    if (this.#o.progress && (e.event === 'migration.start' || e.event === 'migration.revert.start')) {
      this.#clearProgress();
      if (e.index !== undefined && e.total !== undefined) {
        this.#runStarted ??= Date.now();
        const label = `${e.event === 'migration.start' ? 'applying' : 'reverting'} ${e.index} of ${e.total}: ${e.file}`;
        // Redrawn every second, so a long statement shows that it is still running.
        const timer = setInterval(() => this.#drawProgress(), 1_000).unref();
        this.#progress = { label, since: Date.now(), timer };
        this.#drawProgress();
      }
    }
    this.log(level, msg, e as unknown as Record<string, unknown>);
  };

  #drawProgress(): void {
    const p = this.#progress;
    if (!p) return;
    const now = Date.now();
    this.#o.stderr.write(`\r\u001b[K${this.#paint('dim', `${p.label} (${formatDuration(now - p.since)}; run ${formatDuration(now - (this.#runStarted ?? now))})`)}`);
  }

  #clearProgress(): void {
    if (!this.#progress) return;
    clearInterval(this.#progress.timer);
    this.#progress = undefined;
    this.#o.stderr.write('\r\u001b[K');
  }

  log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
    if (level === 'debug' && !this.#o.debug) return;
    if (this.#o.quiet && level === 'info' && fields.event !== 'run.summary') return;
    let line: string;
    if (this.#o.format === 'json') {
      line = JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields });
    } else {
      const time = new Date().toISOString().slice(11, 19);
      line = `${this.#paint('dim', time)} ${this.#paint(level, level.toUpperCase().padEnd(5))} ${msg}`;
    }
    // A log line goes above the progress line, which is drawn again below it.
    const progress = this.#progress;
    if (progress) this.#o.stderr.write('\r\u001b[K');
    this.#o.stderr.write(`${maskUrlCredentials(line)}\n`);
    if (progress && fields.event !== 'run.summary' && !isEnd(fields.event)) this.#drawProgress();
    else if (progress) this.#clearProgress();
  }

  #paint(style: Level | 'dim', text: string): string {
    if (!this.#o.color) return text;
    const codes: Record<string, string> = { dim: '2', debug: '2', info: '36', warn: '33', error: '31' };
    return `\u001b[${codes[style]}m${text}\u001b[0m`;
  }
}

/** Events after which the current migration is no longer running. */
function isEnd(event: unknown): boolean {
  return event === 'migration.applied' || event === 'migration.failed' || event === 'migration.reverted' || event === 'run.error';
}

function v(version: number, name: string): string {
  return `${version} ${name}`;
}

export function describeEvent(e: BerthEvent): { level: Level; msg: string } {
  switch (e.event) {
    case 'connect.attempt': return { level: 'debug', msg: `connecting to ${e.target} (attempt ${e.attempt})` };
    case 'connect.retry': return { level: 'warn', msg: `attempt ${e.attempt} failed: ${e.reason}; retrying in ${formatDuration(e.delayMs)} (${formatDuration(e.remainingMs)} left)` };
    // PostgreSQL's version is a bare number; other drivers name their server in it.
    case 'connect.ok': return { level: 'info', msg: `connected to ${e.target} (${/^\d/.test(e.serverVersion) ? `PostgreSQL ${e.serverVersion}` : e.serverVersion}${e.pooled ? ', through a pooler' : ''}, attempt ${e.attempt})` };
    case 'connect.warning': return { level: 'warn', msg: e.message };
    case 'lock.wait': return { level: 'info', msg: `waiting for the migration lock on ${e.table} (${formatDuration(e.lockWaitMs)} so far): ${e.lease ? `a lease ${describeLease(e.lease)}` : describeHolder(e.holder)}` };
    case 'lock.acquired': return { level: 'info', msg: `acquired the migration ${e.lock === 'lease' ? `lease (token ${e.token})` : 'lock'} on ${e.table}${e.lockWaitMs > 0 ? ` after ${formatDuration(e.lockWaitMs)}` : ''}${e.reason ? `: ${e.reason}` : ''}` };
    case 'lease.takeover': return { level: 'warn', msg: `took over the expired migration lease on ${e.table} (now token ${e.token}), ${describeLease(e.previous)}: that runner stopped renewing it (frozen, killed or cut off), and it can no longer commit anything` };
    case 'lease.lost': return { level: 'error', msg: `lost the migration lease on ${e.table} (token ${e.token}): ${e.reason}` };
    case 'lock.released': return { level: 'debug', msg: `released the migration lock on ${e.table}` };
    case 'history.created': return { level: 'info', msg: `created history table ${e.table}` };
    case 'history.upgraded': return { level: 'info', msg: `added the release and backup columns to history table ${e.table}` };
    case 'backup.start': return { level: 'info', msg: `backing up before migrating (${e.kind === 'dir' ? '--backup-dir' : '--backup-command'}, schema at ${e.from ?? 'none'}, migrating to ${e.to ?? 'none'})` };
    case 'backup.done': return { level: 'info', msg: `backup done in ${formatDuration(e.durationMs)}: ${e.location}` };
    case 'backup.failed': return { level: 'error', msg: `backup failed after ${formatDuration(e.durationMs)}` };
    case 'plan.warning': return { level: 'warn', msg: e.message };
    case 'plan.ready': return { level: 'info', msg: e.toApply === 0 ? `nothing to do: schema is at version ${e.current ?? 'none'}` : `${e.dryRun ? 'would apply' : 'applying'} ${e.toApply} migration(s) (schema at ${e.current ?? 'none'})` };
    case 'migration.planned': return { level: 'info', msg: `would apply ${v(e.version, e.name)} (${e.file}${e.transaction ? '' : ', no transaction'})` };
    case 'migration.start': return { level: 'debug', msg: `applying ${v(e.version, e.name)}` };
    case 'migration.applied': return { level: 'info', msg: `applied ${v(e.version, e.name)} in ${formatDuration(e.durationMs)}` };
    case 'migration.failed': return { level: 'error', msg: `${e.direction === 'up' ? 'migration' : 'rollback of'} ${v(e.version, e.name)} failed after ${formatDuration(e.durationMs)}` };
    case 'await.waiting': return { level: 'info', msg: `waiting for schema version ${e.expected}: ${e.reason} (${formatDuration(e.waitedMs)} so far)` };
    case 'await.reached': return { level: 'info', msg: `schema reached version ${e.current} (expected ${e.expected}) after ${formatDuration(e.waitedMs)}` };
    case 'migration.log': return { level: 'info', msg: `[${v(e.version, e.name)}] ${e.message}` };
    case 'migration.revert.start': return { level: 'debug', msg: `reverting ${v(e.version, e.name)} (${e.file})` };
    case 'migration.reverted': return { level: 'info', msg: `reverted ${v(e.version, e.name)} in ${formatDuration(e.durationMs)}` };
    case 'history.changed': return { level: 'info', msg: `${e.command}: ${v(e.version, e.name)}: ${e.change}` };
  }
}
