import type { Migrator, MigratorOptions } from './api.js';
import { awaitSchema, wait } from './operations/await.js';
import { down } from './operations/down.js';
import { baseline, repair, resolve } from './operations/history.js';
import { check, status, validate } from './operations/status.js';
import { up } from './operations/up.js';
import { createSession } from './session.js';
import { settle } from './settings.js';

export type * from './api.js';
export { DEFAULT_DIR, DEFAULT_TABLE, DEFAULT_LOCK_TIMEOUT_MS } from './settings.js';

/**
 * A migrator for one database and one migrations directory (SPEC §7): every option is validated
 * here, at once (ConfigError, exit 2); each operation then connects, does its work and closes.
 * `close()` ends what outlives one operation (an embedded database).
 */
export function createMigrator(options: MigratorOptions): Migrator {
  const session = createSession(settle(options), options);
  const migrator: Migrator = {
    status: () => status(session),
    up: (upOptions = {}) => up(session, upOptions),
    down: (target) => down(session, target),
    validate: (validateOptions = {}) => validate(session, validateOptions),
    repair: () => repair(session),
    resolve: (version, outcome) => resolve(session, version, outcome),
    baseline: (target) => baseline(session, target),
    check: (checkOptions = {}) => check(session, checkOptions),
    awaitSchema: (awaitOptions) => awaitSchema(session, awaitOptions),
    wait: () => wait(session),
    close: () => session.close(),
  };
  return Object.freeze(migrator);
}
