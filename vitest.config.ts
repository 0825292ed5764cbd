import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

/**
 * Test projects (`vitest run --project <name>`):
 * - `unit`: pure tests, no server, no child processes.
 * - `integration`: real PostgreSQL (local, `BERTH_TEST_PG_URL`, or an embedded one started by the
 *   global setup) and the real CLI spawned as a process (`npm test` builds it first).
 * - `services`: the reference services (`services/*`): `buildApp()` + `inject()` against a real
 *   PostgreSQL, and the built `dist/main.js` spawned as a process (`npm test` builds it first).
 * - `deploy`: static checks of deploy/ and the Dockerfiles (linters, schemas, the rendered Helm chart).
 * - `deploy-db`: the deploy/initdb script against the real PostgreSQL.
 * - `e2e`: the whole reference system as the processes compose.yaml declares (deploy/test/e2e), and
 *   `npm start`'s script, against the real PostgreSQL (`npm test` builds berth and the services first).
 * - `containers`: the reference system in real containers (deploy/test/containers): Docker Engine
 *   with Compose v2 and podman, started by its global setup on private paths. Not part of
 *   `npm test` (minutes, and root); `npm run test:containers`, and `.ci/run` after the others.
 *
 * To add a project that needs PostgreSQL (e.g. a service), spread `withPostgres`: the global setup
 * shares one server between all projects that list it.
 */

/** Per test and per hook: integration tests spawn processes and wait on a real server, on 2 cores (ms). */
const INTEGRATION_TIMEOUT_MS = 60_000;

/** Per container test and hook: a Compose up, a kube play, a backup and restore, on 2 cores (ms). */
const CONTAINER_TIMEOUT_MS = 300_000;

/** Every project: per-file cleanup of spawned CLI processes and temp directories. */
const common = {
  environment: 'node',
  setupFiles: ['packages/berth/test/helpers/setup-file.ts'],
} satisfies NonNullable<TestProjectInlineConfiguration['test']>;

const withPostgres = {
  globalSetup: ['packages/berth/test/helpers/global-setup.ts'],
  testTimeout: INTEGRATION_TIMEOUT_MS,
  hookTimeout: INTEGRATION_TIMEOUT_MS,
} satisfies NonNullable<TestProjectInlineConfiguration['test']>;

export default defineConfig({
  test: {
    // One worker pool for all projects. Vitest refuses projects with different `maxWorkers` in the
    // same `sequence.groupOrder`, so the limit lives here rather than per project.
    // 2 = the CI machine's cores; each integration file also runs a server load and child processes.
    maxWorkers: 2,
    // Let a crashed CLI child or a slow server shutdown finish before vitest gives up on teardown (ms).
    teardownTimeout: 30_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/berth/test/unit/**/*.test.ts'],
          ...common,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['packages/berth/test/integration/**/*.test.ts'],
          ...common,
          ...withPostgres,
        },
      },
      {
        test: {
          name: 'services',
          include: ['services/*/test/**/*.test.ts'],
          ...common,
          ...withPostgres,
        },
      },
      {
        // Static checks of deploy/: Dockerfiles, Compose, Kubernetes manifests, the rendered Helm chart.
        test: {
          name: 'deploy',
          include: ['deploy/test/static/**/*.test.ts'],
          ...common,
          // Through vite rather than Node: it imports its JSON schema without an import attribute,
          // which Node 20 refuses. Its source maps name files it does not ship: drop them, or vite
          // warns once per module.
          server: { deps: { inline: ['@actions/workflow-parser'] } },
        },
        plugins: [
          {
            name: 'workflow-parser-without-source-maps',
            load(id: string) {
              if (!/[\\/]@actions[\\/]workflow-parser[\\/].*\.js$/.test(id)) return null;
              return { code: readFileSync(id, 'utf8').replace(/^\/\/# sourceMappingURL=.*$/gm, ''), map: null };
            },
          },
        ],
      },
      {
        // deploy/initdb against a real server.
        test: {
          name: 'deploy-db',
          include: ['deploy/test/db/**/*.test.ts'],
          ...common,
          ...withPostgres,
        },
      },
      {
        // The reference system in containers. Its own group, after every other project, one file at a
        // time: the files share one engine, and builds and containers need the machine's 2 cores.
        test: {
          name: 'containers',
          include: ['deploy/test/containers/**/*.test.ts'],
          ...common,
          globalSetup: ['deploy/test/containers/support/global-setup.ts'],
          testTimeout: CONTAINER_TIMEOUT_MS,
          hookTimeout: CONTAINER_TIMEOUT_MS,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The reference system end to end: init script, migrator replicas, service instances, npm start.
        test: {
          name: 'e2e',
          include: ['deploy/test/e2e/**/*.test.ts'],
          ...common,
          ...withPostgres,
        },
      },
    ],
  },
});
