/**
 * One JSON line per event on stdout (pino, fastify's logger). Request-scoped lines carry
 * `requestId`; every line carries `service`.
 */
import { hostname } from 'node:os';
import { destination, pino, stdTimeFunctions, type Logger } from 'pino';
import type { ServiceConfig } from './config.js';

export type { Logger };

export function createLogger(service: string, level: ServiceConfig['logLevel'] | string = 'info'): Logger {
  // Synchronous writes: lines stay in order and none is lost when the process exits right after
  // logging (shutdown, start-up failures). The services log a few lines per request.
  return pino({
    level,
    base: { service, pid: process.pid, hostname: hostname() },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Never log credentials, should a URL or header end up in a log object.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.databaseUrl', '*.migrationDatabaseUrl'], censor: '[redacted]' },
  }, destination({ dest: 1, sync: true }));
}
