/**
 * The pure parts of the lease (`--lock lease|auto`): its settings, the heartbeat derived from
 * the lease's lifetime, and how a holder and a takeover are told in the log. The lease itself
 * runs against real servers (test/integration/lease.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { describeEvent } from '../../src/cli/output.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { describeLease, heartbeatInterval } from '../../src/core/lease.js';
import { settle } from '../../src/core/settings.js';
import type { LeaseHolder } from '../../src/drivers/driver.js';
import { ConfigError } from '../../src/errors.js';

const HOLDER: LeaseHolder = {
  token: '7', pod: 'api-migrate-x7k2p', host: 'node-3', pid: 1, berthVersion: '0.9.0',
  since: '2026-12-02T06:00:00.000Z', heartbeatAgeMs: 31_500, released: false, expired: true,
};

function resolve(env: Record<string, string>, flags: Record<string, string> = {}) {
  return resolveConfig({ env, flags, readFile: () => { throw new Error('no files'); } });
}

describe('lease settings', () => {
  it('default to the advisory lock and a 30 s lease, and read BERTH_LOCK / BERTH_LEASE_TTL and the flags', () => {
    expect(resolve({})).toMatchObject({ lock: 'advisory', leaseTtlMs: 30_000 });
    expect(resolve({ BERTH_LOCK: 'auto', BERTH_LEASE_TTL: '10s' })).toMatchObject({ lock: 'auto', leaseTtlMs: 10_000 });
    expect(resolve({ BERTH_LOCK: 'auto' }, { lock: 'lease', leaseTtl: '2s' })).toMatchObject({ lock: 'lease', leaseTtlMs: 2_000 });
  });

  it('refuse an unknown mode and a lease shorter than 1 s, naming where each came from', () => {
    let caught: unknown;
    try {
      resolve({ BERTH_LOCK: 'session' }, { leaseTtl: '500ms' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toMatch(/BERTH_LOCK.*must be advisory, lease or auto/);
    expect(message).toMatch(/--lease-ttl.*at least 1s/);
  });

  it('in the library: the same checks, and room for the lease table next to a long history table name', () => {
    expect(settle({ databaseUrl: 'postgres://x/y' })).toMatchObject({ lock: 'advisory', leaseTtlMs: 30_000 });
    expect(() => settle({ databaseUrl: 'postgres://x/y', lock: 'mutex' as never })).toThrow(/lock: "mutex" is not one of advisory, lease, auto/);
    expect(() => settle({ databaseUrl: 'postgres://x/y', leaseTtl: 100 })).toThrow(/leaseTtl: must be at least 1000 ms/);
    const long = 'h'.repeat(60);
    expect(settle({ databaseUrl: 'postgres://x/y', table: long }).table).toBe(long);
    expect(() => settle({ databaseUrl: 'postgres://x/y', table: long, lock: 'auto' })).toThrow(/leaves no room for its lease table/);
  });
});

describe('the heartbeat', () => {
  it('renews six times per lease lifetime: every 5 s for the default 30 s, never more often than every 100 ms', () => {
    expect(heartbeatInterval(30_000)).toBe(5_000);
    expect(heartbeatInterval(2_000)).toBe(333);
    expect(heartbeatInterval(300)).toBe(100);
  });
});

describe('what the log says', () => {
  it('names the holder, its token and its last heartbeat', () => {
    expect(describeLease(HOLDER)).toBe(
      'held by pod api-migrate-x7k2p, host node-3, pid 1, berth 0.9.0 (token 7, since 2026-12-02T06:00:00.000Z, last heartbeat 31.5s ago)');
    expect(describeLease({ ...HOLDER, host: HOLDER.pod, heartbeatAgeMs: null })).toBe(
      'held by pod api-migrate-x7k2p, pid 1, berth 0.9.0 (token 7, since 2026-12-02T06:00:00.000Z)');
    expect(describeLease(null)).toBe('held by a runner that could not be identified');
  });

  it('a takeover is a warning naming the old holder; a lost lease an error; a wait names the lease holder', () => {
    const takeover = describeEvent({ event: 'lease.takeover', table: 'public.berth_migrations', token: '8', previous: HOLDER });
    expect(takeover.level).toBe('warn');
    expect(takeover.msg).toContain('took over the expired migration lease on public.berth_migrations (now token 8), held by pod api-migrate-x7k2p');
    expect(describeEvent({ event: 'lease.lost', table: 't', token: '8', reason: 'gone' })).toEqual({ level: 'error', msg: 'lost the migration lease on t (token 8): gone' });
    expect(describeEvent({ event: 'lock.wait', lockWaitMs: 5_000, holder: null, table: 't', lease: HOLDER }).msg).toContain('a lease held by pod api-migrate-x7k2p');
    expect(describeEvent({ event: 'lock.acquired', lockWaitMs: 0, table: 't', lock: 'lease', token: '8' }).msg).toBe('acquired the migration lease (token 8) on t');
  });
});
