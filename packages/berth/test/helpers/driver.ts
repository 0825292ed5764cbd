/**
 * A driver connected to `url` the way the CLI connects one, through the registry, for tests that
 * call driver methods directly. The caller closes it (and `keeper.closeAll()` for pglite://).
 */
import { sessionKeeper } from '../../src/core/connect.js';
import type { Driver } from '../../src/drivers/driver.js';
import { driverFor, parseDatabaseUrl } from '../../src/drivers/registry.js';

export async function connectDriver(url: string, keeper = sessionKeeper()): Promise<Driver> {
  const target = parseDatabaseUrl(url);
  const driver = await driverFor(target).create(target, { applicationName: 'berth-test', connectTimeoutMs: 10_000, keeper });
  await driver.connect();
  return driver;
}
