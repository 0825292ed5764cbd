/**
 * Runs the real CLI (`node packages/berth/bin/berth.js`, after `npm run build -w berth`) as a child
 * process, the way an orchestrator does.
 *
 * - The child's environment is clean: only a short allow-list of the test process's variables
 *   (PATH, HOME, locale, TMPDIR, coverage) plus `options.env`. No DATABASE_URL, BERTH_*, PG* or
 *   vitest variables leak in, so each test states exactly the configuration it means.
 *   Pass `{ VAR: undefined }` to remove an allow-listed variable (e.g. HOME).
 * - The default cwd is an empty temp directory, so no stray `berth.config.*` or `./migrations` is picked up.
 * - stdin is a pipe that receives `options.input` (if any) and is then closed.
 * - Children still running when a test file ends are killed (SIGKILL), and temp directories made by
 *   `writeMigrations`/`makeTempDir` are removed: `setup-file.ts` calls `cleanupProcesses()` in an afterAll, because
 *   vitest ends its workers with SIGTERM, so process 'exit' handlers (kept as a fallback) do not run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const BERTH_BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

/** Default `timeoutMs` of `runBerth` (ms). */
export const DEFAULT_RUN_TIMEOUT_MS = 30_000;
/** Default timeout of `waitForOutput` (ms). */
export const DEFAULT_WAIT_FOR_OUTPUT_MS = 15_000;

/** Variables a child inherits from the test process; everything else must be passed in `env`. */
const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'SYSTEMROOT', 'NODE_V8_COVERAGE'];

export interface RunOptions {
  /** Added to the clean environment; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default: an empty temp directory. */
  readonly cwd?: string;
  /**
   * After this many ms the child is SIGKILLed and the result has `timedOut: true`
   * (default `DEFAULT_RUN_TIMEOUT_MS`; `spawnBerth`: no timeout unless given).
   */
  readonly timeoutMs?: number;
  /** Written to stdin, which is then closed. */
  readonly input?: string | Buffer;
  /**
   * Run as this user/group id (the test process must be root). The default cwd and `writeMigrations`
   * directories are world-readable, so an arbitrary uid can use them.
   */
  readonly uid?: number;
  readonly gid?: number;
}

export interface RunResult {
  /** Exit code, or null when a signal ended the process. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** True when `timeoutMs` elapsed and the harness killed the child. */
  readonly timedOut: boolean;
}

export interface SpawnedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything written to stdout so far. */
  readonly stdout: string;
  /** Everything written to stderr so far. */
  readonly stderr: string;
  /** Resolves when the process has exited and its output is complete; never rejects. */
  readonly exited: Promise<RunResult>;
  /**
   * Resolves with the match as soon as `pattern` matches the output collected so far (stdout and
   * stderr separately, or only `stream`). Rejects on timeout or if the process exits without a match;
   * the error shows the output.
   */
  waitForOutput(pattern: RegExp, timeoutMs?: number, stream?: 'stdout' | 'stderr' | 'any'): Promise<RegExpMatchArray>;
  /** Sends a signal; false if the process had already exited. */
  kill(signal?: NodeJS.Signals): boolean;
}

/** Runs `berth <args>` to completion. Never rejects for a non-zero exit: assert on the result. */
export function runBerth(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runNode([berthBin(), ...args], options);
}

/** Starts `berth <args>` and returns at once, for tests that act while it runs (signals, concurrency). */
export function spawnBerth(args: readonly string[], options: RunOptions = {}): SpawnedProcess {
  return spawnNode([berthBin(), ...args], options);
}

/** `runBerth` for any node arguments (a script, `-e code`); used to test the harness itself. */
export function runNode(nodeArgs: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return spawnNode(nodeArgs, { ...options, timeoutMs: options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS }).exited;
}

export function spawnNode(nodeArgs: readonly string[], options: RunOptions = {}): SpawnedProcess {
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs], {
    cwd: options.cwd ?? defaultCwd(),
    env: childEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.uid !== undefined && { uid: options.uid }),
    ...(options.gid !== undefined && { gid: options.gid }),
  });
  live.add(child);

  let stdout = '';
  let stderr = '';
  let timedOut = false;
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());

  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  // The child may exit without reading stdin; EPIPE there is not a test failure.
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(options.input);

  let timer: NodeJS.Timeout | undefined;
  if (options.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
  }

  const exited = new Promise<RunResult>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      live.delete(child);
      notify();
      resolve({ code, signal, stdout, stderr, durationMs: Math.round(performance.now() - started), timedOut });
    };
    // 'close' waits for stdout/stderr to end, so the output is complete.
    child.once('close', finish);
    child.once('error', (error) => {
      stderr += `\n[harness] spawn failed: ${error.message}`;
      finish(null, null);
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
    notify();
  });

  const waitForOutput = (pattern: RegExp, timeoutMs = DEFAULT_WAIT_FOR_OUTPUT_MS, stream: 'stdout' | 'stderr' | 'any' = 'any') =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = (stream !== 'stderr' && stdout.match(pattern)) || (stream !== 'stdout' && stderr.match(pattern));
        if (match) {
          settle();
          resolve(match);
        } else if (done) {
          settle();
          reject(new Error(`process exited (code ${child.exitCode}, signal ${child.signalCode}) before output matched ${pattern}\n${describeOutput(stdout, stderr)}`));
        }
      };
      const waitTimer = setTimeout(() => {
        settle();
        reject(new Error(`no output matched ${pattern} within ${timeoutMs} ms\n${describeOutput(stdout, stderr)}`));
      }, timeoutMs);
      const settle = () => {
        clearTimeout(waitTimer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  return {
    child,
    pid: child.pid ?? -1,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitForOutput,
    kill: (signal = 'SIGTERM') => (child.exitCode === null && child.signalCode === null ? child.kill(signal) : false),
  };
}

/**
 * Writes `files` (relative path → content; `a/b.sql` creates `a/`) into a new temp directory and returns
 * its absolute path. The directory is removed when the test file ends (see `cleanupProcesses`).
 */
export function writeMigrations(files: Readonly<Record<string, string | Buffer>>): string {
  const dir = makeTempDir('berth-migrations-');
  for (const [name, content] of Object.entries(files)) {
    const file = path.resolve(dir, name);
    if (!file.startsWith(dir + path.sep)) throw new Error(`writeMigrations: ${name} is outside the directory`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}

/**
 * A new directory in the OS temp dir (mode 0755 unless `mode` is given), removed when the test file
 * ends like `writeMigrations` directories. Use it for pglite data dirs, read-only cwds, config files.
 */
export function makeTempDir(prefix = 'berth-test-', mode = 0o755): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  chmodSync(dir, mode);
  return dir;
}

/** Parses the JSON lines of a log (e.g. `result.stderr`), skipping lines that are not JSON objects. */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      out.push(JSON.parse(trimmed) as Record<string, unknown>);
    } catch {
      // not JSON after all
    }
  }
  return out;
}

/** The environment a child gets: the allow-list from this process plus `extra`. */
export function childEnv(extra: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of INHERITED_ENV) {
    if (process.env[key] !== undefined) env[key] = process.env[key];
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** SIGKILLs children still running, waits for them, and removes temp directories. Idempotent. */
export async function cleanupProcesses(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
  state.cwd = undefined;
}

function berthBin(): string {
  if (!existsSync(BERTH_BIN)) {
    throw new Error(`${BERTH_BIN} does not exist; build the CLI first: npm run build -w berth (npm test does it)`);
  }
  return BERTH_BIN;
}

function describeOutput(stdout: string, stderr: string): string {
  const tail = (s: string) => (s.length > 4000 ? `…${s.slice(-4000)}` : s);
  return `--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`;
}

/**
 * Per-process state, kept on globalThis: vitest may evaluate this module once per test file in the
 * same worker, and the exit handler must be registered once.
 */
interface CliHarnessState {
  readonly live: Set<ChildProcess>;
  readonly tempDirs: Set<string>;
  cwd?: string;
}
const STATE_KEY = Symbol.for('berth.test.cli');
const state: CliHarnessState = ((globalThis as Record<symbol, unknown>)[STATE_KEY] as CliHarnessState | undefined) ??
  (() => {
    const created: CliHarnessState = { live: new Set(), tempDirs: new Set() };
    (globalThis as Record<symbol, unknown>)[STATE_KEY] = created;
    process.on('exit', () => {
      for (const child of created.live) child.kill('SIGKILL');
      for (const dir of created.tempDirs) rmSync(dir, { recursive: true, force: true });
    });
    return created;
  })();
const { live, tempDirs } = state;

function defaultCwd(): string {
  state.cwd ??= makeTempDir('berth-cwd-');
  return state.cwd;
}
