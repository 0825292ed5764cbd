import { locateInStatement } from '../source/split-statements.js';
import type { Migration, Statement } from '../source/types.js';
import { formatDuration } from '../config/duration.js';
import { ConnectionLostError, DriverQueryError, type Driver, type HistoryTable, type ServerErrorInfo } from '../drivers/driver.js';
import { BerthError, InterruptedError, MigrationFailedError, OutcomeUnknownError, TargetRejectedError, toBerthError } from './errors.js';
import type { EventListener } from './events.js';

export interface ApplyContext {
  readonly driver: Driver;
  readonly table: HistoryTable;
  readonly lockKey: bigint | null;
  /** The backend pid seen at connect; any other pid later means the session was swapped. */
  readonly pid: number;
  readonly host: string | null;
  readonly berthVersion: string;
  /** Session-wide statement timeout, for messages. */
  readonly statementTimeoutMs: number;
  readonly onEvent: EventListener;
  readonly signal?: AbortSignal;
}

/**
 * Runs one migration in its own transaction together with its history row; the lock and the
 * backend are re-verified when it starts and again in the statement that writes the row, just
 * before COMMIT (SPEC §4.1–4.2).
 */
export async function applyInTransaction(ctx: ApplyContext, m: Migration, mode: 'own' | 'shared'): Promise<number> {
  const started = Date.now();
  ctx.onEvent({ event: 'migration.start', version: m.version, name: m.name, file: m.up.fileName, transaction: true });
  try {
    await begin(ctx, m, mode === 'own' ? 'begin' : 'continue');
    let index = 0;
    try {
      for (const statement of m.statements) {
        ctx.signal?.throwIfAborted();
        await ctx.driver.exec(statement.sql);
        index++;
      }
    } catch (err) {
      throw statementError(ctx, m, m.statements[index], err);
    }
    const durationMs = Date.now() - started;
    const recorded = await ctx.driver.insertHistory(ctx.table, {
      version: m.version, name: m.name, checksum: m.checksum, status: 'applied',
      statementsApplied: m.statements.length, statementsTotal: m.statements.length,
      durationMs, host: ctx.host, berthVersion: ctx.berthVersion,
    }, ctx.lockKey);
    if (!recorded) throw lockLost(m);
    if (mode === 'own') await commit(ctx, [m]);
    ctx.onEvent({ event: 'migration.applied', version: m.version, name: m.name, file: m.up.fileName, durationMs });
    return durationMs;
  } catch (err) {
    const error = toBerthError(err instanceof ConnectionLostError ? connectionLost(m, err) : err);
    if (mode === 'own') await ctx.driver.rollback().catch(() => undefined);
    ctx.onEvent({ event: 'migration.failed', version: m.version, name: m.name, file: m.up.fileName, durationMs: Date.now() - started, code: error.code, message: error.message });
    throw error;
  }
}

/** Commits; a COMMIT that cannot be confirmed is never retried: its outcome is unknown (exit 7). */
export async function commit(ctx: ApplyContext, migrations: readonly Migration[]): Promise<void> {
  try {
    await ctx.driver.commit();
  } catch (err) {
    const versions = migrations.map((m) => m.version).join(', ');
    throw new OutcomeUnknownError('ERR_CONNECTION_LOST',
      `the connection was lost during COMMIT of migration ${versions}; whether it was applied is unknown. ` +
      'Run berth again: it reads the history table and continues from what was committed.', { cause: err });
  }
}

/**
 * Runs a `-- berth:no-transaction` migration statement by statement. Its row is written as
 * `started` before the first statement and counts the statements done, so an interruption leaves
 * a `failed`/`started` row that says exactly how far it got (SPEC §4.3).
 */
export async function applyWithoutTransaction(ctx: ApplyContext, m: Migration): Promise<number> {
  const started = Date.now();
  ctx.onEvent({ event: 'migration.start', version: m.version, name: m.name, file: m.up.fileName, transaction: false });
  let recordedStart = false;
  let done = 0;
  try {
    await begin(ctx, m, 'none');
    recordedStart = await ctx.driver.insertHistory(ctx.table, {
      version: m.version, name: m.name, checksum: m.checksum, status: 'started',
      statementsApplied: 0, statementsTotal: m.statements.length,
      durationMs: 0, host: ctx.host, berthVersion: ctx.berthVersion,
    }, ctx.lockKey);
    if (!recordedStart) throw lockLost(m);
    for (const statement of m.statements) {
      ctx.signal?.throwIfAborted();
      try {
        await ctx.driver.exec(statement.sql);
      } catch (err) {
        throw statementError(ctx, m, statement, err);
      }
      done++;
      await ctx.driver.updateHistory(ctx.table, m.version, { statementsApplied: done });
    }
    const durationMs = Date.now() - started;
    await ctx.driver.updateHistory(ctx.table, m.version, { status: 'applied', durationMs });
    ctx.onEvent({ event: 'migration.applied', version: m.version, name: m.name, file: m.up.fileName, durationMs });
    return durationMs;
  } catch (err) {
    let error = toBerthError(err instanceof ConnectionLostError ? connectionLost(m, err) : err);
    if (recordedStart) {
      const marked = await ctx.driver.updateHistory(ctx.table, m.version, { status: 'failed', statementsApplied: done, durationMs: Date.now() - started })
        .then(() => true, () => false);
      const how = marked ? `It is recorded as failed after ${done} of ${m.statements.length} statements` : `It is left marked started after ${done} of ${m.statements.length} statements`;
      error = withSuffix(error, ` ${how}, because a no-transaction migration cannot be rolled back. Inspect the database, then run ` +
        `"berth resolve ${m.version} --applied" or "berth resolve ${m.version} --rolled-back".`);
    }
    ctx.onEvent({ event: 'migration.failed', version: m.version, name: m.name, file: m.up.fileName, durationMs: Date.now() - started, code: error.code, message: error.message });
    throw error;
  }
}

async function begin(ctx: ApplyContext, m: Migration, transaction: 'begin' | 'continue' | 'none'): Promise<void> {
  const { pid, lockHeld } = await ctx.driver.beginMigration({
    transaction: transaction === 'begin',
    ...(m.directives.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: m.directives.lockTimeoutMs }),
    ...(m.directives.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: m.directives.statementTimeoutMs }),
  }, ctx.lockKey);
  if (pid !== ctx.pid) {
    throw new TargetRejectedError('ERR_DB_POOLER',
      `the server session changed under berth (backend ${ctx.pid} became ${pid}) before migration ${m.version}: a transaction-mode pooler ` +
      'sits in between. Connect the migrator directly to PostgreSQL or through a session-mode pool. Nothing of this migration ran.');
  }
  if (!lockHeld) throw lockLost(m);
}

function lockLost(m: Migration): OutcomeUnknownError {
  return new OutcomeUnknownError('ERR_LOCK_LOST',
    `the migration lock was no longer held before migration ${m.version} (${m.up.fileName}) could be recorded ` +
    '(did a migration call pg_advisory_unlock_all()?); it was not committed. Run berth again.');
}

function connectionLost(m: Migration, err: ConnectionLostError): OutcomeUnknownError {
  return new OutcomeUnknownError('ERR_CONNECTION_LOST',
    `the database connection was lost during migration ${m.version} (${m.up.fileName}): ${err.message}. ` +
    'Run berth again: it reads the history table and continues from what was committed.', { cause: err });
}

function withSuffix(error: BerthError, suffix: string): BerthError {
  Object.defineProperty(error, 'message', { value: error.message + suffix });
  return error;
}

/** Turns a server error into a message naming file, line and column, and which timeout fired. */
function statementError(ctx: ApplyContext, m: Migration, statement: Statement | undefined, err: unknown): Error {
  if (ctx.signal?.aborted) {
    const reason: unknown = ctx.signal.reason;
    if (reason instanceof InterruptedError) return reason;
  }
  if (!(err instanceof DriverQueryError)) return err as Error;
  const info = err.info;
  const where = location(m, statement, info);
  const extra = [info.detail && `detail: ${info.detail}`, info.hint && `hint: ${info.hint}`, info.where && `context: ${info.where}`]
    .filter(Boolean).map((s) => `\n  ${s}`).join('');
  const details = { version: m.version, file: m.up.fileName, ...where, sqlState: info.sqlState, serverMessage: info.message, detail: info.detail, hint: info.hint };
  const at = `${m.up.fileName}:${where.line}:${where.column}`;
  if (info.sqlState === '25001') {
    return new MigrationFailedError('ERR_MIGRATION_NEEDS_NO_TRANSACTION',
      `migration ${m.version} failed at ${at}: ${info.message}. This statement cannot run inside a transaction: put ` +
      '"-- berth:no-transaction" on the first line of the file (keep such statements in a file of their own). Nothing of it was applied.' + extra,
      { cause: err, details });
  }
  if (info.sqlState === '57014' && /statement timeout/i.test(info.message)) {
    const ms = m.directives.statementTimeoutMs ?? ctx.statementTimeoutMs;
    const source = m.directives.statementTimeoutMs === undefined ? '--statement-timeout' : '-- berth:statement-timeout';
    return new MigrationFailedError('ERR_MIGRATION_TIMEOUT',
      `migration ${m.version} failed at ${at}: the statement timeout fired (statement_timeout ${formatDuration(ms)} from ${source}). ` +
      'It was rolled back. Raise the timeout for this file with "-- berth:statement-timeout <duration>" if the statement is expected to be slow.' + extra,
      { cause: err, details });
  }
  if (info.sqlState === '55P03' && /lock timeout/i.test(info.message)) {
    const ms = m.directives.lockTimeoutMs;
    return new MigrationFailedError('ERR_MIGRATION_TIMEOUT',
      `migration ${m.version} failed at ${at}: the lock timeout fired (lock_timeout ${ms === undefined ? '' : `${formatDuration(ms)} `}from -- berth:lock-timeout): ` +
      'a table it needs is locked by other sessions. It was rolled back; retry when the blocking transactions are done.' + extra,
      { cause: err, details });
  }
  return new MigrationFailedError('ERR_MIGRATION_FAILED',
    `migration ${m.version} failed at ${at}: ${info.message}${info.sqlState ? ` (SQLSTATE ${info.sqlState})` : ''}.${extra}`,
    { cause: err, details });
}

function location(m: Migration, statement: Statement | undefined, info: ServerErrorInfo): { line: number; column: number } {
  if (!statement) return { line: 1, column: 1 };
  if (info.position === undefined) return { line: statement.line, column: statement.column };
  return locateInStatement(statement, info.position);
}
