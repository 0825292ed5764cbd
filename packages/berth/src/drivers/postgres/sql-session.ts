import type { ServerErrorInfo } from '../driver.js';

/**
 * The subset of a PostgreSQL client the dialect needs. Both node-postgres and PGlite are adapted
 * to it, so the SQL of the PostgreSQL dialect is written once.
 */
export interface SqlSession {
  /**
   * True when the session-level settings asked for at open time were sent in the connection's
   * start-up packet. Whether they took effect is for the caller to check: a pooler may drop them.
   */
  readonly startupSent: boolean;
  /**
   * The process id announced at start-up (BackendKeyData), or null where there is none. A direct
   * connection announces its backend's pid; a pooler announces one of its own making.
   */
  readonly announcedPid: number | null;
  /** One statement with bind parameters (extended protocol). */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /** Any number of statements in one message (simple protocol); rows of the last one. */
  simple<R = Record<string, unknown>>(sql: string): Promise<R[]>;
  /**
   * Like `simple`, but never throws: says how many statements completed, and the error of the
   * one that did not. Absent when the client cannot count completed statements.
   */
  script?(sql: string): Promise<ScriptResult>;
  /**
   * Calls `handler` with the channel of every notification (LISTEN/NOTIFY) this session receives;
   * returns a function that stops it. Absent when the client cannot receive notifications.
   */
  onNotification?(handler: (channel: string) => void): () => void;
  /**
   * Opens a second session to the same target, sends `pg_notify(channel)` from it and closes it;
   * resolves with that session's backend pid. Rejects with a classified error when no second
   * session gets a server within `timeoutMs`. Absent where there is only one session.
   */
  notifyFromSecondSession?(channel: string, timeoutMs: number): Promise<number>;
  /**
   * Cancels the running statement on the server, if the client can. `protocol`: with the
   * protocol's CancelRequest (the key the server, or the pooler, announced at start-up) rather
   * than pg_cancel_backend: behind a pooler the announced process id is the pooler's own, and only
   * the pooler knows which server session runs this client's statement.
   */
  cancel(how?: 'protocol'): Promise<void>;
  end(): Promise<void>;
}

export interface ScriptResult {
  /** Statements that completed (CommandComplete) before the error, or all of them. */
  readonly completed: number;
  readonly error?: unknown;
}

/** Pulls what PostgreSQL reports (SQLSTATE, position, detail, hint) out of a client error. */
export function serverErrorInfo(err: unknown): ServerErrorInfo | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as Record<string, unknown>;
  if (typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code)) return undefined;
  const position = e.position === undefined ? undefined : Number(e.position);
  return {
    message: String(e.message ?? 'unknown error'),
    sqlState: e.code,
    ...(position !== undefined && Number.isFinite(position) ? { position } : {}),
    ...(typeof e.detail === 'string' ? { detail: e.detail } : {}),
    ...(typeof e.hint === 'string' ? { hint: e.hint } : {}),
    ...(typeof e.where === 'string' ? { where: e.where } : {}),
  };
}
