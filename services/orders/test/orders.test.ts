/**
 * The orders service through `buildApp()` + `inject()`, against its own database, calling a real
 * users service (its app, listening on an ephemeral port, with its own database). Failure cases
 * use a closed port and a stub server that does not answer.
 */
import { createServer, type Server } from 'node:http';
import { closedPort, migrate, serviceEnv, useTestDatabase } from '@berth-example/service-kit/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp as buildUsersApp } from '../../users/src/app.js';
import { DEFAULT_MIGRATIONS_DIR as USERS_MIGRATIONS, loadConfig as loadUsersConfig } from '../../users/src/config.js';
import { buildApp } from '../src/app.js';
import { DEFAULT_MIGRATIONS_DIR, loadConfig } from '../src/config.js';

const usersDb = useTestDatabase('svc_orders_users');
const ordersDb = useTestDatabase('svc_orders');
let users: FastifyInstance;
let usersUrl: string;
/** X-Request-Id of every request the users service received. */
const seenRequestIds: string[] = [];
const opened: FastifyInstance[] = [];

function ordersApp(extra: Record<string, string>): FastifyInstance {
  const app = buildApp({ config: loadConfig({ env: serviceEnv(ordersDb().url, extra) }), readinessCacheMs: 0 });
  opened.push(app);
  return app;
}

beforeAll(async () => {
  await Promise.all([migrate(usersDb().url, USERS_MIGRATIONS), migrate(ordersDb().url, DEFAULT_MIGRATIONS_DIR)]);
  users = buildUsersApp({ config: loadUsersConfig({ env: serviceEnv(usersDb().url) }) });
  users.addHook('onRequest', async (request) => {
    seenRequestIds.push(String(request.headers['x-request-id']));
  });
  usersUrl = await users.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await Promise.all(opened.map((app) => app.close()));
  await users?.close();
});

describe('orders API with the users service up', () => {
  let app: FastifyInstance;
  let userId: number;
  beforeAll(async () => {
    app = ordersApp({ USERS_SERVICE_URL: usersUrl });
    const created = await users.inject({ method: 'POST', url: '/users', payload: { username: 'buyer', email: 'buyer@example.org' } });
    userId = created.json().id;
  });

  it('is ready once its migrations are applied', async () => {
    expect((await app.inject('/ready')).json()).toEqual({ status: 'ready', schemaVersion: 2 });
  });

  it('creates an order for an existing user, passing X-Request-Id on, and lists it', async () => {
    const created = await app.inject({
      method: 'POST', url: '/orders', payload: { userId, item: 'book', quantity: 2 }, headers: { 'x-request-id': 'order-req-7' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers['x-request-id']).toBe('order-req-7');
    expect(created.json()).toEqual({ id: expect.any(Number), userId, item: 'book', quantity: 2, createdAt: expect.any(String) });
    expect(seenRequestIds).toContain('order-req-7');

    const listed = await app.inject({ url: '/orders', query: { userId: String(userId) } });
    expect(listed.statusCode).toBe(200);
    expect(listed.json()).toEqual({ items: [created.json()] });
    expect((await app.inject('/orders?userId=999999')).json()).toEqual({ items: [] });
  });

  it('refuses an order for an unknown user with 422 USER_NOT_FOUND and stores nothing', async () => {
    const response = await app.inject({ method: 'POST', url: '/orders', payload: { userId: 999_999, item: 'pen', quantity: 1 } });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toEqual({ error: { code: 'USER_NOT_FOUND', message: 'user 999999 does not exist' } });
    const { rows } = await ordersDb().admin.query('select 1 from orders where user_id = 999999');
    expect(rows).toHaveLength(0);
  });

  it('refuses an invalid body with 400 without calling the users service', async () => {
    const before = seenRequestIds.length;
    const response = await app.inject({ method: 'POST', url: '/orders', payload: { userId, item: 'pen', quantity: 0 } });
    expect(response.statusCode).toBe(400);
    expect(seenRequestIds.length).toBe(before);
  });
});

describe('orders API with the users service down', () => {
  it('answers 503 USERS_UNAVAILABLE when nothing listens at USERS_SERVICE_URL', async () => {
    const app = ordersApp({ USERS_SERVICE_URL: `http://127.0.0.1:${await closedPort()}`, USERS_RETRIES: '1' });
    const response = await app.inject({ method: 'POST', url: '/orders', payload: { userId: 1, item: 'pen', quantity: 1 } });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: { code: 'USERS_UNAVAILABLE', message: expect.stringContaining('ECONNREFUSED') } });
  });

  it('gives up after USERS_TIMEOUT per attempt and USERS_RETRIES retries, then answers 503', async () => {
    let received = 0;
    const silent: Server = createServer(() => {
      received++; // never answers
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as { port: number };
      const app = ordersApp({ USERS_SERVICE_URL: `http://127.0.0.1:${port}/`, USERS_TIMEOUT: '200ms', USERS_RETRIES: '2' });
      const response = await app.inject({ method: 'POST', url: '/orders', payload: { userId: 1, item: 'pen', quantity: 1 } });
      expect(response.statusCode).toBe(503);
      expect(response.json().error).toEqual({ code: 'USERS_UNAVAILABLE', message: 'users service unavailable: no answer within 200 ms' });
      expect(received).toBe(3);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('retries a 5xx answer and succeeds when a retry gets through', async () => {
    let received = 0;
    const flaky: Server = createServer((request, response) => {
      received++;
      response.writeHead(received === 1 ? 503 : 200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = flaky.address() as { port: number };
      const app = ordersApp({ USERS_SERVICE_URL: `http://127.0.0.1:${port}`, USERS_RETRIES: '1' });
      const response = await app.inject({ method: 'POST', url: '/orders', payload: { userId: 5, item: 'pen', quantity: 1 } });
      expect(response.statusCode).toBe(201);
      expect(received).toBe(2);
    } finally {
      flaky.closeAllConnections();
      await new Promise((resolve) => flaky.close(resolve));
    }
  });
});
