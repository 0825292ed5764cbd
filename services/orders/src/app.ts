import { createServiceApp, type Logger } from '@berth-example/service-kit';
import type { FastifyInstance } from 'fastify';
import type { OrdersConfig } from './config.js';
import { OrdersRepository } from './orders/repository.js';
import { ordersRoutes } from './orders/routes.js';
import { UsersClient } from './users-client/users-client.js';

export interface OrdersAppDeps {
  readonly config: OrdersConfig;
  readonly logger?: Logger;
  /** How long `/ready` reuses a result (ms); tests pass 0. */
  readonly readinessCacheMs?: number;
}

/** The orders service, ready for `inject()` or `listen()`; `close()` ends its pool. */
export function buildApp(deps: OrdersAppDeps): FastifyInstance {
  const { config } = deps;
  const { app, pool } = createServiceApp({ name: 'orders', ...deps });
  const users = new UsersClient({ baseUrl: config.usersServiceUrl, timeoutMs: config.usersTimeoutMs, retries: config.usersRetries });
  void app.register(ordersRoutes, { repository: new OrdersRepository(pool), users });
  return app;
}
