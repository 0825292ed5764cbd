/** The orders service's own configuration keys (the shared ones: services/shared/test/config.test.ts). */
import { ServiceConfigError } from '@berth-example/service-kit';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('orders configuration', () => {
  it('requires USERS_SERVICE_URL and applies the users-call defaults', () => {
    expect(() => loadConfig({ env: { DATABASE_URL: 'postgres://app@db/orders' } })).toThrow(/USERS_SERVICE_URL \(environment\): required/);
    const config = loadConfig({ env: { DATABASE_URL: 'postgres://app@db/orders', USERS_SERVICE_URL: 'http://users:8080/' } });
    expect(config).toMatchObject({ usersServiceUrl: 'http://users:8080', usersTimeoutMs: 2000, usersRetries: 2 });
    expect(config.migrationsDir).toMatch(/services\/orders\/migrations\/$/);
  });

  it('names bad values of its own keys', () => {
    try {
      loadConfig({ env: { DATABASE_URL: 'postgres://app@db/orders', USERS_SERVICE_URL: 'users:8080', USERS_TIMEOUT: 'fast', USERS_RETRIES: '99' } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ServiceConfigError);
      expect((error as ServiceConfigError).issues.map((i) => i.key)).toEqual(['USERS_SERVICE_URL', 'USERS_TIMEOUT', 'USERS_RETRIES']);
    }
  });
});
