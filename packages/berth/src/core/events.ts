import type { LockHolder, UnsetSetting } from '../drivers/driver.js';

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
  | { event: 'lock.wait'; lockWaitMs: number; holder: LockHolder | null; table: string }
  | { event: 'lock.acquired'; lockWaitMs: number; table: string }
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
