/**
 * One database per test file, with a random name, so test files run in parallel against one server.
 *
 * ```ts
 * const db = useTestDatabase('lock');           // created in beforeAll, dropped in afterAll
 * it('...', async () => {
 *   await runBerth(['migrate', '-d', db().url, '--dir', dir]);
 *   const { rows } = await db().admin.query('select version from berth_migrations');
 * });
 * ```
 *
 * Or by hand: `const db = await createTestDatabase('lock')` … `await db.drop()` (in `afterAll`).
 * Databases a test forgets to drop are swept by the global teardown, which warns about them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { pgAdminUrl, testRunId } from './context.js';
import { testDatabaseComment } from './pg-server.js';

/** Connect timeout of helper connections (ms); generous because 2 cores may be busy. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Prefix of every test database name: `berth_t_<prefix>_<random>`. */
export const TEST_DATABASE_PREFIX = 'berth_t_';

export interface QueryHelper {
  /** Runs one statement on a fresh connection (closed afterwards). */
  query<R extends pg.QueryResultRow = Record<string, any>>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /**
   * A connected client for session-scoped work (holding an advisory lock, an open transaction).
   * The caller may `end()` it; otherwise `drop()` does. Its 'error' events are ignored, so a
   * terminated session surfaces as a rejected query rather than a crash.
   */
  connect(): Promise<pg.Client>;
}

export interface TestDatabase {
  /** `berth_t_<prefix>_<random>`, at most 63 bytes. */
  readonly name: string;
  /** URL of this database, as the admin role (with its password, if any). */
  readonly url: string;
  /** Admin URL of the server (its `postgres` database). */
  readonly adminUrl: string;
  /** Queries against this database, as the admin role. */
  readonly admin: QueryHelper;
  /** Ends `admin.connect()` clients and drops the database WITH (FORCE). Idempotent. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** Default: `inject('pgAdminUrl')`, from the global setup. */
  readonly adminUrl?: string;
}

/** Runs one statement on a fresh connection to `url` and closes it. */
export async function query<R extends pg.QueryResultRow = Record<string, any>>(
  url: string,
  sql: string,
  params?: unknown[],
): Promise<pg.QueryResult<R>> {
  const client = await connect(url);
  try {
    return await client.query<R>(sql, params);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A connected `pg.Client` whose 'error' events are ignored (see `QueryHelper.connect`). */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

/** `url` with its database (path) replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** `berth_t_<prefix>_<random>`: lower-case, `[a-z0-9_]`, at most 63 bytes (PostgreSQL's limit). */
export function testDatabaseName(prefix = 'db'): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 32) || 'db';
  const random = randomBytes(6).toString('hex');
  return `${TEST_DATABASE_PREFIX}${clean}_${random}`;
}

export async function createTestDatabase(prefix?: string, options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? pgAdminUrl();
  // Only tag databases when running under the global setup; a bare adminUrl works without it.
  const runId = options.adminUrl === undefined ? testRunId() : undefined;
  const name = testDatabaseName(prefix);
  const ident = pg.escapeIdentifier(name);

  const admin = await connect(adminUrl);
  try {
    await retryObjectInUse(() => admin.query(`create database ${ident}`));
    if (runId) {
      await admin.query(`comment on database ${ident} is ${pg.escapeLiteral(testDatabaseComment(runId))}`);
    }
  } finally {
    await admin.end().catch(() => undefined);
  }

  const url = withDatabase(adminUrl, name);
  const clients = new Set<pg.Client>();
  let dropping: Promise<void> | undefined;

  return {
    name,
    url,
    adminUrl,
    admin: {
      query: (sql, params) => query(url, sql, params),
      async connect() {
        const client = await connect(url);
        clients.add(client);
        return client;
      },
    },
    drop: () =>
      (dropping ??= (async () => {
        await Promise.all([...clients].map((c) => c.end().catch(() => undefined)));
        clients.clear();
        await query(adminUrl, `drop database if exists ${ident} with (force)`);
      })()),
  };
}

/**
 * Creates a database in `beforeAll` and drops it in `afterAll` of the calling file (or suite).
 * Returns a getter, because the database exists only once `beforeAll` ran.
 */
export function useTestDatabase(prefix?: string, options?: CreateTestDatabaseOptions): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(prefix, options);
  });
  afterAll(async () => {
    await db?.drop();
  });
  return () => {
    if (!db) throw new Error('useTestDatabase(): the database is created in beforeAll; use the getter inside tests/hooks');
    return db;
  };
}

/**
 * CREATE DATABASE fails with 55006 (object_in_use) while another session is connected to the
 * template; this can happen briefly when another test file creates its database at the same time.
 */
async function retryObjectInUse<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if ((error as { code?: string }).code !== '55006' || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 100));
    }
  }
}
