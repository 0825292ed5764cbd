import { describe, expect, it } from 'vitest';
import { formatListenAddress, parseListenAddress } from '../../src/config/listen-address.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { health, readiness } from '../../src/cli/http.js';
import { ProgressTracker, type ProgressSnapshot } from '../../src/core/progress.js';

describe('--http addresses', () => {
  it.each([
    [':9464', undefined, 9464],
    ['9464', undefined, 9464],
    ['0.0.0.0:9464', '0.0.0.0', 9464],
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['localhost:9464', 'localhost', 9464],
    ['[::]:9464', '::', 9464],
    ['[::1]:65535', '::1', 65535],
    ['berth-metrics.svc:80', 'berth-metrics.svc', 80],
  ])('%s listens on host %s, port %d', (text, host, port) => {
    expect(parseListenAddress(text)).toEqual({ host, port });
  });

  it.each(['', ':', 'localhost', 'http://0.0.0.0:9464', '0.0.0.0:65536', '0.0.0.0:-1', ' :9464', ':9464 ', '::1:9464', '-a:9464', 'a.:9464', '0.0.0.0:94x', '[::1]'])(
    '%j is refused', (text) => {
      expect(parseListenAddress(text)).toBeUndefined();
    });

  it('writes an address back as it can be typed', () => {
    expect(formatListenAddress({ host: undefined, port: 9464 })).toBe(':9464');
    expect(formatListenAddress({ host: '::', port: 9464 })).toBe('[::]:9464');
    expect(formatListenAddress({ host: '127.0.0.1', port: 1 })).toBe('127.0.0.1:1');
  });

  it('is a setting with an environment variable; a bad one names its source; --linger is a duration defaulting to 0', () => {
    const base = { flags: {}, readFile: () => '' };
    expect(resolveConfig({ ...base, env: { BERTH_HTTP: ':9464', BERTH_LINGER: '30s' } })).toMatchObject({ http: { host: undefined, port: 9464 }, lingerMs: 30_000 });
    expect(resolveConfig({ ...base, env: {} })).toMatchObject({ http: undefined, lingerMs: 0 });
    expect(() => resolveConfig({ ...base, env: { BERTH_HTTP: 'localhost' } })).toThrow(/BERTH_HTTP \(environment\): "localhost" is not a listen address/);
    expect(() => resolveConfig({ ...base, flags: { linger: 'soon' }, env: {} })).toThrow(/--linger \(flag\): "soon" is not a duration/);
    // In a config file, like every duration: a string or a number of seconds.
    const file = { path: 'berth.config.json', baseDir: '/app', values: { http: '0.0.0.0:9464', linger: 45 } };
    expect(resolveConfig({ ...base, env: {}, file })).toMatchObject({ http: { host: '0.0.0.0', port: 9464 }, lingerMs: 45_000 });
  });
});

const NOW = 1_800_000_000_000;
const idle = (session: ProgressSnapshot['session']): ProgressSnapshot => ({
  phase: 'running', current: null, pending: null, applied: 0, migration: null, lockWait: null, lockWaitMs: 0, session,
});

describe('/healthz', () => {
  it('is ok with no session open (before connecting, after the run)', () => {
    expect(health(undefined, NOW).ok).toBe(true);
    expect(health(idle(null), NOW).ok).toBe(true);
  });

  it('is ok while a statement of any length is in flight, and while the idle session heartbeats', () => {
    expect(health(idle({ lost: false, busySince: NOW - 3_600_000, lastRoundTripAt: NOW - 3_600_000, heartbeat: { everyMs: 5_000, pendingSince: null } }), NOW))
      .toEqual({ ok: true, reason: 'alive; a statement has been in flight for 1h' });
    expect(health(idle({ lost: false, busySince: null, lastRoundTripAt: NOW - 6_000, heartbeat: { everyMs: 5_000, pendingSince: null } }), NOW).ok).toBe(true);
  });

  it('fails when the session was lost, a heartbeat goes unanswered, or an idle session fell silent', () => {
    expect(health(idle({ lost: true, busySince: null, lastRoundTripAt: NOW }), NOW)).toMatchObject({ ok: false, reason: 'the database session was lost' });
    expect(health(idle({ lost: false, busySince: NOW - 20_000, lastRoundTripAt: NOW - 25_000, heartbeat: { everyMs: 5_000, pendingSince: NOW - 20_000 } }), NOW))
      .toMatchObject({ ok: false, reason: 'the server has not answered a heartbeat for 20s' });
    expect(health(idle({ lost: false, busySince: null, lastRoundTripAt: NOW - 16_000, heartbeat: { everyMs: 5_000, pendingSince: null } }), NOW).ok).toBe(false);
  });

  it('does not judge silence where the driver has no heartbeat', () => {
    expect(health(idle({ lost: false, busySince: null, lastRoundTripAt: NOW - 600_000 }), NOW).ok).toBe(true);
  });
});

describe('/readyz', () => {
  const state = (outcome: { exitCode: number; pending: number | null } | undefined) => ({ progress: () => undefined, outcome: () => outcome });
  it('is ready only once the command succeeded with nothing pending', () => {
    expect(readiness(state(undefined)).ok).toBe(false);
    expect(readiness(state({ exitCode: 0, pending: 0 }))).toEqual({ ok: true, reason: 'the schema is current' });
    expect(readiness(state({ exitCode: 0, pending: 2 })).reason).toBe('finished with 2 migration(s) pending');
    expect(readiness(state({ exitCode: 4, pending: null })).reason).toBe('finished with exit code 4');
    expect(readiness(state({ exitCode: 0, pending: null })).ok).toBe(false);
  });
});

describe('progress()', () => {
  it('follows the events: lock wait, running migration and its elapsed time, applied and pending', async () => {
    const tracker = new ProgressTracker();
    let release = (): void => undefined;
    const running = tracker.run(() => new Promise<void>((r) => { release = r; }));
    const table = 'public.berth_migrations';
    tracker.observe({ event: 'connect.attempt', attempt: 1, target: 'postgres://x' }, NOW);
    expect(tracker.snapshot(null, NOW).phase).toBe('connecting');
    tracker.observe({ event: 'connect.ok', attempt: 1, target: 'postgres://x', serverVersion: '16', durationMs: 1 }, NOW);
    tracker.observe({ event: 'lock.wait', lockWaitMs: 50, holder: null, table }, NOW);
    tracker.observe({ event: 'lock.wait', lockWaitMs: 5_050, holder: null, table }, NOW + 5_000);
    expect(tracker.snapshot(null, NOW + 7_000)).toMatchObject({ phase: 'waiting-for-lock', lockWait: { since: NOW - 50, elapsedMs: 7_050 } });
    tracker.observe({ event: 'lock.acquired', lockWaitMs: 8_000, table }, NOW + 7_950);
    tracker.observe({ event: 'plan.ready', current: 3, pending: 2, toApply: 2, dryRun: false, table }, NOW + 8_000);
    tracker.observe({ event: 'migration.start', version: 4, name: 'd', file: '4_d.up.sql', transaction: true, index: 1, total: 2 }, NOW + 8_000);
    expect(tracker.snapshot(null, NOW + 9_500)).toMatchObject({
      phase: 'running', current: 3, pending: 2, applied: 0, lockWait: null, lockWaitMs: 8_000,
      migration: { version: 4, name: 'd', direction: 'up', elapsedMs: 1_500, index: 1, total: 2 },
    });
    tracker.observe({ event: 'migration.applied', version: 4, name: 'd', file: '4_d.up.sql', durationMs: 1_600 }, NOW + 9_600);
    expect(tracker.snapshot(null, NOW + 9_600)).toMatchObject({ current: 4, pending: 1, applied: 1, migration: null });
    release();
    await running;
    expect(tracker.snapshot(null).phase).toBe('idle');
  });
});
