/**
 * Values the integration global setup (`global-setup.ts`) hands to test files through vitest's
 * `provide`/`inject`. Read them with the getters below: they fail with a clear message when a file runs
 * in a project without that global setup (e.g. a DB test placed under `test/unit`).
 */
import { inject } from 'vitest';
import type { PgServerSource } from './pg-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL (superuser or CREATEDB role) of the PostgreSQL the tests use. */
    pgAdminUrl: string;
    /** Where that server came from, and its `server_version`. */
    pgServer: { source: PgServerSource; serverVersion: string };
    /** Identifies this vitest run; test databases are tagged with it so the teardown can sweep leftovers. */
    testRunId: string;
  }
}

export function pgAdminUrl(): string {
  return required('pgAdminUrl');
}

export function pgServer(): { source: PgServerSource; serverVersion: string } {
  return required('pgServer');
}

export function testRunId(): string {
  return required('testRunId');
}

function required<K extends 'pgAdminUrl' | 'pgServer' | 'testRunId'>(key: K) {
  const value = inject(key);
  if (value === undefined) {
    throw new Error(
      `inject('${key}') is empty: this test file needs PostgreSQL, so it must run in a vitest project ` +
        `whose globalSetup is packages/berth/test/helpers/global-setup.ts (e.g. the "integration" project).`,
    );
  }
  return value;
}
