/**
 * A real PgBouncer (Debian's `pgbouncer` package) in front of the test server, for the pooler
 * tests. Each call starts a private instance: its own config and auth file in a temp directory,
 * a free port on 127.0.0.1, no Unix socket, run as `nobody` when the tests run as root (PgBouncer
 * refuses to run as root), logging to its stderr. It is ended by its PID, also when a test fails.
 *
 * ```ts
 * const bouncer = usePgBouncer({ poolMode: 'transaction', poolSize: 1 });   // beforeAll / afterAll
 * await runBerth(['migrate', '-d', bouncer().url(db().name), ...]);
 * ```
 *
 * Where the binary is missing, `pgbouncerMissing()` says why and the tests skip; in CI (`CI` set)
 * they must run, and `.ci/run` installs the package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { makeTempDir } from './cli.js';
import { pgAdminUrl } from './context.js';
import { reserveClosedPort } from './tcp-proxy.js';

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];
/** How long PgBouncer gets to listen, and to exit after SIGTERM (ms). */
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** The uid/gid of `nobody` on Debian. */
const NOBODY = 65534;

export interface PgBouncerOptions {
  readonly poolMode: 'session' | 'transaction';
  /** `default_pool_size`: server connections per database/user pair. Default 20 (PgBouncer's). */
  readonly poolSize?: number;
  /** Logins besides the admin URL's user, all without a password (the test server trusts them). */
  readonly users?: readonly string[];
  /** More `[pgbouncer]` settings, e.g. `{ ignore_startup_parameters: 'options' }`. */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface PgBouncer {
  readonly port: number;
  readonly pid: number;
  /** A URL of `database` through this PgBouncer, as `user` (default: the admin URL's user). */
  url(database: string, user?: string): string;
  /** What PgBouncer logged so far. */
  readonly log: string;
  /** SIGTERM, then SIGKILL if it does not exit in time. Idempotent. */
  stop(): Promise<void>;
}

/** The PgBouncer binary, or undefined. */
export function pgbouncerBinary(): string | undefined {
  for (const candidate of CANDIDATES) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * Why the PgBouncer tests cannot run here, or undefined when they can. In CI a missing binary is
 * not a reason: the tests then run and fail, since `.ci/run` was meant to install it.
 */
export function pgbouncerMissing(): string | undefined {
  if (pgbouncerBinary() || process.env.CI) return undefined;
  return `PgBouncer tests skipped: no pgbouncer binary (${CANDIDATES.join(', ')}); install Debian's pgbouncer package (apt-get install pgbouncer), as .ci/run does`;
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error(`no pgbouncer binary in ${CANDIDATES.join(', ')}: apt-get install pgbouncer`);
  const upstream = new URL(pgAdminUrl());
  const adminUser = decodeURIComponent(upstream.username || 'postgres');
  const dir = makeTempDir('berth-pgbouncer-');
  const authFile = path.join(dir, 'users.txt');
  const users = new Map<string, string>([[adminUser, decodeURIComponent(upstream.password)]]);
  for (const user of options.users ?? []) if (!users.has(user)) users.set(user, '');
  // PgBouncer logs in to the server with the password listed here (the test server may need one);
  // clients are trusted.
  writeFileSync(authFile, [...users].map(([user, password]) => `"${user.replace(/"/g, '""')}" "${password.replace(/"/g, '""')}"`).join('\n') + '\n', { mode: 0o644 });

  let lastError: Error | undefined;
  // A free port can be taken by someone else before PgBouncer binds it: try another one.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await reserveClosedPort();
    const settings: Record<string, string> = {
      listen_addr: '127.0.0.1',
      listen_port: String(port),
      unix_socket_dir: '',
      auth_type: 'trust',
      auth_file: authFile,
      pool_mode: options.poolMode,
      default_pool_size: String(options.poolSize ?? 20),
      logfile: '',
      pidfile: '',
      ...options.settings,
    };
    const ini = [
      '[databases]',
      `* = host=${upstream.hostname.replace(/^\[|\]$/g, '')} port=${upstream.port || '5432'}`,
      '[pgbouncer]',
      ...Object.entries(settings).map(([key, value]) => `${key} = ${value}`),
    ].join('\n') + '\n';
    const config = path.join(dir, `pgbouncer-${port}.ini`);
    writeFileSync(config, ini, { mode: 0o644 });
    const asRoot = process.getuid?.() === 0;
    const child = spawn(binary, [config], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    try {
      return await running(child, port);
    } catch (error) {
      lastError = error as Error;
      child.kill('SIGKILL');
    }
  }
  throw lastError ?? new Error('PgBouncer did not start');
}

/** Starts PgBouncer in `beforeAll` and stops it in `afterAll`; returns a getter, as `useTestDatabase`. */
export function usePgBouncer(options: PgBouncerOptions): () => PgBouncer {
  let bouncer: PgBouncer | undefined;
  beforeAll(async () => {
    bouncer = await startPgBouncer(options);
  });
  afterAll(async () => {
    await bouncer?.stop();
  });
  return () => {
    if (!bouncer) throw new Error('usePgBouncer(): PgBouncer is started in beforeAll; use the getter inside tests/hooks');
    return bouncer;
  };
}

async function running(child: ChildProcess, port: number): Promise<PgBouncer> {
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  live.add(child);
  void exited.then(() => live.delete(child));
  let done = false;
  void exited.then(() => (done = true));

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (done) throw new Error(`PgBouncer exited before listening on ${port}:\n${log}`);
    if (Date.now() > deadline) throw new Error(`PgBouncer did not listen on ${port} within ${START_TIMEOUT_MS} ms:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const upstream = new URL(pgAdminUrl());
  let stopping: Promise<void> | undefined;
  return {
    port,
    pid: child.pid!,
    get log() {
      return log;
    },
    url(database, user) {
      const url = new URL(`postgres://127.0.0.1:${port}/`);
      url.username = user ?? (upstream.username || 'postgres');
      url.pathname = `/${encodeURIComponent(database)}`;
      return url.toString();
    },
    stop: () => (stopping ??= (async () => {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    })()),
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Instances still running when the test process exits are killed (a crashed file's afterAll did not run). */
const KEY = Symbol.for('berth.test.pgbouncer');
const live: Set<ChildProcess> = ((globalThis as Record<symbol, unknown>)[KEY] as Set<ChildProcess> | undefined) ?? (() => {
  const created = new Set<ChildProcess>();
  (globalThis as Record<symbol, unknown>)[KEY] = created;
  process.on('exit', () => {
    for (const child of created) child.kill('SIGKILL');
  });
  return created;
})();
