import { createHash } from 'node:crypto';
import { formatDuration } from '../duration.js';
import type { Driver, HistoryTable, LeaseHolder, LockHolder } from '../drivers/driver.js';
import { LockTimeoutError } from '../errors.js';
import type { EventListener } from './events.js';
import { describeLease } from './lease.js';
import { sleep } from './sleep.js';

/**
 * The advisory-lock key of one history table. It covers database + schema + table, so two
 * services sharing a server, or two tables in one database, never block each other
 * (golang-migrate `GenerateAdvisoryLockId` keys on schema + table the same way).
 */
export function lockKey(database: string, table: HistoryTable): bigint {
  const digest = createHash('sha256').update(`berth\0${database}\0${table.schema}\0${table.table}`).digest();
  return digest.readBigInt64BE(0);
}

const FIRST_POLL_MS = 50;
// Where the driver cannot wake waiters, a waiter notices the holder is done within this much
// (plus jitter). A try-lock is one cheap round trip, so even dozens of replicas polling at this
// rate cost the server nothing noticeable, while a 1 s cap would add up to a second to every
// replica's start.
const MAX_POLL_MS = 200;
// Where it can, polling only covers a holder that died without unlocking (its session's end frees
// the lock): waiters then poll rarely, and leave the CPU to the holder.
const MAX_POLL_WOKEN_MS = 1_000;
export const REPORT_EVERY_MS = 5_000;

/** The sleep before the next attempt: doubling from FIRST_POLL_MS to a cap, with jitter. */
export function pollDelay(attempt: number, woken: boolean): number {
  return Math.min(woken ? MAX_POLL_WOKEN_MS : MAX_POLL_MS, FIRST_POLL_MS * 2 ** attempt) * (0.5 + Math.random() * 0.5);
}

/**
 * Takes the lock by polling `pg_try_advisory_lock` with jitter. A blocking `pg_advisory_lock`
 * would queue this session behind the holder, and the holder's `CREATE INDEX CONCURRENTLY` waits
 * for every open transaction — including a waiter's — so the two would deadlock (SPEC §4.1).
 * Between two attempts it sleeps until the next poll, or until the holder says it has released
 * the lock. Returns how long it waited, in ms, or undefined when `unneeded` said, between two
 * attempts, that another runner has done the work meanwhile.
 */
export async function acquireLock(
  driver: Driver,
  key: bigint,
  table: string,
  options: {
    timeoutMs: number; onEvent: EventListener; signal?: AbortSignal; unneeded?: () => Promise<boolean>;
    /**
     * Asked once the lock is taken: a lease another runner holds on the same history table
     * (through a transaction pooler, with `auto`). The lock is then given back and waited for again.
     */
    leaseHolder?: () => Promise<LeaseHolder | null>;
  },
): Promise<number | undefined> {
  const started = Date.now();
  let lastReport = -Infinity;
  let holder: LockHolder | null = null;
  // Set when the holder says it released the lock; the sleep it interrupts is then cut short.
  let released = false;
  let wake = (): void => undefined;
  let unwatch: (() => Promise<void>) | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      released = false;
      let lease: LeaseHolder | null = null;
      if (await driver.tryLock(key)) {
        lease = (await options.leaseHolder?.()) ?? null;
        if (lease === null) {
          const lockWaitMs = Date.now() - started;
          options.onEvent({ event: 'lock.acquired', lockWaitMs, table, lock: 'advisory' });
          return lockWaitMs;
        }
        await driver.unlock(key);
      }
      // Only a runner that has to wait listens: the uncontended run pays no extra round trip.
      if (attempt === 0 && driver.watchUnlock) unwatch = await driver.watchUnlock(key, () => {
        released = true;
        wake();
      });
      const waited = Date.now() - started;
      if (waited - lastReport >= REPORT_EVERY_MS || waited >= options.timeoutMs) {
        if (driver.capabilities.multipleConnections && !lease) holder = await driver.lockHolder(key);
        lastReport = waited;
        options.onEvent({ event: 'lock.wait', lockWaitMs: waited, holder, table, ...(lease ? { lease } : {}) });
      }
      if (waited >= options.timeoutMs) {
        throw new LockTimeoutError('ERR_LOCK_TIMEOUT',
          `the migration lock on ${table} was not acquired within --lock-timeout ${formatDuration(options.timeoutMs)}: ${lease ? `a lease ${describeLease(lease)}` : describeHolder(holder)}. ` +
          'Another runner is migrating; retry later, or raise --lock-timeout if its migrations are long.',
          { details: { holder, lockWaitMs: waited } });
      }
      if (!released) {
        const poll = pollDelay(attempt, unwatch !== undefined);
        await sleep(Math.min(poll, Math.max(1, options.timeoutMs - waited)), options.signal, (w) => {
          wake = w;
        });
        wake = () => undefined;
      }
      // Twenty replicas that start together would otherwise take the lock one after another after
      // the first one is done, only to find nothing to do.
      if (await options.unneeded?.()) return undefined;
    }
  } finally {
    // A failure here means the session is gone; the next call on it says so.
    await unwatch?.().catch(() => undefined);
  }
}

export function describeHolder(holder: LockHolder | null): string {
  if (!holder) return 'held by a session that could not be identified';
  const parts = [`pid ${holder.pid}`];
  if (holder.user) parts.push(`user ${holder.user}`);
  if (holder.applicationName) parts.push(`application ${holder.applicationName}`);
  if (holder.clientAddr) parts.push(`client ${holder.clientAddr}`);
  if (holder.heldForMs !== null) parts.push(`session open for ${formatDuration(holder.heldForMs)}`);
  return `held by ${parts.join(', ')}`;
}
