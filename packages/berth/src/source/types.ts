/**
 * What the source layer hands to planning and running. Everything here is plain data: the
 * planner never touches the file system.
 */

export type MigrationKind = 'sql' | 'code';

/** Per-file directives from leading `-- berth:` comment lines (SPEC §2). */
export interface Directives {
  readonly noTransaction: boolean;
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
  /** SQL migrations only: the top-level statements of `sql`. */
  readonly statements: readonly Statement[];
  readonly directives: Directives;
}

/** One thing wrong with the migrations directory; all of them are reported at once. */
export interface SourceProblem {
  /** The file(s) concerned, relative to the directory. */
  readonly files: readonly string[];
  readonly message: string;
  /** 1-based line when the problem is inside a file. */
  readonly line?: number;
}
