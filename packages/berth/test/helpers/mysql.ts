/**
 * MySQL / MariaDB for the tests: the server at `BERTH_TEST_MYSQL_URL`, else the MariaDB on
 * 127.0.0.1:3306 (root, no password). One database per test file, with a random name.
 *
 * ```ts
 * const server = await mysqlServer();              // top level of the test file
 * describe.skipIf(!server)('...', () => {
 *   const db = useMysqlDatabase(server!, 'lock');  // created in beforeAll, dropped in afterAll
 * ```
 *
 * Where no server answers, `mysqlServer()` prints one line saying why and returns undefined, so
 * the file's tests are skipped; in CI (`CI=true`) it throws instead: there they must run (unless
 * `BERTH_TEST_MYSQL_OPTIONAL` is set, as for .ci/run's second pass where no server answers).
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';

export interface MysqlServer {
  /** `mysql://user[:password]@host:port/` without a database. */
  readonly adminUrl: string;
  /** VERSION(), e.g. `10.11.19-MariaDB-0+deb12u1`. */
  readonly version: string;
  readonly mariadb: boolean;
}

export interface MysqlTestDatabase {
  readonly name: string;
  /** URL of this database, as the admin user. */
  readonly url: string;
  /** Runs one statement on a fresh connection to this database; rows for a query. */
  query<R = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  /** A connection to this database, for session-scoped work (a held lock, an open transaction); ended by drop(). */
  connect(): Promise<mysql.Connection>;
  drop(): Promise<void>;
}

const DEFAULT_URL = 'mysql://root@127.0.0.1:3306/';

let probed: Promise<MysqlServer | undefined> | undefined;

export function mysqlServer(): Promise<MysqlServer | undefined> {
  probed ??= probe();
  return probed;
}

async function probe(): Promise<MysqlServer | undefined> {
  const adminUrl = process.env.BERTH_TEST_MYSQL_URL ?? DEFAULT_URL;
  try {
    const connection = await mysql.createConnection({ uri: adminUrl, connectTimeout: 3_000 });
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
      const version = String(rows[0]?.v);
      return { adminUrl, version, mariadb: /mariadb/i.test(version) };
    } finally {
      await connection.end();
    }
  } catch (err) {
    const why = `no MySQL/MariaDB answers at ${adminUrl.replace(/:[^:@/]*@/, ':****@')} (${(err as Error).message})`;
    if (process.env.CI === 'true' && !process.env.BERTH_TEST_MYSQL_OPTIONAL) throw new Error(`${why}: in CI the MySQL tests must run (.ci/run starts MariaDB)`);
    console.log(`MySQL tests skipped: ${why}; set BERTH_TEST_MYSQL_URL to run them`);
    return undefined;
  }
}

/** URL of database `name` on the server, with `extra` query parameters. */
export function mysqlUrl(server: MysqlServer, name: string, extra: Record<string, string> = {}): string {
  const url = new URL(server.adminUrl);
  url.pathname = `/${name}`;
  for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
  return url.toString();
}

export async function createMysqlDatabase(server: MysqlServer, prefix: string): Promise<MysqlTestDatabase> {
  const name = `berth_t_${prefix.replace(/[^a-z0-9_]/g, '')}_${randomBytes(4).toString('hex')}`;
  await adminQuery(server, `CREATE DATABASE \`${name}\``);
  const url = mysqlUrl(server, name);
  const open = new Set<mysql.Connection>();
  const connect = async () => {
    const connection = await mysql.createConnection({ uri: url, connectTimeout: 10_000, supportBigNumbers: true, bigNumberStrings: true });
    connection.on('error', () => undefined);
    open.add(connection);
    return connection;
  };
  return {
    name,
    url,
    async query<R>(sql: string, values?: unknown[]) {
      const connection = await connect();
      try {
        const [rows] = await connection.query(sql, values);
        return rows as R[];
      } finally {
        open.delete(connection);
        await connection.end().catch(() => undefined);
      }
    },
    connect,
    async drop() {
      await Promise.all([...open].map((c) => c.end().catch(() => c.destroy())));
      open.clear();
      await adminQuery(server, `DROP DATABASE IF EXISTS \`${name}\``);
    },
  };
}

/** A database for this test file: created before its tests, dropped after them. */
export function useMysqlDatabase(server: MysqlServer, prefix: string): () => MysqlTestDatabase {
  let db: MysqlTestDatabase | undefined;
  beforeAll(async () => {
    db = await createMysqlDatabase(server, prefix);
  });
  afterAll(async () => {
    await db?.drop();
  });
  return () => {
    if (!db) throw new Error('the MySQL test database is not created yet (use it inside a test)');
    return db;
  };
}

export async function adminQuery<R = Record<string, unknown>>(server: MysqlServer, sql: string, values?: unknown[]): Promise<R[]> {
  const connection = await mysql.createConnection({ uri: server.adminUrl, connectTimeout: 10_000 });
  try {
    const [rows] = await connection.query(sql, values);
    return rows as R[];
  } finally {
    await connection.end().catch(() => undefined);
  }
}

export interface PrivateMariadb {
  readonly url: string;
  /** Ends the server by its pid and removes its files. */
  stop(): Promise<void>;
}

const MARIADBD = '/usr/sbin/mariadbd';

/**
 * A MariaDB server of this test's own, for what cannot be done to the shared one (a global
 * `read_only`): its own data directory and a free port, ended by its pid. Undefined, with the
 * reason, where there is no mariadbd or we are not root (it runs as root here).
 */
export async function startPrivateMariadb(options: { args: readonly string[] }): Promise<PrivateMariadb | string> {
  const { existsSync, mkdtempSync, rmSync } = await import('node:fs');
  const { execFile, spawn } = await import('node:child_process');
  const { tmpdir } = await import('node:os');
  const { createServer, connect } = await import('node:net');
  if (!existsSync(MARIADBD)) return `${MARIADBD} is not installed`;
  if (process.getuid?.() !== 0) return 'a private mariadbd needs root here';
  const dir = mkdtempSync(`${tmpdir()}/berth-mariadb-`);
  const installed = await new Promise<string | undefined>((resolve) => {
    execFile('mariadb-install-db', ['--no-defaults', `--datadir=${dir}/data`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'],
      { timeout: 60_000 }, (err) => resolve(err ? err.message : undefined));
  });
  if (installed !== undefined) {
    rmSync(dir, { recursive: true, force: true });
    return `mariadb-install-db failed: ${installed}`;
  }
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as { port: number };
      s.close(() => resolve(p));
    });
  });
  const child = spawn(MARIADBD, ['--no-defaults', `--datadir=${dir}/data`, '--user=root', `--port=${port}`, '--bind-address=127.0.0.1',
    `--socket=${dir}/sock`, `--pid-file=${dir}/pid`, '--innodb-buffer-pool-size=16M', '--skip-name-resolve', ...options.args],
  { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 300; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return { url: `mysql://root@127.0.0.1:${port}/`, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  return 'the private mariadbd did not answer within 30 s';
}
