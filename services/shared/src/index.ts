/**
 * @berth-example/service-kit: what the users and orders services share, one piece of code per
 * idea. A service supplies its config schema (`parseEnv` with `baseShape`), its routes and its
 * migrations; this package does the rest.
 */
export {
  parseEnv, serviceConfig, baseShape, BASE_DEFAULTS, ServiceConfigError, duration, bool, integer, postgresUrl, httpUrl, LOG_LEVELS,
} from './config.js';
export type { Env, ConfigSource, ConfigIssue, ServiceConfig } from './config.js';
export { parseDuration } from 'berth';
export { HttpError, isDatabaseUnavailable } from './errors.js';
export { createLogger, type Logger } from './logger.js';
export { createPool } from './pool.js';
export { ReadinessProbe, DEFAULT_READINESS_CACHE_MS, type Readiness } from './readiness.js';
export { createMetrics, type ServiceMetrics } from './metrics.js';
export { createServiceApp, REQUEST_ID_HEADER, type ServiceApp, type ServiceAppOptions } from './app.js';
export { migrateOnStart, MIGRATE_ON_START_WAIT } from './migrate.js';
export { runService, EXIT, type RunServiceOptions } from './run.js';
