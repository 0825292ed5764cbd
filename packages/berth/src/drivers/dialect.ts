/**
 * What a database's SQL looks like to berth: how a file splits into statements, where its line
 * comments are (for `-- berth:` directives), and how its statements relate to the transaction
 * berth runs a migration in. Each driver brings one (drivers/registry.ts); the source layer reads
 * files with the dialect of the target, so nothing PostgreSQL-specific runs on a MySQL file.
 */

/** One top-level statement of an SQL file, with where it starts in the (BOM-stripped) text. */
export interface Statement {
  /** The statement text, without its terminating delimiter, leading comments/whitespace trimmed. */
  readonly sql: string;
  /** Character offset of the statement's first character in the file text. */
  readonly offset: number;
  /** 1-based line and column of that first character. */
  readonly line: number;
  readonly column: number;
}

/** A `-- ...` comment; `text` includes the dashes and excludes the line break. */
export interface LineComment {
  readonly text: string;
  readonly offset: number;
}

export interface ScanResult {
  readonly statements: Statement[];
  readonly lineComments: LineComment[];
  /** The first quote or comment that is never closed, if any. */
  readonly unterminated?: Unterminated;
  /** Lines the database's own client would handle but the server never sees (MySQL's `DELIMITER`). */
  readonly problems?: readonly StatementProblem[];
}

export interface Unterminated {
  /** What was left open, as a message names it: `quoted string`, `/* comment`, ... */
  readonly what: string;
  /** Offset of its opening character. */
  readonly offset: number;
}

/** A problem of a file's statements, found before anything runs. */
export interface StatementProblem {
  readonly line: number;
  readonly message: string;
}

/** What to run, and how, for a file without `-- berth:no-transaction`. */
export interface TransactionShape {
  /** The statements to run (e.g. without a wrapping BEGIN/COMMIT). */
  readonly statements: readonly Statement[];
  /** Set when the file must run outside a transaction: the command that requires it. */
  readonly outsideTransaction?: string;
  readonly problems: readonly StatementProblem[];
}

export interface Dialect {
  /** The language as messages name it: `PostgreSQL`, `MySQL`. */
  readonly name: string;
  /** Splits a file into its top-level statements, the way the database's own client would. */
  scan(text: string): ScanResult;
  /**
   * Problems of a file's statements whatever its directives: a statement that would break berth's
   * guarantees (release its lock, say) or that the database's client would not send.
   */
  statementProblems(statements: readonly Statement[]): StatementProblem[];
  /** For a file without `-- berth:no-transaction`: what runs, whether in a transaction, what is refused. */
  transactionShape(statements: readonly Statement[]): TransactionShape;
  /** `berth lint` understands this dialect (`migrate` lints pending files only then). */
  readonly lint: boolean;
  /**
   * The GRANT statement an error suggests: `privileges` on a table, or on a schema (MySQL: a
   * database) when `on.table` is absent, to `user` as the server named berth's session user.
   */
  grant(privileges: string, on: { readonly schema: string; readonly table?: string }, user: string): string;
}
