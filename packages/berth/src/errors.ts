/**
 * Every error berth raises on purpose is a `BerthError` with a stable `code` and the process exit
 * code of SPEC §5. Codes are never renamed or reused; each one is listed in docs/errors.md.
 *
 * One subclass per exit-code family: callers (the CLI, a host application, an orchestrator's
 * retry policy) branch on the class or on `exitCode`, and read `code` for the precise reason.
 */

export type ExitCode = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 70 | 130 | 143;

export interface BerthErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

export abstract class BerthError extends Error {
  abstract readonly exitCode: ExitCode;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: BerthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  override get name(): string {
    return this.constructor.name;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, exitCode: this.exitCode, message: this.message, ...this.details };
  }
}

/** Exit 1: a migration's SQL or code failed; its transaction was rolled back. */
export class MigrationFailedError extends BerthError {
  readonly exitCode = 1;
}

/** Exit 2: bad flags, environment, config file, or a missing database URL. */
export class ConfigError extends BerthError {
  readonly exitCode = 2;
}

/** Exit 3: the database did not accept connections within `--wait` (retrying helps). */
export class UnreachableError extends BerthError {
  readonly exitCode = 3;
}

/**
 * Exit 4: another runner held the migration lock for longer than `--lock-timeout`, or berth's own
 * statements lost a lock conflict; retrying helps.
 */
export class LockTimeoutError extends BerthError {
  readonly exitCode = 4;
}

/** Exit 5: the migration set or the history disagrees with itself; an operator must decide. */
export class ValidationError extends BerthError {
  readonly exitCode = 5;
}

/** Exit 6: the server answered but refused us: credentials, TLS, no database, standby, pooler. */
export class TargetRejectedError extends BerthError {
  readonly exitCode = 6;
}

/** Exit 7: the session or the lock was lost mid-run; the next run reconciles from history. */
export class OutcomeUnknownError extends BerthError {
  readonly exitCode = 7;
}

/**
 * Exit 8: the backup asked for before migrating (`--backup-command`, `--backup-dir`) failed, so
 * nothing was written. Its own code: an orchestrator must not retry past a failed backup as if the
 * database were busy, and an operator reads at once that the migrations never started.
 */
export class BackupFailedError extends BerthError {
  readonly exitCode = 8;
}

/**
 * Exit 130/143: stopped by SIGINT/SIGTERM after rolling back what was running. `message` replaces
 * the default where that is not what happened (a no-transaction migration cannot be rolled back).
 */
export class InterruptedError extends BerthError {
  readonly exitCode: 130 | 143;
  readonly signal: 'SIGINT' | 'SIGTERM';
  constructor(signal: 'SIGINT' | 'SIGTERM', options: BerthErrorOptions & { message?: string } = {}) {
    super('ERR_INTERRUPTED', options.message ?? `interrupted by ${signal}; the running migration was rolled back`, options);
    this.signal = signal;
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}

/** Exit 70: a bug in berth, never the user's fault. Kept apart so it is reported as one. */
export class InternalError extends BerthError {
  readonly exitCode = 70;
}

/** Stable codes, one place, so docs/errors.md can be checked against it by a test. */
export const ERROR_CODES = {
  ERR_MIGRATION_FAILED: MigrationFailedError,
  ERR_MIGRATION_NEEDS_NO_TRANSACTION: MigrationFailedError,
  ERR_MIGRATION_TIMEOUT: MigrationFailedError,
  ERR_CONFIG_INVALID: ConfigError,
  ERR_CONFIG_NO_URL: ConfigError,
  ERR_CONFIG_URL_INVALID: ConfigError,
  ERR_USAGE: ConfigError,
  ERR_HTTP_LISTEN: ConfigError,
  ERR_DB_UNREACHABLE: UnreachableError,
  ERR_AWAIT_TIMEOUT: UnreachableError,
  ERR_LOCK_TIMEOUT: LockTimeoutError,
  ERR_DB_CONFLICT: LockTimeoutError,
  ERR_SOURCE_INVALID: ValidationError,
  ERR_SOURCE_EMPTY: ValidationError,
  ERR_VALIDATION_FAILED: ValidationError,
  ERR_SCHEMA_NOT_CURRENT: ValidationError,
  ERR_DOWN_MISSING: ValidationError,
  ERR_TRANSACTION_CONTROL: ValidationError,
  ERR_LINT_FAILED: ValidationError,
  ERR_ADOPT_REQUIRED: ValidationError,
  ERR_ADOPT_DIRTY: ValidationError,
  ERR_ADOPT_MISMATCH: ValidationError,
  ERR_ADOPT_NOT_FOUND: ValidationError,
  ERR_HISTORY_TABLE_FOREIGN: ValidationError,
  ERR_DB_AUTH: TargetRejectedError,
  ERR_DB_TLS: TargetRejectedError,
  ERR_DB_NOT_FOUND: TargetRejectedError,
  ERR_DB_READ_ONLY: TargetRejectedError,
  ERR_DB_PRIVILEGE: TargetRejectedError,
  ERR_DB_POOLER: TargetRejectedError,
  ERR_DB_UNSUPPORTED: TargetRejectedError,
  ERR_CONNECTION_LOST: OutcomeUnknownError,
  ERR_DB_SERVER: OutcomeUnknownError,
  ERR_LOCK_LOST: OutcomeUnknownError,
  ERR_LEASE_LOST: OutcomeUnknownError,
  ERR_BACKUP_FAILED: BackupFailedError,
  ERR_BACKUP_CLIENT_MISSING: BackupFailedError,
  ERR_INTERRUPTED: InterruptedError,
  ERR_INTERNAL: InternalError,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Wraps anything that is not a BerthError so that one path reports it, as a bug. */
export function toBerthError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError('ERR_INTERNAL', `internal error: ${message} (please report this as a bug)`, { cause: err });
}
