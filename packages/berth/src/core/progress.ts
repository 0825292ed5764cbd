import type { SessionActivity } from '../drivers/driver.js';
import type { BerthEvent } from './events.js';

export type { SessionActivity };

/** The running migration (or revert), as `progress()` shows it. */
export interface MigrationInProgress {
  readonly version: number;
  readonly name: string;
  readonly file: string;
  readonly direction: 'up' | 'down';
  /** Epoch ms. */
  readonly startedAt: number;
  readonly elapsedMs: number;
  /** Its place among those the run applies or reverts (1-based). */
  readonly index?: number;
  readonly total?: number;
}

/**
 * A snapshot of what a migrator is doing (SPEC §8, §11): the same state the CLI's `--http`
 * `/metrics` and probes serve, for a host application that wants its own. Cheap: no I/O.
 */
export interface ProgressSnapshot {
  /**
   * `idle`: no operation is running (before the first one, or after the last one ended);
   * `running`: connected and working (planning, or running `migration`).
   */
  readonly phase: 'idle' | 'connecting' | 'waiting-for-lock' | 'running';
  /** The schema version as last seen (the plan, then each migration applied), null when none or unknown. */
  readonly current: number | null;
  /** Migrations pending as last seen (the plan, less those applied since), null until a plan was made. */
  readonly pending: number | null;
  /** Migrations applied by this migrator so far. */
  readonly applied: number;
  readonly migration: MigrationInProgress | null;
  /** The lock wait in progress (epoch ms it started, and for how long), or null. */
  readonly lockWait: { readonly since: number; readonly elapsedMs: number } | null;
  /** How long the last completed lock wait took, ms (0 when the lock was free). */
  readonly lockWaitMs: number;
  /** The session of the running operation, or null when none is open. */
  readonly session: SessionActivity | null;
}

/**
 * Derives the snapshot from the library's own events, so progress means exactly what the log
 * says. `running` counts operations in flight (the migrator wraps each one).
 */
export class ProgressTracker {
  #running = 0;
  #connecting = false;
  #current: number | null = null;
  #pending: number | null = null;
  #applied = 0;
  #migration: Omit<MigrationInProgress, 'elapsedMs'> | null = null;
  #lockWaitSince: number | null = null;
  #lockWaitMs = 0;

  readonly observe = (e: BerthEvent, now = Date.now()): void => {
    switch (e.event) {
      case 'connect.attempt':
        this.#connecting = true;
        break;
      case 'connect.ok':
        this.#connecting = false;
        break;
      case 'lock.wait':
        // The first report comes right after the first refused attempt; it started that long ago.
        this.#lockWaitSince ??= now - e.lockWaitMs;
        break;
      case 'lock.acquired':
        this.#lockWaitSince = null;
        this.#lockWaitMs = e.lockWaitMs;
        break;
      case 'plan.ready':
        this.#current = e.current;
        this.#pending = e.pending;
        // A runner that waited for the lock and found the work done never acquires it.
        this.#lockWaitSince = null;
        break;
      case 'migration.start':
      case 'migration.revert.start':
        this.#migration = {
          version: e.version, name: e.name, file: e.file, direction: e.event === 'migration.start' ? 'up' : 'down', startedAt: now,
          ...(e.index === undefined ? {} : { index: e.index }), ...(e.total === undefined ? {} : { total: e.total }),
        };
        break;
      case 'migration.applied':
        this.#migration = null;
        this.#applied++;
        this.#current = Math.max(this.#current ?? e.version, e.version);
        if (this.#pending !== null) this.#pending = Math.max(0, this.#pending - 1);
        break;
      case 'migration.reverted':
      case 'migration.failed':
        this.#migration = null;
        break;
      default:
    }
  };

  /** Wraps one operation: the phase is `idle` when none runs. */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    this.#running++;
    try {
      return await operation();
    } finally {
      this.#running--;
      if (this.#running === 0) {
        this.#connecting = false;
        this.#migration = null;
        this.#lockWaitSince = null;
      }
    }
  }

  snapshot(session: SessionActivity | null, now = Date.now()): ProgressSnapshot {
    const phase = this.#running === 0 ? 'idle'
      : this.#connecting ? 'connecting'
        : this.#lockWaitSince !== null ? 'waiting-for-lock'
          : 'running';
    return {
      phase,
      current: this.#current,
      pending: this.#pending,
      applied: this.#applied,
      migration: this.#migration ? { ...this.#migration, elapsedMs: now - this.#migration.startedAt } : null,
      lockWait: this.#lockWaitSince === null ? null : { since: this.#lockWaitSince, elapsedMs: now - this.#lockWaitSince },
      lockWaitMs: this.#lockWaitMs,
      session,
    };
  }
}
