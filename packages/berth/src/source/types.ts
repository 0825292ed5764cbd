/**
 * What the source layer hands to planning and running. Everything here is plain data: the
 * planner never touches the file system.
 */

export type MigrationKind = 'sql' | 'code';

/** Per-file directives from leading `-- berth:` comment lines (SPEC §2), and what the file implies. */
export interface Directives {
  /** The file runs outside a transaction: `-- berth:no-transaction`, or implied by its statement. */
  readonly noTransaction: boolean;
  /**
   * Set when no directive asked for it: the file's single statement cannot run in a transaction
   * block (e.g. `CREATE INDEX CONCURRENTLY`), so it runs outside one, as golang-migrate runs it.
   */
  readonly noTransactionImpliedBy?: string;
  /** `-- berth:lock-timeout <duration>`, in milliseconds. */
  readonly lockTimeoutMs?: number;
  /** `-- berth:statement-timeout <duration>`, in milliseconds. */
  readonly statementTimeoutMs?: number;
}

/** One top-level statement of an SQL file, with where it starts in the (BOM-stripped) text. */
export interface Statement {
  /** The statement text, without its terminating semicolon, leading comments/whitespace trimmed. */
  readonly sql: string;
  /** Character offset of the statement's first character in the file text. */
  readonly offset: number;
  /** 1-based line and column of that first character. */
  readonly line: number;
  readonly column: number;
}

export interface MigrationFileRef {
  /** File name relative to the migrations directory, e.g. `0001_init.up.sql`. */
  readonly fileName: string;
  /** Absolute path. */
  readonly path: string;
}

/** An SQL file as berth runs it. */
export interface SqlBody {
  /** File name relative to the migrations directory. */
  readonly fileName: string;
  /** File text (UTF-8, BOM stripped). */
  readonly sql: string;
  /** The statements to run: top-level statements, without a wrapping BEGIN/COMMIT. */
  readonly statements: readonly Statement[];
  readonly directives: Directives;
}

/** A migration as found on disk, fully read and validated. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly kind: MigrationKind;
  readonly up: MigrationFileRef;
  readonly down?: MigrationFileRef;
  /** sha256 of the up file's bytes, lower-case hex (SPEC §3). */
  readonly checksum: string;
  /** SQL migrations only: file text (UTF-8, BOM stripped). */
  readonly sql?: string;
  /** SQL migrations only: the statements to run (see `SqlBody`). */
  readonly statements: readonly Statement[];
  readonly directives: Directives;
  /** The down file of an SQL migration, when there is one. */
  readonly downSql?: SqlBody;
}

/** One thing wrong with the migrations directory; all of them are reported at once. */
export interface SourceProblem {
  /** The file(s) concerned, relative to the directory. */
  readonly files: readonly string[];
  readonly message: string;
  /** 1-based line when the problem is inside a file. */
  readonly line?: number;
}

/**
 * How the files of one database are read. PostgreSQL's (the default) is source/sql-scanner.ts with
 * the transaction-control rules of source/transaction-control.ts; another dialect brings its own
 * splitter and runs without those rules.
 */
export interface SqlDialect {
  /** Statements, `--` comments (for directives), the first unterminated quote or comment, and lines it cannot run. */
  scan(text: string): {
    readonly statements: Statement[];
    readonly lineComments: { readonly text: string; readonly offset: number }[];
    readonly unterminated?: { readonly what: string; readonly offset: number };
    readonly problems?: readonly { readonly line: number; readonly message: string }[];
  };
  /** PostgreSQL's BEGIN/COMMIT wrapper, no-transaction statements and DISCARD ALL rules apply. */
  readonly postgresTransactionRules: boolean;
}
