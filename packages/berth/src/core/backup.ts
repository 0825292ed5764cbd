import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseTarget } from '../config/database-url.js';
import { redactSecrets } from '../config/database-url.js';
import { driverFor } from '../drivers/registry.js';
import { formatDuration } from '../duration.js';
import { BackupFailedError, ConfigError, InterruptedError } from '../errors.js';
import type { BackupOptions } from './api.js';
import type { EventListener } from './events.js';

/** Lines of a failed backup's output quoted in its error: enough for pg_dump's or aws's reason. */
const TAIL_LINES = 20;
/** Bytes of each output stream kept for that tail; the rest streams past. */
const TAIL_BYTES = 16_384;

/** What the run knows when it backs up: under the lock, before its first write. */
export interface BackupRun {
  readonly target: DatabaseTarget;
  /** The URL as given (with its password): written only to a private file for the command. */
  readonly url: string;
  readonly from: number | null;
  readonly to: number | null;
  /** A fleet's --schema-per-target target: the schema is the target, not the whole database. */
  readonly schema?: string;
  readonly onEvent: EventListener;
  readonly signal: AbortSignal | undefined;
}

/** Whether `when` asks for a backup of this plan. */
export function backupWanted(options: BackupOptions, toApply: number, irreversible: boolean): boolean {
  const when = options.when ?? 'pending';
  return when === 'always' || (when === 'pending' && toApply > 0) || (when === 'no-transaction' && irreversible);
}

/** Refuses, before anything connects, a backup the target cannot have. */
export function checkBackupOptions(options: BackupOptions, target: DatabaseTarget): void {
  if (options.command !== undefined && options.dir !== undefined) {
    throw new ConfigError('ERR_USAGE', '--backup-command and --backup-dir both set: keep one (a command that dumps to a folder can write into it itself)');
  }
  const entry = driverFor(target);
  if ((options.dir !== undefined && !entry.backup) || (options.command !== undefined && !entry.access)) {
    throw new ConfigError('ERR_USAGE', `${options.dir !== undefined ? '--backup-dir' : '--backup-command'} cannot back up ${target.redacted}: ` +
      'an embedded database is a folder; copy it while nothing runs on it');
  }
}

/**
 * Runs the backup and returns where it went, for the history rows of the run: the file of
 * `--backup-dir`, or the last line the command printed on stdout (`--backup-command`; the command
 * text when it printed none). Credentials reach it only through files in a private folder under
 * os.tmpdir() (TMPDIR: point it at a writable volume on a read-only root file system), removed
 * afterwards; they are never on its command line or in its environment. Throws BackupFailedError.
 */
export async function runBackup(options: BackupOptions, run: BackupRun): Promise<string> {
  const entry = driverFor(run.target);
  const runId = randomUUID();
  const started = Date.now();
  const kind = options.dir !== undefined ? 'dir' : 'command';
  run.onEvent({ event: 'backup.start', kind, runId, from: run.from, to: run.to });
  const secretsDir = mkdtempSync(join(tmpdir(), 'berth-backup-'));
  try {
    chmodSync(secretsDir, 0o700);
    const access = entry.access?.(run.target) ?? { env: {}, files: {} };
    const fileEnv: Record<string, string> = {};
    const files = { ...access.files, ...(kind === 'command' ? { BERTH_DATABASE_URL_FILE: `${run.url}\n` } : {}) };
    for (const [variable, content] of Object.entries(files)) {
      const path = join(secretsDir, variable.toLowerCase());
      writeFileSync(path, content, { mode: 0o600 });
      fileEnv[variable] = path;
    }
    const env = {
      ...inheritedEnv(options.env ?? {}, run.target.secrets),
      ...access.env,
      ...fileEnv,
      BERTH_TARGET: run.target.redacted,
      BERTH_FROM_VERSION: run.from === null ? '' : String(run.from),
      BERTH_TO_VERSION: run.to === null ? '' : String(run.to),
      BERTH_RUN_ID: runId,
      ...(run.schema ? { BERTH_TARGET_SCHEMA: run.schema } : {}),
    };
    let location: string;
    if (kind === 'dir') {
      const client = entry.backup!;
      mkdirSync(options.dir!, { recursive: true, mode: 0o700 });
      const name = `${fileSafe(run.target.label.split('/').pop() || 'database')}${run.schema ? `.${fileSafe(run.schema)}` : ''}-${run.from ?? 'empty'}-to-${run.to ?? run.from ?? 'empty'}-${stamp(new Date())}${client.extension}`;
      const file = join(options.dir!, name);
      // Written beside its name and renamed once complete: a failed dump never looks like a backup.
      const partial = `${file}.partial`;
      try {
        await runProcess(client.program, client.args(run.target, partial, env, run.schema), env, run, (result) => {
          if (result.missing) {
            return new BackupFailedError('ERR_BACKUP_CLIENT_MISSING',
              `--backup-dir needs ${client.program}, which is not installed or not on PATH: install ${client.install}. Nothing was migrated.`);
          }
          const why = client.explain(result.output);
          return failure(`${client.program} (--backup-dir ${options.dir})`, result, why, run);
        });
        // A dump holds every row: readable by its owner only, whatever the umask.
        chmodSync(partial, 0o600);
        renameSync(partial, file);
      } catch (err) {
        rmSync(partial, { force: true });
        throw err;
      }
      location = file;
    } else {
      const result = await runProcess('/bin/sh', ['-c', options.command!], env, run, (r) => failure('--backup-command', r, undefined, run));
      const printed = result.stdout.split('\n').map((l) => l.trim()).filter(Boolean).at(-1);
      location = redactSecrets(printed ?? options.command!, run.target.secrets).slice(0, 1000);
    }
    const durationMs = Date.now() - started;
    run.onEvent({ event: 'backup.done', kind, runId, location, durationMs });
    return location;
  } catch (err) {
    run.onEvent({ event: 'backup.failed', kind, runId, durationMs: Date.now() - started, code: err instanceof BackupFailedError ? err.code : 'ERR_BACKUP_FAILED' });
    throw err;
  } finally {
    rmSync(secretsDir, { recursive: true, force: true });
  }
}

interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The program was not found. */
  readonly missing: boolean;
  /** The tail of stderr and stdout together, as it interleaved. */
  readonly output: string;
  readonly stdout: string;
  readonly durationMs: number;
}

/**
 * Runs a program to completion in its own process group, so an interrupt (SIGTERM to berth) ends
 * the whole pipeline of a shell command, not only the shell. Rejects with `fail(result)` unless it
 * exits 0.
 */
function runProcess(program: string, args: string[], env: Record<string, string>, run: BackupRun,
  fail: (result: ProcessResult) => Error): Promise<ProcessResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    let stdout = '';
    const keep = (text: string, chunk: Buffer) => (text + chunk.toString('utf8')).slice(-TAIL_BYTES);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = keep(stdout, chunk);
      output = keep(output, chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output = keep(output, chunk);
    });
    const interrupt = () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // Already gone.
      }
    };
    run.signal?.addEventListener('abort', interrupt, { once: true });
    let missing = false;
    child.on('error', (err: NodeJS.ErrnoException) => {
      missing = err.code === 'ENOENT';
      if (!missing) output += `\n${err.message}`;
    });
    child.on('close', (code, signal) => {
      run.signal?.removeEventListener('abort', interrupt);
      const result = { code, signal, missing, output, stdout, durationMs: Date.now() - started };
      if (run.signal?.aborted) reject(interrupted(run.signal.reason));
      else if (code === 0) resolve(result);
      else reject(fail(result));
    });
  });
}

/** An interrupt during the backup: said as what it is, not as a rolled-back migration. */
function interrupted(reason: unknown): unknown {
  if (!(reason instanceof InterruptedError)) return reason;
  return new InterruptedError(reason.signal, {
    message: `interrupted by ${reason.signal} during the backup before migrating; nothing was migrated, and the backup command was stopped (its whole process group)`,
  });
}

function failure(what: string, result: ProcessResult, why: string | undefined, run: BackupRun): BackupFailedError {
  const ended = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
  const lines = redactSecrets(result.output, run.target.secrets).split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-TAIL_LINES);
  return new BackupFailedError('ERR_BACKUP_FAILED',
    `the backup before migrating failed: ${what} ${ended} after ${formatDuration(result.durationMs)}${why ? ` (${why})` : ''}. ` +
    `Nothing was migrated and nothing was written to the database. ${lines.length ? `Its last lines of output:\n${lines.map((l) => `  | ${l}`).join('\n')}` : 'It printed nothing.'}`,
    { details: { exitCode: result.code, signal: result.signal, durationMs: result.durationMs, output: lines } });
}

/**
 * The environment given (the CLI's own) without what carries the target's password (DATABASE_URL, PGPASSWORD, ...):
 * the backup reaches the database through the files above only.
 */
function inheritedEnv(from: Readonly<Record<string, string | undefined>>, secrets: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined) continue;
    if (/^(BERTH_)?DATABASE_URL$|^PGPASSWORD$|^MYSQL_PWD$/.test(name)) continue;
    if (secrets.some((secret) => secret && value.includes(secret))) continue;
    env[name] = value;
  }
  return env;
}

/** `20261202T065012Z`: sorts by time, and is a valid file name everywhere. */
function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}
