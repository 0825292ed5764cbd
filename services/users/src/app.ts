import { createServiceApp, type Logger } from '@berth-example/service-kit';
import type { FastifyInstance } from 'fastify';
import type { UsersConfig } from './config.js';
import { UsersRepository } from './users/repository.js';
import { usersRoutes } from './users/routes.js';

export interface UsersAppDeps {
  readonly config: UsersConfig;
  readonly logger?: Logger;
  /** How long `/ready` reuses a result (ms); tests pass 0. */
  readonly readinessCacheMs?: number;
}

/** The users service, ready for `inject()` or `listen()`; `close()` ends its pool. */
export function buildApp(deps: UsersAppDeps): FastifyInstance {
  const { app, pool } = createServiceApp({ name: 'users', ...deps });
  void app.register(usersRoutes, { repository: new UsersRepository(pool) });
  return app;
}
