/**
 * The pg driver, connected to `url` the way the CLI connects to a real server, for tests that
 * call driver methods directly. The caller closes it.
 */
import { parseDatabaseUrl, type PostgresTarget } from '../../src/config/database-url.js';
import { openPgSession } from '../../src/drivers/postgres/pg-session.js';
import { PostgresDriver } from '../../src/drivers/postgres/postgres-driver.js';

export async function connectDriver(url: string): Promise<PostgresDriver> {
  const driver = new PostgresDriver({
    capabilities: { transactionalDdl: true, advisoryLocks: true, multipleConnections: true, transactionalScripts: true },
    open: (settings) => openPgSession({ target: parseDatabaseUrl(url) as PostgresTarget, applicationName: 'berth-test', connectTimeoutMs: 10_000 }, settings),
    statementTimeoutMs: 0,
    sessionLimits: false,
  });
  await driver.connect();
  return driver;
}
