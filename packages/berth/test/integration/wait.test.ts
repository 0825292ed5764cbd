import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, writeMigrations } from '../helpers/cli.js';
import { query, useTestDatabase } from '../helpers/db.js';
import { reserveClosedPort, startDelayedProxy } from '../helpers/tcp-proxy.js';

const PASSWORD = 'Wait-Secret-9f3k';

/**
 * The URL with a password that must never be printed: the server's own, where it needs one (the
 * embedded server the harness starts where none answers), else a made-up one (trust auth).
 */
function withPassword(url: string, host?: string, port?: number): string {
  const u = new URL(url);
  if (!u.password) u.password = PASSWORD;
  if (host !== undefined) u.hostname = host;
  if (port !== undefined) u.port = String(port);
  return u.toString();
}
const passwordOf = (url: string) => decodeURIComponent(new URL(url).password);

describe('waiting for the database', () => {
  const db = useTestDatabase('wait');

  it('--wait 20s succeeds once a port that was closed starts accepting', async () => {
    const target = new URL(db().url);
    const proxy = await startDelayedProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432), delayMs: 3_000 });
    try {
      const dir = writeMigrations({ '1_one.up.sql': 'CREATE TABLE one (id int);' });
      const url = withPassword(db().url, '127.0.0.1', proxy.port);
      const result = await runBerth(['migrate', '--dir', dir, '--wait', '20s', '--log-format', 'json'], { env: { DATABASE_URL: url } });
      expect(result.code, result.stderr).toBe(0);
      const events = jsonLines(result.stderr);
      const retries = events.filter((e) => e.event === 'connect.retry');
      expect(retries.length).toBeGreaterThan(0);
      expect(retries[0]).toMatchObject({ attempt: 1 });
      expect(String(retries[0]?.reason)).toMatch(/refused/);
      expect(events.some((e) => e.event === 'connect.ok')).toBe(true);
      expect(result.stdout + result.stderr).not.toContain(passwordOf(url));
      const rows = await db().admin.query("SELECT version FROM berth_migrations WHERE status = 'applied'");
      expect(rows.rows).toEqual([{ version: '1' }]);
    } finally {
      await proxy.close();
    }
  });

  it('--wait 2s against a closed port exits 3 within 5 s, naming host and port', async () => {
    const port = await reserveClosedPort();
    const dir = writeMigrations({ '1_one.up.sql': 'SELECT 1;' });
    const result = await runBerth(['migrate', '--dir', dir, '--wait', '2s'], {
      env: { DATABASE_URL: `postgres://app:${PASSWORD}@127.0.0.1:${port}/app` },
    });
    expect(result.code).toBe(3);
    expect(result.durationMs).toBeLessThan(5_000);
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it('berth wait: an unreachable host name exits 3 without printing the password', async () => {
    const result = await runBerth(['wait', '--wait', '1s', '-d', `postgres://app:${PASSWORD}@no-such-host.invalid:5432/app`]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('no-such-host.invalid:5432');
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it('a database that does not exist is not retried: exit 6 at once', async () => {
    const u = new URL(withPassword(db().url));
    u.pathname = '/berth_no_such_database';
    const result = await runBerth(['wait', '--wait', '30s', '-d', u.toString()]);
    expect(result.code).toBe(6);
    expect(result.durationMs).toBeLessThan(10_000);
    expect(result.stderr).toMatch(/berth_no_such_database.*does not exist/);
    expect(result.stdout + result.stderr).not.toContain(passwordOf(u.toString()));
  });

  it('a read-only target is refused with exit 6', async () => {
    const ro = db().name;
    await query(db().adminUrl, `ALTER DATABASE ${ro} SET default_transaction_read_only = on`);
    try {
      const result = await runBerth(['wait', '-d', db().url]);
      expect(result.code).toBe(6);
      expect(result.stderr).toMatch(/read-only/);
    } finally {
      // From the admin database: a session in the read-only database cannot run ALTER DATABASE.
      await query(db().adminUrl, `ALTER DATABASE ${ro} RESET default_transaction_read_only`);
    }
  });

  it('a URL that cannot be parsed is refused with exit 2, without echoing it or connecting', async () => {
    const result = await runBerth(['migrate', '-d', `postgres://app:${PASSWORD}@[bad-host/app`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot be used/);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
    expect(result.stderr).not.toContain('connect.attempt');
  });

  it('no URL at all is exit 2 naming DATABASE_URL', async () => {
    const result = await runBerth(['migrate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DATABASE_URL');
  });
});
