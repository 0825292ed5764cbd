import type { AwaitOptions, AwaitResult } from '../api.js';
import { connect, type Connection } from '../connect.js';
import type { BerthEvent } from '../events.js';
import type { Session } from '../session.js';
import { sleep } from '../sleep.js';
import { formatDuration, parseDuration } from '../../duration.js';
import { ConfigError, UnreachableError } from '../../errors.js';

/**
 * `await`: waits until the schema reaches a version, polling the history table; never migrates
 * and needs only read access. A database that is down, still being created, or refusing this role
 * yet (an init script has not run) is all "not there yet" until the timeout.
 */
export async function awaitSchema(session: Session, options: AwaitOptions): Promise<AwaitResult> {
  const timeoutMs = typeof options.timeout === 'number' ? options.timeout : parseDuration(options.timeout);
  if (timeoutMs === undefined) throw new ConfigError('ERR_CONFIG_INVALID', `timeout: "${String(options.timeout)}" is not a duration`);
  let expected = options.version;
  if (expected === undefined) {
    const newest = (await session.load()).at(-1);
    if (!newest) throw new ConfigError('ERR_CONFIG_INVALID', `${session.settings.dir} holds no migrations: pass --version, or point --dir at this build's migrations`);
    expected = newest.version;
  }
  const target = expected;
  const release = options.release;
  const signal = options.signal ?? session.signal;
  const pollMs = options.pollMs ?? 250;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let current: number | null = null;
  let reason = 'not checked yet';
  let lastReport = -Infinity;
  const report = () => {
    const waitedMs = Date.now() - started;
    if (waitedMs - lastReport < 5_000) return;
    lastReport = waitedMs;
    session.emit({ event: 'await.waiting', current, expected: target, waitedMs, reason });
  };
  // Connection attempts are part of the wait: reported as the wait's reason, not one line each.
  const onEvent = (e: BerthEvent) => {
    if (e.event === 'connect.retry') {
      reason = e.reason;
      report();
    } else if (e.event !== 'connect.attempt' && e.event !== 'connect.ok') {
      session.emit(e);
    }
  };
  const fatal = (err: unknown) => err instanceof ConfigError || (signal?.aborted === true && err === signal.reason);
  while (Date.now() < deadline) {
    let connection: Connection;
    try {
      connection = await connect({ ...session.connectOptions, onEvent, ...(signal ? { signal } : {}), waitMs: Math.max(0, deadline - Date.now()), retryRejected: true });
    } catch (err) {
      if (fatal(err)) throw err;
      reason = err instanceof Error ? err.message : String(err);
      break;
    }
    try {
      const table = { schema: session.settings.schema ?? connection.server.currentSchema ?? 'public', table: session.settings.table };
      while (true) {
        const state = await connection.driver.historySummary(table);
        current = state?.current ?? null;
        // With a release: its run must have recorded a migration, and left nothing unsettled. The
        // rows are read only once the version is there (a waiting pod polls cheaply until then).
        const released = release === undefined || (state !== null && !state.unsettled && current !== null && current >= target &&
          ((await connection.driver.readHistory(table)) ?? []).some((r) => r.release === release && r.status === 'applied'));
        if (current !== null && current >= target && released) {
          const waitedMs = Date.now() - started;
          session.emit({ event: 'await.reached', current, expected: target, waitedMs, ...(release === undefined ? {} : { release }) });
          return { current, expected: target, waitedMs };
        }
        reason = state === null ? `${table.schema}.${table.table} does not exist yet`
          : `schema is at ${current ?? 'no version'}${state.unsettled ? ' (a failed migration awaits berth resolve)' : ''}` +
            (current !== null && current >= target && !state.unsettled
              ? `, but no migration was recorded by release ${release} yet (a release with nothing to apply records none: wait for the version alone, without --release)`
              : '');
        if (Date.now() >= deadline) break;
        report();
        await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())), signal);
      }
    } catch (err) {
      // The session dropped (a restart, a failover): connect again with the time that is left.
      if (fatal(err)) throw err;
      reason = err instanceof Error ? err.message : String(err);
    } finally {
      await connection.driver.close();
    }
  }
  throw new UnreachableError('ERR_AWAIT_TIMEOUT',
    `the schema did not reach version ${target} within ${formatDuration(timeoutMs)}: it is at ${current ?? 'no version'} (${reason}). ` +
    'Is the migration Job running? berth await never migrates.', { details: { current, expected: target } });
}

/** `wait`: only waits until the database accepts connections (and is not a standby). */
export async function wait(session: Session): Promise<void> {
  await session.withConnection(async () => undefined);
}
