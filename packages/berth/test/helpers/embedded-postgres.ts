/**
 * A throwaway PostgreSQL server for machines where no PostgreSQL answers (see `pg-server.ts`,
 * which decides when to start one), on the launcher `npm start` uses
 * (scripts/system/embedded-postgres.mjs: TCP on 127.0.0.1 only, durability off, as the `postgres`
 * user when run as root).
 *
 * Contract:
 * - `startEmbeddedPostgres()` initialises a fresh cluster in a new temp directory, starts it on a free
 *   port and resolves once it accepts queries.
 * - `stop()` shuts the server down and removes the temp directory. It is idempotent and never throws.
 * - If the process that started the server dies without calling `stop()` (SIGKILL, a CI timeout), a
 *   detached watchdog shell stops the server and removes the directory within a few seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres as startServer } from '../../../../scripts/system/embedded-postgres.mjs';

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

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresServer> {
  const started = performance.now();
  const dir = await mkdtemp(path.join(options.parentDir ?? tmpdir(), 'berth-pg-'));
  const logs: string[] = [];
  const cleanupDir = () => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  let server;
  try {
    server = await startServer({
      dir,
      password: randomBytes(12).toString('hex'),
      onLog: (line) => {
        logs.push(line);
        options.onLog?.(line);
      },
    });
  } catch (error) {
    await cleanupDir();
    throw new Error(`embedded PostgreSQL did not start: ${(error as Error).message}\n--- its output (tail) ---\n${logs.slice(-30).join('\n')}`, { cause: error });
  }
  const running = server;
  const watchdog = startWatchdog(process.pid, running.pid, dir);
  let stopping: Promise<void> | undefined;
  return {
    adminUrl: running.adminUrl,
    port: running.port,
    dir,
    pid: running.pid,
    startMs: Math.round(performance.now() - started),
    stop: () => (stopping ??= (async () => {
      killGroup(watchdog);
      await running.stop();
      await cleanupDir();
    })()),
  };
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
