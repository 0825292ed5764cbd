import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BerthEvent } from '../../src/core/events.js';
import { acquireLock, lockKey } from '../../src/core/lock.js';
import type { Driver } from '../../src/drivers/driver.js';
import { useTestDatabase } from '../helpers/db.js';
import { connectDriver } from '../helpers/driver.js';

// Waiters sleep up to a second between polls; what lets them go at once when the holder is done
// is the holder's notification on unlock. If it were lost, every waiting replica would start late.
describe('the lock holder wakes waiters when it unlocks', () => {
  const db = useTestDatabase('lockwake');
  const key = lockKey('lockwake', { schema: 'public', table: 'berth_migrations' });
  const drivers: Driver[] = [];

  async function connect(): Promise<Driver> {
    const driver = await connectDriver(db().url);
    drivers.push(driver);
    return driver;
  }
  const channels = async (driver: Driver) =>
    (await driver.execute('SELECT pg_listening_channels() AS channel', [])).rows.map((r) => r.channel);

  let holder: Driver;
  let waiter: Driver;
  beforeAll(async () => {
    [holder, waiter] = await Promise.all([connect(), connect()]);
  });
  afterAll(() => Promise.all(drivers.map((d) => d.close())));

  it('a watching session is told when the lock is released, and stops listening when asked', async () => {
    expect(await holder.tryLock(key)).toBe(true);
    expect(await waiter.tryLock(key)).toBe(false);
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const stop = await waiter.watchUnlock!(key, () => wake());
    expect(stop).toBeTypeOf('function');
    expect(await channels(waiter)).toEqual([expect.stringMatching(/^berth_unlock_[0-9a-f]+$/)]);

    await holder.unlock(key);
    await woken;
    expect(await waiter.tryLock(key)).toBe(true);
    await waiter.unlock(key);

    await stop!();
    expect(await channels(waiter)).toEqual([]);
  });

  it('a runner that had to wait takes the lock after the holder unlocks, and leaves no listener behind', async () => {
    expect(await holder.tryLock(key)).toBe(true);
    const events: BerthEvent[] = [];
    const acquired = acquireLock(waiter, key, 'public.berth_migrations', { timeoutMs: 60_000, onEvent: (e) => events.push(e) });
    // The first attempt failed once the waiter reports waiting; then the holder lets go.
    while (!events.some((e) => e.event === 'lock.wait')) await new Promise((r) => setTimeout(r, 10));
    await holder.unlock(key);
    expect(await acquired).toBeTypeOf('number');
    expect(events.map((e) => e.event)).toEqual(['lock.wait', 'lock.acquired']);
    expect(await channels(waiter)).toEqual([]);
    expect(await holder.tryLock(key)).toBe(false);
    await waiter.unlock(key);
  });
});
