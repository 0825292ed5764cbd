import type { LeaseHolder, LockHolder, UnsetSetting } from '../drivers/driver.js';

/**
 * The events the library emits while it works. The CLI renders each as one log line (JSON or
 * pretty); a host application receives them through `onEvent`. Names are `noun.pastTense` or
 * `noun.state`, and a field, once published, keeps its meaning. `index` (1-based) and `total` place
 * a migration among those its run applies or reverts.
 */
export type BerthEvent =
  | { event: 'connect.attempt'; attempt: number; target: string }
  | { event: 'connect.retry'; attempt: number; target: string; reason: string; delayMs: number; remainingMs: number }
  | { event: 'connect.ok'; attempt: number; target: string; serverVersion: string; durationMs: number; pooled?: boolean }
  | { event: 'connect.warning'; code: string; message: string; settings: readonly UnsetSetting[] }
  /** `lease`: the lease row's holder, when the lock waited for is a lease (or one blocks the advisory lock). */
  | { event: 'lock.wait'; lockWaitMs: number; holder: LockHolder | null; table: string; lease?: LeaseHolder }
  /** `lock`: which one was taken (--lock); `token`: the lease's fencing token. */
  | { event: 'lock.acquired'; lockWaitMs: number; table: string; lock?: 'advisory' | 'lease'; token?: string; reason?: string }
  /** An expired lease was taken over from `previous` (which stopped its heartbeat: frozen, killed, cut off). */
  | { event: 'lease.takeover'; table: string; token: string; previous: LeaseHolder }
  /** The heartbeat found this runner's lease expired or taken over: nothing more of the run can commit. */
  | { event: 'lease.lost'; table: string; token: string; reason: string }
  | { event: 'lock.released'; table: string }
  | { event: 'history.created'; table: string }
  | { event: 'history.upgraded'; table: string }
  | { event: 'backup.start'; kind: 'command' | 'dir'; runId: string; from: number | null; to: number | null }
  | { event: 'backup.done'; kind: 'command' | 'dir'; runId: string; location: string; durationMs: number }
  | { event: 'backup.failed'; kind: 'command' | 'dir'; runId: string; durationMs: number; code: string }
  | { event: 'plan.warning'; code: string; message: string; version?: number }
  | { event: 'plan.ready'; current: number | null; pending: number; toApply: number; dryRun: boolean; table: string }
  | { event: 'await.waiting'; current: number | null; expected: number; waitedMs: number; reason: string }
  | { event: 'await.reached'; current: number; expected: number; waitedMs: number; release?: string }
  | { event: 'migration.planned'; version: number; name: string; file: string; transaction: boolean }
  | { event: 'migration.start'; version: number; name: string; file: string; transaction: boolean; index?: number; total?: number }
  | { event: 'migration.applied'; version: number; name: string; file: string; durationMs: number; index?: number; total?: number }
  | { event: 'migration.failed'; version: number; name: string; file: string; direction: 'up' | 'down'; durationMs: number; code: string; message: string }
  | { event: 'migration.log'; version: number; name: string; message: string }
  | { event: 'migration.revert.start'; version: number; name: string; file: string; transaction: boolean; index?: number; total?: number }
  | { event: 'migration.reverted'; version: number; name: string; file: string; durationMs: number; index?: number; total?: number }
  | { event: 'history.changed'; command: 'repair' | 'resolve' | 'baseline'; version: number; name: string; change: string };

export type EventListener = (event: BerthEvent) => void;
