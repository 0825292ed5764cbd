/**
 * The users service's configuration: only the keys every service has (docs/reference-system.md,
 * "Service environment"). The only module of this service that reads `process.env`.
 */
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import { BASE_DEFAULTS, baseShape, parseEnv, serviceConfig, type ConfigSource, type ServiceConfig } from '@berth-example/service-kit';

/** `migrations/` beside `src/` and `dist/`, so the default holds for the sources and the bundle. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

const schema = z.object(baseShape);

export type UsersConfig = ServiceConfig;

export function loadConfig(source: ConfigSource = { env: process.env }): UsersConfig {
  const values = parseEnv(schema, { ...BASE_DEFAULTS, MIGRATIONS_DIR: DEFAULT_MIGRATIONS_DIR }, source);
  return Object.freeze(serviceConfig(values));
}
