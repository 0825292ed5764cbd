/** The service's connection pool (the app role). */
import pg from 'pg';
import type { Logger } from 'pino';
import type { ServiceConfig } from './config.js';

/** How long a request waits for a connection from the pool before failing (ms). */
const CONNECT_TIMEOUT_MS = 5_000;
/** Idle connections are closed after this long (ms). */
const IDLE_TIMEOUT_MS = 30_000;

export function createPool(service: string, config: Pick<ServiceConfig, 'databaseUrl' | 'dbPoolMax'>, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.dbPoolMax,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    application_name: service,
  });
  // An idle client whose server went away emits 'error'; without a listener that crashes the process.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  return pool;
}
