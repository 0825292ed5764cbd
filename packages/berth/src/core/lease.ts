import { formatDuration } from '../duration.js';
import { ConnectionLostError, type Driver, type HistoryTable, type LeaseClaim, type LeaseHolder } from '../drivers/driver.js';
import { LockTimeoutError } from '../errors.js';
import type { Connection } from './connect.js';
import type { EventListener } from './events.js';
import { pollDelay, REPORT_EVERY_MS } from './lock.js';
import { sleep } from './sleep.js';

/**
 * The lease (`--lock lease`, docs/locking.md): a row next to the history table that one runner
 * holds at a time, renewed by a heartbeat, and carrying a fencing token that every migration's
 * COMMIT and every history write checks on the server. It needs no session of its own on the
 * server, so it works through a transaction pooler, where a session advisory lock cannot.
 *
 * The lease lives on a connection of its own, so that the heartbeat goes on while a long
 * statement runs on the migrating one.
 */

/** Heartbeats per lease lifetime: five may be missed (a GC pause, a slow server) before it is lost. */
export const HEARTBEATS_PER_TTL = 6;

export function heartbeatInterval(ttlMs: number): number {
  return Math.max(100, Math.floor(ttlMs / HEARTBEATS_PER_TTL));
}

export interface HeldLease {
  readonly token: bigint;
  readonly lockWaitMs: number;
  /** Stops the heartbeat and marks the row released (when it is still ours), then closes its connection. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  /** The lease table (the history table's name with `_lock`), and how logs name the lock. */
  readonly table: HistoryTable;
  readonly tableName: string;
  /** Why the lease rather than the advisory lock, for the log line (`auto`). */
  readonly reason?: string;
  readonly claim: LeaseClaim;
  readonly ttlMs: number;
  readonly timeoutMs: number;
  readonly onEvent: EventListener;
  readonly signal?: AbortSignal;
  /** As for the advisory lock: between attempts, true when another runner did the work meanwhile. */
  readonly unneeded?: () => Promise<boolean>;
  /**
   * A runner holding the advisory lock of the same history table (one that connects directly
   * while this one goes through a pooler, with `auto`): the lease is then given back at once and
   * waited for again, since the two locks do not see each other otherwise.
   */
  readonly advisoryHolder?: (driver: Driver) => Promise<boolean>;
  /** Opens the lease's own connection (once, and again if the heartbeat finds it gone). */
  readonly open: () => Promise<Connection>;
}

/**
 * Takes the lease, polling with jitter while another runner holds it; an expired one is taken over
 * (logged, naming its holder). Returns undefined when `unneeded` said there was nothing left to do.
 */
export async function acquireLease(options: LeaseOptions): Promise<HeldLease | undefined> {
  const { table, tableName, claim, ttlMs, onEvent } = options;
  let connection = await options.open();
  let done = false;
  try {
    const started = Date.now();
    let lastReport = -Infinity;
    for (let attempt = 0; ; attempt++) {
      const taken = await connection.driver.takeLease!(table, claim, ttlMs);
      let holder: LeaseHolder | null = taken.token === null ? taken.holder : null;
      let advisory = false;
      if (taken.token !== null) {
        if (options.advisoryHolder && await options.advisoryHolder(connection.driver)) {
          advisory = true;
          await connection.driver.releaseLease!(table, taken.token);
        } else {
          const lockWaitMs = Date.now() - started;
          const previous = taken.previous;
          if (previous && !previous.released) {
            onEvent({ event: 'lease.takeover', table: tableName, token: taken.token.toString(), previous });
          }
          onEvent({ event: 'lock.acquired', lockWaitMs, table: tableName, lock: 'lease', token: taken.token.toString(), ...(options.reason ? { reason: options.reason } : {}) });
          done = true;
          return holdLease(connection, taken.token, lockWaitMs, options, (c) => (connection = c));
        }
      }
      const waited = Date.now() - started;
      if (waited - lastReport >= REPORT_EVERY_MS || waited >= options.timeoutMs) {
        lastReport = waited;
        // The row as the take first saw it was free, and another runner took it meanwhile: read its holder.
        if (holder?.expired) holder = await connection.driver.readLease!(table);
        onEvent({ event: 'lock.wait', lockWaitMs: waited, holder: null, table: tableName, ...(holder ? { lease: holder } : {}) });
      }
      if (waited >= options.timeoutMs) {
        const who = advisory ? 'held by a runner with the advisory lock of the same history table (a direct connection, --lock advisory or auto)' : describeLease(holder);
        throw new LockTimeoutError('ERR_LOCK_TIMEOUT',
          `the migration lease on ${tableName} was not acquired within --lock-timeout ${formatDuration(options.timeoutMs)}: ${who}. ` +
          'Another runner is migrating; retry later, or raise --lock-timeout if its migrations are long.',
          { details: { lease: holder, lockWaitMs: waited } });
      }
      await sleep(Math.min(pollDelay(attempt, false), Math.max(1, options.timeoutMs - waited)), options.signal);
      if (await options.unneeded?.()) return undefined;
    }
  } finally {
    if (!done) await connection.driver.close();
  }
}

function holdLease(first: Connection, token: bigint, lockWaitMs: number, options: LeaseOptions, replaced: (c: Connection) => void): HeldLease {
  const { table, tableName, ttlMs, onEvent } = options;
  let connection = first;
  let lost = false;
  let running: Promise<void> | undefined;
  const beat = async (): Promise<void> => {
    try {
      if (!(await connection.driver.renewLease!(table, token, ttlMs))) {
        lost = true;
        onEvent({ event: 'lease.lost', table: tableName, token: token.toString(),
          reason: 'the heartbeat found the lease expired or taken over: no migration of this run can commit any more' });
      }
    } catch (err) {
      // The lease's own connection went away (a pooler restart, a network blip): the lease is
      // still ours until it expires, so open another one for the next heartbeat.
      onEvent({ event: 'plan.warning', code: 'W_LEASE_HEARTBEAT', message: `the lease heartbeat on ${tableName} failed: ${(err as Error).message}; trying again` });
      if (err instanceof ConnectionLostError || (err as { code?: string }).code === 'ERR_CONNECTION_LOST') {
        await connection.driver.close();
        connection = await options.open().catch(() => connection);
        replaced(connection);
      }
    }
  };
  const timer = setInterval(() => {
    if (running || lost) return;
    running = beat().finally(() => (running = undefined));
  }, heartbeatInterval(ttlMs));
  // The migrations keep the process alive; the heartbeat alone must not.
  timer.unref();
  return {
    token,
    lockWaitMs,
    async release() {
      clearInterval(timer);
      await running;
      try {
        if (!lost) await connection.driver.releaseLease!(table, token);
        onEvent({ event: 'lock.released', table: tableName });
      } catch {
        // Unreleased, it expires after --lease-ttl and the next runner takes it over.
      } finally {
        await connection.driver.close();
      }
    },
  };
}

/** "held by pod api-7f9c (host node-3, pid 1, berth 0.9.0) since …, last heartbeat 2 s ago". */
export function describeLease(holder: LeaseHolder | null): string {
  if (!holder) return 'held by a runner that could not be identified';
  const who = [holder.pod && `pod ${holder.pod}`, holder.host && holder.host !== holder.pod && `host ${holder.host}`,
    holder.pid !== null && `pid ${holder.pid}`, holder.berthVersion && `berth ${holder.berthVersion}`].filter(Boolean).join(', ');
  const heartbeat = holder.heartbeatAgeMs === null ? '' : `, last heartbeat ${formatDuration(Math.max(0, holder.heartbeatAgeMs))} ago`;
  return `held by ${who || 'an unnamed runner'} (token ${holder.token}${holder.since ? `, since ${holder.since}` : ''}${heartbeat})`;
}
