/**
 * Commands of the container tests: the engines' clients (docker, Compose, podman) and the scripts
 * in deploy/containers/, run as child processes with the engine environment from the global setup.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const repoPath = (...parts: string[]): string => path.join(REPO_ROOT, ...parts);

export interface Result {
  readonly command: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly input?: string | Buffer;
  /** Kill the command (SIGKILL) after this long (ms); default 10 minutes. */
  readonly timeoutMs?: number;
  /** Each chunk of output as it arrives (progress of long builds). */
  readonly onOutput?: (chunk: string) => void;
}

const DEFAULT_TIMEOUT_MS = 600_000;

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<Result> {
  const label = [command, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      options.onOutput?.(chunk);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      options.onOutput?.(chunk);
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${label}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ command: label, code, signal, stdout, stderr });
    });
  });
}

/** The last lines of a command's output, for an error message. */
export function tail(result: Result, lines = 30): string {
  return `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-lines).join('\n');
}

/** Runs and throws (with the output's tail) unless the command exits 0. */
export async function must(command: string, args: readonly string[], options: RunOptions = {}): Promise<Result> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${result.command} exited ${result.code ?? result.signal}:\n${tail(result)}`);
  }
  return result;
}

/** Polls `check` until it returns true (also in hooks, where `expect.poll` is not allowed). */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
