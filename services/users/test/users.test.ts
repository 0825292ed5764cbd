/**
 * The users service through `buildApp()` + `inject()`, against its own PostgreSQL database with
 * the migrations applied by the berth library.
 */
import { metricSample, migrate, serviceEnv, useTestDatabase, withDatabase } from '@berth-example/service-kit/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { DEFAULT_MIGRATIONS_DIR, loadConfig } from '../src/config.js';

const LATEST_VERSION = 6;
const db = useTestDatabase('svc_users');
let app: FastifyInstance;

beforeAll(async () => {
  app = buildApp({ config: loadConfig({ env: serviceEnv(db().url) }), readinessCacheMs: 0 });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
});

const createUser = (body: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/users', payload: body, headers });

describe('readiness', () => {
  it('is live at once, ready only after berth applied the migrations', async () => {
    expect((await app.inject('/health')).json()).toEqual({ status: 'ok' });

    const before = await app.inject('/ready');
    expect(before.statusCode).toBe(503);
    expect(before.json()).toEqual({ status: 'not ready', reason: expect.stringMatching(/schema not current: 6 migration\(s\) pending, the first 1/) });

    expect(await migrate(db().url, DEFAULT_MIGRATIONS_DIR)).toBe(LATEST_VERSION);

    const after = await app.inject('/ready');
    expect(after.statusCode).toBe(200);
    expect(after.json()).toEqual({ status: 'ready', schemaVersion: LATEST_VERSION });
  });
});

describe('users API', () => {
  beforeAll(async () => {
    await migrate(db().url, DEFAULT_MIGRATIONS_DIR); // a no-op when the readiness test ran
  });

  it('creates a user and gets it by id; X-Request-Id is echoed, or generated', async () => {
    const created = await createUser({ username: 'ada', email: 'ada@example.org' }, { 'x-request-id': 'req-ada-1' });
    expect(created.statusCode).toBe(201);
    expect(created.headers['x-request-id']).toBe('req-ada-1');
    const user = created.json();
    expect(user).toEqual({ id: expect.any(Number), username: 'ada', email: 'ada@example.org', createdAt: expect.any(String) });

    const fetched = await app.inject(`/users/${user.id}`);
    expect(fetched.statusCode).toBe(200);
    expect(fetched.json()).toEqual(user);
    expect(fetched.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    expect((await app.inject('/users/999999')).json()).toEqual({ error: { code: 'USER_NOT_FOUND', message: 'user 999999 does not exist' } });
    expect((await app.inject('/users/abc')).statusCode).toBe(400);
  });

  it('answers 409 USER_EXISTS for a taken username, or an e-mail taken in any case', async () => {
    expect((await createUser({ username: 'grace', email: 'grace@example.org' })).statusCode).toBe(201);

    const sameName = await createUser({ username: 'grace', email: 'other@example.org' });
    expect(sameName.statusCode).toBe(409);
    expect(sameName.json()).toEqual({ error: { code: 'USER_EXISTS', message: 'a user with this username already exists' } });

    const sameEmail = await createUser({ username: 'grace2', email: 'Grace@Example.org' });
    expect(sameEmail.statusCode).toBe(409);
    expect(sameEmail.json().error.message).toBe('a user with this email already exists');
  });

  it('refuses an invalid body with 400 INVALID_REQUEST', async () => {
    const response = await createUser({ username: 'no email' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('INVALID_REQUEST');
  });

  it('lists users with keyset pagination on id', async () => {
    for (let i = 0; i < 5; i++) expect((await createUser({ username: `page${i}`, email: `page${i}@example.org` })).statusCode).toBe(201);
    const { rows } = await db().admin.query<{ id: string }>('select id from users order by id');

    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await app.inject({ url: '/users', query: { limit: '2', ...(cursor ? { cursor } : {}) } });
      expect(response.statusCode).toBe(200);
      const page = response.json() as { items: { id: number }[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((u) => u.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(seen).toEqual(rows.map((r) => Number(r.id)));
    expect(pages).toBe(Math.ceil(rows.length / 2));

    expect((await app.inject('/users?cursor=not-a-cursor')).json().error.code).toBe('INVALID_CURSOR');
    expect((await app.inject('/users?limit=1000')).statusCode).toBe(400);
  });

  it('serves Prometheus metrics: requests by route and status, latency, pool, schema version', async () => {
    await app.inject('/users/424242'); // a 404 on the parameterised route
    const response = await app.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const text = response.body;
    expect(metricSample(text, 'http_requests_total', { method: 'POST', route: '/users', status_code: '409', service: 'users' })).toBeGreaterThan(0);
    expect(metricSample(text, 'http_requests_total', { method: 'GET', route: '/users/:id', status_code: '404' })).toBeGreaterThan(0);
    expect(text).not.toMatch(/route="\/users\/424242"/);
    expect(metricSample(text, 'http_request_duration_seconds_count', { method: 'POST', route: '/users', status_code: '201' })).toBeGreaterThan(0);
    expect(metricSample(text, 'http_request_duration_seconds_bucket', { le: '+Inf', method: 'POST', route: '/users', status_code: '201' })).toBeGreaterThan(0);
    expect(metricSample(text, 'db_pool_connections')).toBeGreaterThan(0);
    expect(metricSample(text, 'db_pool_idle_connections')).toBeGreaterThanOrEqual(0);
    expect(metricSample(text, 'db_pool_waiting_requests')).toBe(0);
    expect(metricSample(text, 'berth_schema_version')).toBe(LATEST_VERSION);
  });

  it('works as an app role with only the data rights of the contract', async () => {
    const role = `${db().name}_app`;
    const ident = `"${role}"`;
    await db().admin.query(`create role ${ident} login password 'app-pw'`);
    try {
      await db().admin.query(`
        grant connect on database "${db().name}" to ${ident};
        grant usage on schema public to ${ident};
        grant select, insert, update, delete on all tables in schema public to ${ident};
        grant usage, select on all sequences in schema public to ${ident};`);
      const url = new URL(db().url);
      url.username = role;
      url.password = 'app-pw';
      const appRole = buildApp({ config: loadConfig({ env: serviceEnv(withDatabase(url.toString(), db().name)) }), readinessCacheMs: 0 });
      try {
        expect((await appRole.inject('/ready')).statusCode).toBe(200);
        expect((await appRole.inject({ method: 'POST', url: '/users', payload: { username: 'least', email: 'least@example.org' } })).statusCode).toBe(201);
      } finally {
        await appRole.close();
      }
    } finally {
      await db().admin.query(`drop owned by ${ident}; `).catch(() => undefined);
      await db().admin.query(`drop role if exists ${ident}`).catch(() => undefined);
    }
  });
});
