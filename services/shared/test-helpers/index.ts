/**
 * Test helpers of the services (`@berth-example/service-kit/testing`): a database per test file
 * (berth's harness: `useTestDatabase`), migrations applied with the berth library, a clean
 * service environment, and the process helpers of berth's CLI tests (spawned children are killed
 * when the file ends).
 */
import { createServer } from 'node:net';
import { createMigrator } from 'berth';
import type { Env } from '../src/config.js';

export { useTestDatabase, createTestDatabase, query, withDatabase, type TestDatabase } from '../../../packages/berth/test/helpers/db.js';
export { spawnNode, runNode, jsonLines, makeTempDir, type SpawnedProcess, type RunResult } from '../../../packages/berth/test/helpers/cli.js';

/** Applies every migration in `dir` to `databaseUrl`, as berth does in a migrator Job. */
export async function migrate(databaseUrl: string, dir: string): Promise<number | null> {
  const migrator = createMigrator({ databaseUrl, dir });
  try {
    return (await migrator.up()).current;
  } finally {
    await migrator.close();
  }
}

/** A service environment for `loadConfig({ env })`: quiet logs, plus `extra`. */
export function serviceEnv(databaseUrl: string, extra: Env = {}): Env {
  return { DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...extra };
}

/** A local port on which nothing listens (it was free a moment ago): a "connection refused" target. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The value of the first sample of `name` whose labels include `labels` (Prometheus text format). */
export function metricSample(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) return Number(match[3]);
  }
  return undefined;
}
