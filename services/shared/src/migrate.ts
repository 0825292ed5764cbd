/**
 * MIGRATE_ON_START=true: the small-deployment pattern. Before it listens, the service applies its
 * migrations with the berth library, as the owner role (`MIGRATION_DATABASE_URL`), under berth's
 * advisory lock: several replicas starting at once take turns, and all but one find nothing to do.
 * Off by default; with more than a few replicas, or when the app role must not own the schema, run
 * `berth migrate` as its own step (Compose service, Job, Helm hook, CI) instead.
 */
import { createMigrator } from 'berth';
import type { Logger } from 'pino';
import type { ServiceConfig } from './config.js';

/** How long start-up waits for the database to accept connections. */
export const MIGRATE_ON_START_WAIT = '60s';

export async function migrateOnStart(config: ServiceConfig, logger: Logger, signal?: AbortSignal): Promise<void> {
  const log = logger.child({ component: 'berth' });
  const migrator = createMigrator({
    databaseUrl: config.migrationDatabaseUrl,
    dir: config.migrationsDir,
    wait: MIGRATE_ON_START_WAIT,
    onEvent: (event) => log.info(event, event.event),
    ...(signal ? { signal } : {}),
  });
  try {
    const result = await migrator.up();
    log.info({ applied: result.applied.length, current: result.current, lockWaitMs: result.lockWaitMs }, 'migrations on start finished');
  } finally {
    await migrator.close();
  }
}
