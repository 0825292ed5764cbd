import type { Migrator, MigratorOptions } from './api.js';
import { awaitSchema, wait } from './operations/await.js';
import { down } from './operations/down.js';
import { baseline, repair, resolve } from './operations/history.js';
import { check, status, validate } from './operations/status.js';
import { up } from './operations/up.js';
import { createSession } from './session.js';
import { settle } from './settings.js';

export type * from './api.js';
export type { ProgressSnapshot, MigrationInProgress, SessionActivity } from './progress.js';
export { DEFAULT_DIR, DEFAULT_TABLE, DEFAULT_LOCK_TIMEOUT_MS } from './settings.js';

/**
 * A migrator for one database and one migrations directory (SPEC §7): every option is validated
 * here, at once (ConfigError, exit 2); each operation then connects, does its work and closes.
 * `close()` ends what outlives one operation (an embedded database).
 */
export function createMigrator(options: MigratorOptions): Migrator {
  const session = createSession(settle(options), options);
  const t = session.track;
  const migrator: Migrator = {
    status: () => t(() => status(session)),
    up: (upOptions = {}) => t(() => up(session, upOptions)),
    down: (target) => t(() => down(session, target)),
    validate: (validateOptions = {}) => t(() => validate(session, validateOptions)),
    repair: () => t(() => repair(session)),
    resolve: (version, outcome) => t(() => resolve(session, version, outcome)),
    baseline: (target) => t(() => baseline(session, target)),
    check: (checkOptions = {}) => t(() => check(session, checkOptions)),
    awaitSchema: (awaitOptions) => t(() => awaitSchema(session, awaitOptions)),
    wait: () => t(() => wait(session)),
    progress: () => session.progress(),
    close: () => session.close(),
  };
  return Object.freeze(migrator);
}
