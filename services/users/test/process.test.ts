/**
 * The built service as a child process, laid out as in the container image: `dist/main.js` and
 * `migrations/` copied into a directory with no node_modules anywhere above it. Covers start-up
 * configuration errors, MIGRATE_ON_START, and graceful shutdown with a request in flight.
 * Needs `npm run build -w @berth-example/users` (npm test does it).
 */
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonLines, makeTempDir, runNode, spawnNode, useTestDatabase } from '@berth-example/service-kit/testing';
import { describe, expect, it } from 'vitest';

const PACKAGE = fileURLToPath(new URL('../', import.meta.url));
let installed: string | undefined;

/** `<tmp>/app/dist/main.js` beside `<tmp>/app/migrations/`: what the Dockerfile copies. */
function main(): string {
  if (installed) return installed;
  const bundle = join(PACKAGE, 'dist/main.js');
  if (!existsSync(bundle)) throw new Error(`${bundle} does not exist: npm run build -w @berth-example/users (npm test does it)`);
  const app = join(makeTempDir('users-image-'), 'app');
  cpSync(bundle, join(app, 'dist/main.js'));
  cpSync(join(PACKAGE, 'migrations'), join(app, 'migrations'), { recursive: true });
  return (installed = join(app, 'dist/main.js'));
}

describe('users service process', () => {
  const db = useTestDatabase('svc_users_proc');

  it('exits 1 at start-up naming every missing or invalid key', async () => {
    const result = await runNode([main()], { env: { PORT: 'http', DATABASE_URL_FILE: '/nonexistent/secret' }, timeoutMs: 20_000 });
    expect(result.code).toBe(1);
    const [line] = jsonLines(result.stdout);
    expect(line).toMatchObject({ level: 'fatal', service: 'users' });
    expect(line?.issues).toEqual([
      { key: 'DATABASE_URL', source: 'DATABASE_URL_FILE', problem: 'cannot read /nonexistent/secret (ENOENT)' },
      { key: 'PORT', source: 'environment', problem: 'must be an integer from 0 to 65535' },
    ]);
  });

  it('migrates on start when asked, and on SIGTERM lets an in-flight request finish', async () => {
    const service = spawnNode([main()], {
      env: { DATABASE_URL: db().url, PORT: '0', HOST: '127.0.0.1', MIGRATE_ON_START: 'true', DEBUG_DELAY_ENDPOINT: 'true', SHUTDOWN_TIMEOUT: '20s' },
    });
    const [, url] = await service.waitForOutput(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 30_000, 'stdout');
    expect(jsonLines(service.stdout)).toContainEqual(expect.objectContaining({ msg: 'migrations on start finished', applied: 6, current: 6 }));
    expect(await (await fetch(`${url}/ready`)).json()).toEqual({ status: 'ready', schemaVersion: 6 });

    const slow = fetch(`${url}/debug/delay?ms=1500`, { headers: { 'x-request-id': 'slow-1' } });
    await service.waitForOutput(/"requestId":"slow-1".*"incoming request"/, 10_000, 'stdout');
    service.kill('SIGTERM');
    await service.waitForOutput(/"msg":"shutting down/, 10_000, 'stdout');

    // New connections are refused once shutdown began; the request in flight still completes.
    await expect.poll(() => fetch(`${url}/health`).then(() => 'answered', (error: Error) => String((error.cause as { code?: string })?.code)), { timeout: 5_000 })
      .toBe('ECONNREFUSED');
    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ delayedMs: 1500 });

    const exit = await service.exited;
    expect(exit.code).toBe(0);
    const messages = jsonLines(exit.stdout).map((l) => l.msg);
    expect(messages.indexOf('stopped')).toBeGreaterThan(messages.lastIndexOf('request completed'));
  });

  it('cuts off requests still running after SHUTDOWN_TIMEOUT and exits 1', async () => {
    const service = spawnNode([main()], {
      env: { DATABASE_URL: db().url, PORT: '0', HOST: '127.0.0.1', DEBUG_DELAY_ENDPOINT: 'true', SHUTDOWN_TIMEOUT: '300ms' },
    });
    const [, url] = await service.waitForOutput(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 30_000, 'stdout');
    const slow = fetch(`${url}/debug/delay?ms=30000`, { headers: { 'x-request-id': 'too-slow' } });
    await service.waitForOutput(/"requestId":"too-slow".*"incoming request"/, 10_000, 'stdout');
    service.kill('SIGTERM');

    await expect(slow).rejects.toThrow();
    const exit = await service.exited;
    expect(exit.code).toBe(1);
    expect(jsonLines(exit.stdout)).toContainEqual(expect.objectContaining({ level: 'error', msg: 'shutdown deadline passed: closing the remaining connections' }));
  });
});
