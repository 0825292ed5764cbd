/**
 * The orders service's configuration: the keys every service has, plus how to reach the users
 * service (docs/reference-system.md, "Service environment"). The only module of this service that
 * reads `process.env`.
 */
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import {
  BASE_DEFAULTS, baseShape, duration, httpUrl, integer, parseEnv, serviceConfig, type ConfigSource, type ServiceConfig,
} from '@berth-example/service-kit';

/** `migrations/` beside `src/` and `dist/`, so the default holds for the sources and the bundle. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

const schema = z.object({
  ...baseShape,
  USERS_SERVICE_URL: httpUrl,
  USERS_TIMEOUT: duration,
  USERS_RETRIES: integer(0, 10),
});

const DEFAULTS = {
  ...BASE_DEFAULTS,
  MIGRATIONS_DIR: DEFAULT_MIGRATIONS_DIR,
  USERS_TIMEOUT: '2s', // per attempt
  USERS_RETRIES: '2', // after the first attempt; connection errors, timeouts and 5xx only
};

export interface OrdersConfig extends ServiceConfig {
  /** Base URL of the users service, without a trailing slash. */
  readonly usersServiceUrl: string;
  readonly usersTimeoutMs: number;
  readonly usersRetries: number;
}

export function loadConfig(source: ConfigSource = { env: process.env }): OrdersConfig {
  const values = parseEnv(schema, DEFAULTS, source);
  return Object.freeze({
    ...serviceConfig(values),
    usersServiceUrl: values.USERS_SERVICE_URL.replace(/\/+$/, ''),
    usersTimeoutMs: values.USERS_TIMEOUT,
    usersRetries: values.USERS_RETRIES,
  });
}
