/**
 * A service's `main`: config (exit 1 naming the key), optional migrations on start, listen, and
 * graceful shutdown.
 *
 * On SIGTERM or SIGINT: the listening socket closes (new connections are refused; requests on
 * kept-alive connections get 503), `/ready` turns 503, in-flight requests finish, then the pool
 * closes and the process exits 0. Whatever is still running after SHUTDOWN_TIMEOUT is cut off
 * and the process exits 1. A second signal exits 1 at once. A signal during MIGRATE_ON_START
 * cancels the running migration on the server (berth rolls it back) and exits with berth's code.
 */
import { BerthError } from 'berth';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ServiceConfigError, type ServiceConfig } from './config.js';
import { createLogger } from './logger.js';
import { migrateOnStart } from './migrate.js';

export interface RunServiceOptions<C extends ServiceConfig> {
  readonly name: string;
  /** Reads and validates the environment; throws ServiceConfigError. */
  readonly loadConfig: () => C;
  readonly buildApp: (deps: { config: C; logger: Logger }) => FastifyInstance;
}

/** Exit codes of the service process (berth's own codes pass through for MIGRATE_ON_START). */
export const EXIT = Object.freeze({ ok: 0, failure: 1 });

export async function runService<C extends ServiceConfig>(options: RunServiceOptions<C>): Promise<void> {
  let config: C;
  try {
    config = options.loadConfig();
  } catch (error) {
    const logger = createLogger(options.name);
    if (error instanceof ServiceConfigError) {
      logger.fatal({ issues: error.issues }, error.message);
    } else {
      logger.fatal({ err: error }, 'cannot read the configuration');
    }
    process.exit(EXIT.failure);
  }

  const logger = createLogger(options.name, config.logLevel);
  const startup = new AbortController();
  let phase: 'starting' | 'serving' | 'stopping' = 'starting';
  let app: FastifyInstance | undefined;

  const stop = (code: number): never => process.exit(code);

  const closeApp = (server: FastifyInstance) => {
    const deadline = setTimeout(() => {
      logger.error({ shutdownTimeoutMs: config.shutdownTimeoutMs }, 'shutdown deadline passed: closing the remaining connections');
      server.server.closeAllConnections();
      stop(EXIT.failure);
    }, config.shutdownTimeoutMs);
    server.close().then(
      () => {
        clearTimeout(deadline);
        logger.info('stopped');
        stop(EXIT.ok);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        stop(EXIT.failure);
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (phase === 'stopping') {
      logger.warn({ signal }, 'second signal: exiting now');
      stop(EXIT.failure);
    }
    const wasServing = phase === 'serving';
    phase = 'stopping';
    logger.info({ signal, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'shutting down: refusing new connections, letting in-flight requests finish');
    startup.abort(new Error(`${signal} received`));
    if (wasServing && app) closeApp(app);
    // While starting, the start-up code below sees the abort and exits.
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  if (config.migrateOnStart) {
    try {
      await migrateOnStart(config, logger, startup.signal);
    } catch (error) {
      logger.fatal({ err: error }, 'migrations on start failed');
      stop(error instanceof BerthError ? error.exitCode : EXIT.failure);
    }
  }
  if (startup.signal.aborted) {
    logger.info('stopped before listening');
    stop(EXIT.ok);
  }

  app = options.buildApp({ config, logger });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    logger.fatal({ err: error, port: config.port, host: config.host }, 'cannot listen');
    stop(EXIT.failure);
  }
  if (startup.signal.aborted) {
    closeApp(app);
  } else {
    phase = 'serving';
  }
}
