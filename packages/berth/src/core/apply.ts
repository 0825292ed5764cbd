import { locateInStatement } from '../source/locate.js';
import type { Directives, Migration, Statement } from '../source/types.js';
import { formatDuration } from '../duration.js';
import { redactSecrets } from '../config/database-url.js';
import type { Dialect } from '../drivers/dialect.js';
import { ConnectionLostError, DriverQueryError, type Driver, type HistoryTable, type HistoryWrite, type LockGuard } from '../drivers/driver.js';
import { BerthError, InterruptedError, MigrationFailedError, OutcomeUnknownError, TargetRejectedError, toBerthError } from '../errors.js';
import type { EventListener } from './events.js';
import { ownStatementError } from './guard-driver.js';

/** What a code migration's `up(ctx)` / `down(ctx)` receives. */
export interface MigrationContext {
  /**
   * Runs one statement with bind parameters and returns its rows, in the migration's transaction.
   * Also usable as a tagged template: ctx.sql`UPDATE t SET x = ${value}` sends `value` as $1.
   */
  sql<R = Record<string, unknown>>(text: string | TemplateStringsArray, ...params: unknown[]): Promise<R[]>;
  /** Logs a line attributed to this migration. */
  log(message: string): void;
}

export type CodeMigrationFn = (ctx: MigrationContext) => unknown;

export interface ApplyContext {
  readonly driver: Driver;
  readonly table: HistoryTable;
  /** What every history write and COMMIT is checked against: the advisory lock, or the lease's token. */
  readonly lockKey: LockGuard | null;
  /**
   * The backend pid seen at connect; any other pid later means the session was swapped. Null
   * under a lease behind a transaction pooler, where that is expected.
   */
  readonly pid: number | null;
  /** The role berth connected as. */
  readonly user: string;
  /** The target's dialect, for the GRANT a privilege error suggests. */
  readonly dialect: Dialect;
  /** The target's secrets, masked in what a code migration throws or logs (text from outside berth). */
  readonly secrets: readonly (string | undefined)[];
  readonly host: string | null;
  readonly berthVersion: string;
  /** Recorded on every row written (`--release`). */
  readonly release: string | null;
  /** Where this run's backup went, recorded on every row it writes; null without one. */
  readonly backup: string | null;
  /**
   * Session-wide statement timeout, for messages; undefined when the server refused it and its own
   * statement_timeout is in force.
   */
  readonly statementTimeoutMs: number | undefined;
  /** The connection goes through a pooler (one checked to keep the session), for messages. */
  readonly pooled: boolean;
  readonly onEvent: EventListener;
  readonly signal?: AbortSignal;
  /**
   * `verified` is true while nothing has run on the session since the lock was last seen held
   * (taken, or checked just before a COMMIT): the next migration's first check can then be
   * skipped, since neither COMMIT nor RESET ALL releases a session lock.
   */
  readonly lock: { verified: boolean };
}

/** One file to run: the up or the down of a migration, SQL statements or a code function. */
export interface Step {
  readonly migration: Migration;
  readonly direction: 'up' | 'down';
  /** The file that runs (the up file, or the down file), relative to the directory. */
  readonly file: string;
  readonly directives: Directives;
  /** Where it stands in its run: the `index`-th of `total` (1-based), for progress. */
  readonly position?: { readonly index: number; readonly total: number };
  readonly body: { readonly kind: 'sql'; readonly sql: string; readonly statements: readonly Statement[] } | { readonly kind: 'code'; readonly fn: CodeMigrationFn };
}

export function upStep(m: Migration, fn?: CodeMigrationFn): Step {
  return {
    migration: m, direction: 'up', file: m.up.fileName, directives: m.directives,
    body: fn ? { kind: 'code', fn } : { kind: 'sql', sql: m.sql ?? '', statements: m.statements },
  };
}

/**
 * Runs one step in a transaction together with its history change (insert for up, delete for
 * down); the lock and the backend are re-verified when it starts and again in the statement that
 * writes history, just before COMMIT (SPEC §4.1–4.2). `shared` runs inside a transaction the
 * caller opened (--single-transaction).
 */
export async function runInTransaction(ctx: ApplyContext, step: Step, mode: 'own' | 'shared'): Promise<number> {
  const m = step.migration;
  const started = Date.now();
  emitStart(ctx, step, true);
  try {
    // A lease can expire while nothing runs: it is checked before each migration, not only before COMMIT.
    const lockVerified = ctx.lock.verified && !isLease(ctx);
    ctx.lock.verified = false;
    if (mode === 'own' && step.body.kind === 'sql' && ctx.driver.runScript) {
      await runAsOneMessage(ctx, step, step.body.statements, lockVerified);
      ctx.lock.verified = true;
      const durationMs = Date.now() - started;
      emitDone(ctx, step, durationMs);
      return durationMs;
    }
    await begin(ctx, step, mode === 'own' ? 'begin' : 'continue');
    const total = await runBody(ctx, step, () => undefined);
    const durationMs = Date.now() - started;
    const recorded = step.direction === 'up'
      ? await ctx.driver.writeHistory(ctx.table, { insert: {
        version: m.version, name: m.name, checksum: m.checksum, status: 'applied',
        statementsApplied: total, statementsTotal: total, durationMs, host: ctx.host, berthVersion: ctx.berthVersion, release: ctx.release, backup: ctx.backup,
      } }, ctx.lockKey)
      : await ctx.driver.writeHistory(ctx.table, { delete: m.version }, ctx.lockKey);
    if (!recorded) throw lockLost(ctx, step);
    if (mode === 'own') await commit(ctx, [m]);
    emitDone(ctx, step, durationMs);
    return durationMs;
  } catch (err) {
    const error = normalise(ctx, step, err);
    if (mode === 'own') await ctx.driver.rollback().catch(() => undefined);
    emitFailed(ctx, step, started, error);
    throw error;
  }
}

/**
 * The same transaction as the statement-by-statement path, sent as one message where the driver
 * can say which statement of it failed: a migration then costs one round trip, not one per
 * statement (RESET/BEGIN, each statement, the history row, COMMIT).
 */
async function runAsOneMessage(ctx: ApplyContext, step: Step, statements: readonly Statement[], lockVerified: boolean): Promise<void> {
  const m = step.migration;
  const outcome = await ctx.driver.runScript!({
    table: ctx.table,
    session: fileTimeouts(ctx, step),
    expectedPid: ctx.pid,
    lockKey: ctx.lockKey,
    lockVerified,
    statements: statements.map((statement) => statement.sql),
    history: step.direction === 'up'
      ? { insert: { version: m.version, name: m.name, checksum: m.checksum, status: 'applied', statementsApplied: statements.length,
        statementsTotal: statements.length, host: ctx.host, berthVersion: ctx.berthVersion, release: ctx.release, backup: ctx.backup } }
      : { deleteVersion: m.version },
  });
  if (outcome.ok) return;
  switch (outcome.failed) {
    case 'statement':
      throw statementError(ctx, step, statements[outcome.index]!, outcome.error);
    case 'session-changed':
      throw sessionChanged(ctx, step);
    case 'lock-lost':
      throw lockLost(ctx, step);
    case 'commit':
      throw serverError(ctx, step, `COMMIT of ${step.file}`, {}, outcome.error);
    case 'setup':
      throw ownStatementError(outcome.error, 'session', { user: ctx.user, dialect: ctx.dialect, table: ctx.table });
    case 'history':
      throw ownStatementError(outcome.error, 'write', { user: ctx.user, dialect: ctx.dialect, table: ctx.table });
  }
}

/** Commits; a COMMIT that cannot be confirmed is never retried: its outcome is unknown (exit 7). */
export async function commit(ctx: ApplyContext, migrations: readonly Migration[]): Promise<void> {
  try {
    await ctx.driver.commit();
  } catch (err) {
    const versions = migrations.map((m) => m.version).join(', ');
    // The server answered: COMMIT was refused (a deferred constraint) and rolled back.
    if (err instanceof DriverQueryError) {
      throw new MigrationFailedError('ERR_MIGRATION_FAILED',
        `COMMIT of migration ${versions} was refused: ${err.info.message}${err.info.sqlState ? ` (SQLSTATE ${err.info.sqlState})` : ''}. It was rolled back.` +
        (err.info.detail ? `\n  detail: ${err.info.detail}` : ''), { cause: err });
    }
    throw new OutcomeUnknownError('ERR_CONNECTION_LOST',
      `the connection was lost during COMMIT of migration ${versions}; whether it was applied is unknown. ` +
      'Run berth again: it reads the history table and continues from what was committed.', { cause: err });
  }
}

/**
 * Runs a `-- berth:no-transaction` step statement by statement. Its row says `started` before the
 * first statement and counts the statements done, so an interruption leaves a `failed`/`started`
 * row that says exactly how far it got (SPEC §4.3).
 */
export async function runWithoutTransaction(ctx: ApplyContext, step: Step): Promise<number> {
  const m = step.migration;
  const started = Date.now();
  emitStart(ctx, step, false);
  ctx.lock.verified = false;
  let marked = false;
  let done = 0;
  const total = step.body.kind === 'sql' ? step.body.statements.length : 0;
  try {
    await begin(ctx, step, 'none');
    if (step.direction === 'up') {
      marked = await ctx.driver.writeHistory(ctx.table, { insert: {
        version: m.version, name: m.name, checksum: m.checksum, status: 'started',
        statementsApplied: 0, statementsTotal: total, durationMs: 0, host: ctx.host, berthVersion: ctx.berthVersion, release: ctx.release, backup: ctx.backup,
      } }, ctx.lockKey);
    } else {
      marked = await ctx.driver.writeHistory(ctx.table, { update: m.version, set: { status: 'started', statementsApplied: 0 } }, ctx.lockKey);
    }
    if (!marked) throw lockLost(ctx, step);
    // Each write says whether the lock is still held: a lost one stops the file after the
    // statement that ran, which the row then counts.
    const record = async (change: HistoryWrite): Promise<void> => {
      if (!(await ctx.driver.writeHistory(ctx.table, change, ctx.lockKey))) throw lockLost(ctx, step);
    };
    await runBody(ctx, step, async (n) => {
      done = n;
      await record({ update: m.version, set: { statementsApplied: n } });
    });
    const durationMs = Date.now() - started;
    await record(step.direction === 'up' ? { update: m.version, set: { status: 'applied', durationMs } } : { delete: m.version });
    emitDone(ctx, step, durationMs);
    return durationMs;
  } catch (err) {
    let error = normalise(ctx, step, err);
    if (marked) {
      const recorded = await ctx.driver.writeHistory(ctx.table, { update: m.version, set: { status: 'failed', statementsApplied: done, durationMs: Date.now() - started } }, ctx.lockKey)
        .catch(() => false);
      const what = step.direction === 'up' ? 'migration' : 'rollback';
      const how = recorded ? `It is recorded as failed after ${done} of ${total} statements` : `It is left marked started after ${done} of ${total} statements`;
      const next = `because a no-transaction ${what} cannot be undone. ` +
        `Inspect the database, then run "berth resolve ${m.version} --applied" or "berth resolve ${m.version} --rolled-back".`;
      // Not the interrupt's default message: nothing of this file was rolled back.
      error = error instanceof InterruptedError
        ? new InterruptedError(error.signal, { cause: error,
          message: `interrupted by ${error.signal} during ${step.file}, a no-transaction ${what}: its running statement was cancelled, ` +
            `and the statements before it stay applied. ${how}, ${next}` })
        : withSuffix(error, ` ${how}, ${next}`);
    }
    emitFailed(ctx, step, started, error);
    throw error;
  }
}

/** Runs the statements or the code of a step; returns how many statements ran. */
async function runBody(ctx: ApplyContext, step: Step, afterStatement: (done: number) => unknown): Promise<number> {
  if (step.body.kind === 'sql') {
    let done = 0;
    for (const statement of step.body.statements) {
      ctx.signal?.throwIfAborted();
      try {
        await ctx.driver.execute(statement.sql);
      } catch (err) {
        throw statementError(ctx, step, statement, err);
      }
      done++;
      await afterStatement(done);
    }
    return done;
  }
  let count = 0;
  const migrationCtx: MigrationContext = {
    sql: async <R,>(text: string | TemplateStringsArray, ...params: unknown[]) => {
      ctx.signal?.throwIfAborted();
      const [sql, values] = typeof text === 'string' ? [text, (params[0] as unknown[] | undefined) ?? []] : fromTemplate(text, params);
      const callSite = new Error().stack ?? '';
      try {
        const { rows } = await ctx.driver.execute(sql, values);
        count++;
        // Under a lease, a code migration outside a transaction records its progress after each
        // statement, as a SQL file does: the write checks the fence before the next one runs.
        if (isLease(ctx)) await afterStatement(count);
        return rows as R[];
      } catch (err) {
        if (err instanceof BerthError) throw err;
        throw codeStatementError(ctx, step, callSite, err);
      }
    },
    log: (message: string) => ctx.onEvent({ event: 'migration.log', version: step.migration.version, name: step.migration.name, message: redactSecrets(String(message), ctx.secrets) }),
  };
  await step.body.fn(migrationCtx);
  return count;
}

function fromTemplate(strings: TemplateStringsArray, values: unknown[]): [string, unknown[]] {
  let sql = strings[0] ?? '';
  for (let i = 1; i < strings.length; i++) sql += `$${i}${strings[i]}`;
  return [sql, values];
}

async function begin(ctx: ApplyContext, step: Step, transaction: 'begin' | 'continue' | 'none'): Promise<void> {
  let timeouts = fileTimeouts(ctx, step);
  // Behind a transaction pooler (ctx.pid null) a SET outside a transaction would stay on whichever
  // server session ran it, for other clients, and miss the file's statements, which may each run
  // on another one: a no-transaction file runs there with the server's own timeouts.
  if (transaction === 'none' && ctx.pid === null && Object.keys(timeouts).length > 0) {
    ctx.onEvent({ event: 'plan.warning', code: 'W_POOLER_TIMEOUTS', version: step.migration.version,
      message: `${step.file} runs without a transaction through a transaction pooler: its lock/statement timeouts (--statement-timeout, -- berth:lock-timeout, -- berth:statement-timeout) ` +
        'cannot be SET for its statements there and are not applied; the server\'s own settings are in force' });
    timeouts = {};
  }
  const { pid, lockHeld } = await ctx.driver.beginMigration({
    transaction: transaction === 'begin',
    ...timeouts,
  }, ctx.lockKey);
  if (ctx.pid !== null && pid !== ctx.pid) throw sessionChanged(ctx, step, pid);
  if (!lockHeld) throw lockLost(ctx, step);
}

/** The file's own `-- berth:lock-timeout` / `statement-timeout`, for the session it runs in. */
function fileTimeouts(ctx: ApplyContext, step: Step): { lockTimeoutMs?: number; statementTimeoutMs?: number } {
  // The file's directive, else --statement-timeout: set with each migration, so that berth's own
  // statements are never cut by a timeout meant for migrations.
  const statementTimeoutMs = step.directives.statementTimeoutMs ?? (ctx.statementTimeoutMs ? ctx.statementTimeoutMs : undefined);
  return {
    ...(step.directives.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: step.directives.lockTimeoutMs }),
    ...(statementTimeoutMs === undefined ? {} : { statementTimeoutMs }),
  };
}

function sessionChanged(ctx: ApplyContext, step: Step, pid?: number): TargetRejectedError {
  return new TargetRejectedError('ERR_DB_POOLER',
    `the server session changed under berth (backend ${ctx.pid} became ${pid ?? 'another one'}) before ${step.file}: a transaction-mode pooler ` +
    'sits in between. Connect the migrator directly to PostgreSQL or through a session-mode pool. Nothing of this migration ran.');
}

function emitStart(ctx: ApplyContext, step: Step, transaction: boolean): void {
  const m = step.migration;
  ctx.onEvent(step.direction === 'up'
    ? { event: 'migration.start', version: m.version, name: m.name, file: step.file, transaction, ...step.position }
    : { event: 'migration.revert.start', version: m.version, name: m.name, file: step.file, transaction, ...step.position });
}

function emitDone(ctx: ApplyContext, step: Step, durationMs: number): void {
  const m = step.migration;
  ctx.onEvent(step.direction === 'up'
    ? { event: 'migration.applied', version: m.version, name: m.name, file: step.file, durationMs, ...step.position }
    : { event: 'migration.reverted', version: m.version, name: m.name, file: step.file, durationMs, ...step.position });
}

function emitFailed(ctx: ApplyContext, step: Step, started: number, error: BerthError): void {
  const m = step.migration;
  ctx.onEvent({ event: 'migration.failed', version: m.version, name: m.name, file: step.file, direction: step.direction, durationMs: Date.now() - started, code: error.code, message: error.message });
}

function normalise(ctx: ApplyContext, step: Step, err: unknown): BerthError {
  if (ctx.signal?.aborted && ctx.signal.reason instanceof InterruptedError) return ctx.signal.reason;
  if (err instanceof ConnectionLostError) {
    return new OutcomeUnknownError('ERR_CONNECTION_LOST',
      `the database connection was lost during ${step.file} (migration ${step.migration.version}): ${err.message}. ` +
      'Run berth again: it reads the history table and continues from what was committed.', { cause: err });
  }
  if (err instanceof BerthError) return err;
  if (step.body.kind === 'code' && !(err instanceof DriverQueryError)) {
    const message = redactSecrets(err instanceof Error ? err.message : String(err), ctx.secrets);
    return new MigrationFailedError('ERR_MIGRATION_FAILED',
      `migration ${step.migration.version} failed in ${step.file}${codeLine(step, err instanceof Error ? err.stack ?? '' : '')}: ${message}. It was rolled back.`, { cause: err });
  }
  return toBerthError(err);
}

function isLease(ctx: ApplyContext): boolean {
  return ctx.lockKey !== null && 'lease' in ctx.lockKey;
}

function lockLost(ctx: ApplyContext, step: Step): OutcomeUnknownError {
  if (ctx.lockKey !== null && 'lease' in ctx.lockKey) {
    const lease = `${ctx.lockKey.lease.schema}.${ctx.lockKey.lease.table}`;
    return new OutcomeUnknownError('ERR_LEASE_LOST',
      `the migration lease (${lease}, token ${ctx.lockKey.token}) expired or was taken over by another runner before ${step.file} could be recorded: ` +
      'its heartbeat stopped for longer than --lease-ttl (was berth frozen, or the database out of its reach?). Nothing of this migration was committed. ' +
      'Run berth again: it reads the history table and continues from what was committed.',
      { details: { lease, token: ctx.lockKey.token.toString(), file: step.file } });
  }
  // Behind a pooler the likelier cause is the pooler itself, not a migration.
  const why = ctx.pooled
    ? '(the connection goes through a pooler, which may have closed or reset berth\'s server session: a RECONNECT or KILL ' +
      'from its console, server_reset_query_always, a restart)'
    : '(did a migration release it, with pg_advisory_unlock_all() or RELEASE_ALL_LOCKS(), or was its session killed?)';
  return new OutcomeUnknownError('ERR_LOCK_LOST',
    `the migration lock was no longer held before ${step.file} could be recorded ${why}; it was not committed. Run berth again.`);
}

function withSuffix(error: BerthError, suffix: string): BerthError {
  Object.defineProperty(error, 'message', { value: error.message + suffix });
  return error;
}

/** Turns a server error into a message naming file, line and column, and which timeout fired. */
function statementError(ctx: ApplyContext, step: Step, statement: Statement, err: unknown): Error {
  if (!(err instanceof DriverQueryError)) return err as Error;
  const info = err.info;
  const where = info.position === undefined ? { line: statement.line, column: statement.column } : locateInStatement(statement, info.position);
  return serverError(ctx, step, `${step.file}:${where.line}:${where.column}`, where, err);
}

function codeStatementError(ctx: ApplyContext, step: Step, callSite: string, err: unknown): Error {
  if (!(err instanceof DriverQueryError)) return err as Error;
  return serverError(ctx, step, `${step.file}${codeLine(step, callSite)}`, {}, err);
}

/** `:line:column` of the first stack frame inside the migration file, when there is one. */
function codeLine(step: Step, stack: string): string {
  const path = step.migration.up.path;
  for (const line of stack.split('\n')) {
    const at = line.indexOf(path);
    if (at < 0) continue;
    const match = /:(\d+):(\d+)\)?\s*$/.exec(line.slice(at + path.length));
    if (match) return `:${match[1]}:${match[2]}`;
  }
  return '';
}

/** Which statement_timeout was in force for a step, as far as berth can know. */
function statementTimeoutSource(ctx: ApplyContext, step: Step): string {
  const file = step.directives.statementTimeoutMs;
  if (file !== undefined) return `statement_timeout ${formatDuration(file)} from -- berth:statement-timeout`;
  if (ctx.statementTimeoutMs === undefined) return 'the server\'s own statement_timeout: it refused berth\'s --statement-timeout, see the connect.warning';
  if (ctx.statementTimeoutMs > 0) return `statement_timeout ${formatDuration(ctx.statementTimeoutMs)} from --statement-timeout`;
  return 'a statement_timeout the migration set itself: berth sets none (--statement-timeout 0)';
}

function serverError(ctx: ApplyContext, step: Step, at: string, where: object, err: DriverQueryError): Error {
  const m = step.migration;
  const { info } = err;
  const extra = [info.detail && `detail: ${info.detail}`, info.hint && `hint: ${info.hint}`, info.where && `context: ${info.where}`]
    .filter(Boolean).map((s) => `\n  ${s}`).join('');
  const details = { version: m.version, file: step.file, ...where, sqlState: info.sqlState, serverMessage: info.message, detail: info.detail, hint: info.hint };
  const what = step.direction === 'up' ? 'migration' : 'rollback of migration';
  if (err.family === 'needs-no-transaction') {
    return new MigrationFailedError('ERR_MIGRATION_NEEDS_NO_TRANSACTION',
      `${what} ${m.version} failed at ${at}: ${info.message}. This statement cannot run inside a transaction: put ` +
      '"-- berth:no-transaction" on the first line of the file (keep such statements in a file of their own). Nothing of it was applied.' + extra,
      { cause: err, details });
  }
  if (err.family === 'statement-timeout') {
    return new MigrationFailedError('ERR_MIGRATION_TIMEOUT',
      `${what} ${m.version} failed at ${at}: the statement timeout fired (${statementTimeoutSource(ctx, step)}). ` +
      'It was rolled back. Raise the timeout for this file with "-- berth:statement-timeout <duration>" if the statement is expected to be slow.' + extra,
      { cause: err, details });
  }
  if (err.family === 'lock-timeout') {
    const ms = step.directives.lockTimeoutMs;
    return new MigrationFailedError('ERR_MIGRATION_TIMEOUT',
      `${what} ${m.version} failed at ${at}: the lock timeout fired (lock_timeout${ms === undefined ? '' : ` ${formatDuration(ms)}`} from -- berth:lock-timeout): ` +
      'a table it needs is locked by other sessions. It was rolled back; retry when the blocking transactions are done.' + extra,
      { cause: err, details });
  }
  return new MigrationFailedError('ERR_MIGRATION_FAILED',
    `${what} ${m.version} failed at ${at}: ${info.message}${info.sqlState ? ` (SQLSTATE ${info.sqlState})` : ''}.${extra}`,
    { cause: err, details });
}
