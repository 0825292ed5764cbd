/**
 * The part of every service's `buildApp()` that is not its API: a fastify instance with JSON logs
 * and request ids, the error format, `/health`, `/ready`, `/metrics`, the test-only
 * `/debug/delay`, and a pool that is closed when the app closes. It does not listen (STYLE §8:
 * tests use `app.inject()`; `runService` listens).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { ServiceConfig } from './config.js';
import { HttpError, isDatabaseUnavailable } from './errors.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createPool } from './pool.js';
import { ReadinessProbe } from './readiness.js';

export const REQUEST_ID_HEADER = 'x-request-id';
/** Accepted incoming request ids: what tracing systems and proxies send, and nothing that could forge log lines. */
const REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;
/** Request bodies are small JSON documents (bytes). */
const BODY_LIMIT = 64 * 1024;
/** Upper bound of `/debug/delay?ms=` (ms). */
const MAX_DEBUG_DELAY_MS = 60_000;

export interface ServiceAppOptions {
  /** Service name: the `service` log field, the pool's application_name, the metrics' `service` label. */
  readonly name: string;
  readonly config: ServiceConfig;
  /** Default: a new JSON logger at `config.logLevel`. */
  readonly logger?: Logger;
  /** How long `/ready` reuses a result (ms); tests pass 0. */
  readonly readinessCacheMs?: number;
}

export interface ServiceApp {
  readonly app: FastifyInstance;
  /** The app role's pool; ended by `app.close()`. */
  readonly pool: pg.Pool;
  readonly readiness: ReadinessProbe;
}

export function createServiceApp(options: ServiceAppOptions): ServiceApp {
  const { name, config } = options;
  const logger = options.logger ?? createLogger(name, config.logLevel);
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    requestIdHeader: false,
    genReqId: (request) => {
      const incoming = request.headers[REQUEST_ID_HEADER];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    bodyLimit: BODY_LIMIT,
    // While closing, requests arriving on kept-alive connections get a 503 (and new connections are refused).
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  const pool = createPool(name, config, logger);
  const readiness = new ReadinessProbe({
    pool, databaseUrl: config.databaseUrl, migrationsDir: config.migrationsDir,
    ...(options.readinessCacheMs === undefined ? {} : { cacheMs: options.readinessCacheMs }),
  });
  const metrics = createMetrics(name, pool, readiness);

  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', statusCode: reply.statusCode },
      reply.elapsedTime / 1000,
    );
  });
  // close(): `/ready` says "shutting down" from the start; responses of requests still in flight
  // carry `Connection: close`, so their kept-alive sockets do not hold the shutdown open until the
  // keep-alive timeout; the pool ends once in-flight requests finished.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    readiness.stop('shutting down');
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    await pool.end();
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpError) return reply.status(error.statusCode).send(error.toJSON());
    if (error.validation) {
      return reply.status(400).send({ error: { code: 'INVALID_REQUEST', message: error.message } });
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.status(error.statusCode).send({ error: { code: error.code ?? 'BAD_REQUEST', message: error.message } });
    }
    if (isDatabaseUnavailable(error)) {
      request.log.error({ err: error }, 'database unavailable');
      return reply.status(503).send({ error: { code: 'DATABASE_UNAVAILABLE', message: 'the database is not available' } });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${request.url.split('?')[0]}` } });
  });

  // Liveness: the process serves. It never looks at the database (a database outage must not
  // restart every pod).
  app.get('/health', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

  app.get('/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const result = await readiness.get();
    if (result.ready) return { status: 'ready', schemaVersion: result.schemaVersion };
    return reply.status(503).send({ status: 'not ready', reason: result.reason });
  });

  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

  // Opt-in (DEBUG_DELAY_ENDPOINT=true), for tests of graceful shutdown: a request that stays in
  // flight for `ms` milliseconds. Not registered at all otherwise.
  if (config.debugDelayEndpoint) {
    app.get<{ Querystring: { ms: number } }>('/debug/delay', {
      schema: { querystring: { type: 'object', properties: { ms: { type: 'integer', minimum: 0, maximum: MAX_DEBUG_DELAY_MS } }, required: ['ms'] } },
    }, async (request) => {
      await sleep(request.query.ms);
      return { delayedMs: request.query.ms };
    });
  }

  return { app, pool, readiness };
}
