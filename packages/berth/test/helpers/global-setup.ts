/**
 * Global setup for every vitest project that needs PostgreSQL (see `vitest.config.ts`).
 *
 * Resolves the admin URL (`pg-server.ts`: BERTH_TEST_PG_URL, else the local server, else an embedded
 * one) and provides it to test files as `inject('pgAdminUrl')` (typed in `context.ts`).
 *
 * Several projects may list this file. Vitest loads it once per project, each in its own module
 * graph, so the server is shared through `globalThis` with a reference count: the first project starts
 * (or finds) it, the last teardown sweeps this run's leftover databases and stops an embedded server.
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { dropRunDatabases, redactUrl, resolvePgServer, type ResolvedPgServer } from './pg-server.js';

interface SharedServer {
  users: number;
  runId: string;
  server: Promise<ResolvedPgServer>;
}

const KEY = Symbol.for('berth.test.pg-server');
const registry = globalThis as typeof globalThis & { [KEY]?: SharedServer };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (registry[KEY] ??= {
    users: 0,
    runId: `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`,
    server: resolvePgServer(),
  });
  shared.users++;
  let server: ResolvedPgServer;
  try {
    server = await shared.server;
  } catch (error) {
    shared.users--;
    if (shared.users === 0) delete registry[KEY];
    throw error;
  }

  project.provide('pgAdminUrl', server.adminUrl);
  project.provide('pgServer', { source: server.source, serverVersion: server.serverVersion });
  project.provide('testRunId', shared.runId);

  return async () => {
    shared.users--;
    if (shared.users > 0) return;
    delete registry[KEY];
    try {
      const leftovers = await dropRunDatabases(server.adminUrl, shared.runId);
      if (leftovers.length > 0) {
        console.warn(
          `[berth-test] dropped ${leftovers.length} test database(s) that their tests did not drop ` +
            `(call drop() in afterAll, or use useTestDatabase()): ${leftovers.join(', ')}`,
        );
      }
    } catch (error) {
      console.warn(`[berth-test] could not sweep test databases on ${redactUrl(server.adminUrl)}: ${String(error)}`);
    } finally {
      await server.stop();
    }
  };
}
