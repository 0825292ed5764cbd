/**
 * Splits an SQL file into top-level statements exactly as `berth migrate` runs them (the source
 * layer's scanner) and parses them with PostgreSQL's parser. A statement that does not parse
 * becomes a parse error with its place, never an exception: the other statements are still
 * linted.
 *
 * The whole file goes to the parser in one call (one call per statement costs about a third
 * more, bench/lint.mjs); its statements are matched to the scanner's by position. Only when that
 * fails (a syntax error anywhere, or a split the two disagree on) is each statement parsed on its
 * own, so that one error does not hide the rest of the file.
 *
 * The result is plain data; the rules (analyze.ts, lint-file.ts) run on it without the parser,
 * except `cmdAt`, which asks the parser's scanner lazily for the few findings that need it.
 */

import type { Node } from 'libpg-query';
import { scanSql, type LineComment, type ScanResult } from '../source/sql-scanner.js';
import type { Statement } from '../source/types.js';
import type { SqlParser } from './parser.js';
import { byteToIndex, charToIndex } from './positions.js';

export interface ParsedStatement {
  readonly statement: Statement;
  /** The parse tree; undefined when the statement did not parse (see `error`). */
  readonly ast?: Node;
  readonly error?: {
    readonly message: string;
    /** UTF-16 index into `statement.sql` where PostgreSQL located the error. */
    readonly index: number;
  };
  /**
   * The text the parser was given (the whole file, or `statement.sql` alone) and where it starts
   * in the file: AST locations are UTF-8 byte offsets into it.
   */
  readonly source: ParseSource;
  /** Byte offset (UTF-8) in `source` where this statement starts. */
  readonly byteOffset: number;
  /** The parse tree as the parser printed it (of the whole `source`), for checks on names. */
  readonly json?: string;
  /**
   * ALTER TABLE only: the file offset (UTF-16) of subcommand `k`, in the order of the AST's
   * `cmds`, so that a finding can point at `DROP COLUMN` rather than at `ALTER`. Undefined when
   * the subcommands cannot be told apart.
   */
  readonly cmdAt?: (k: number) => number | undefined;
}

export interface ParseSource {
  readonly text: string;
  /** UTF-16 offset of `text` in the file. */
  readonly offset: number;
  /** True when `text` is ASCII, so byte offsets are string indices. */
  readonly ascii: boolean;
}

export interface ParsedFile {
  readonly statements: readonly ParsedStatement[];
  readonly lineComments: readonly LineComment[];
  /** The scanner's view, for the directives (source/directives.ts). */
  readonly scan: ScanResult;
}

/** UTF-16 offset in the file of byte offset `byte` of `source`. */
export function fileOffset(source: ParseSource, byte: number): number {
  return source.offset + (source.ascii ? Math.min(Math.max(0, byte), source.text.length) : byteToIndex(source.text, byte));
}

const NON_ASCII = /[^\x00-\x7f]/;

export function parseSqlFile(text: string, parser: SqlParser, scan: ScanResult = scanSql(text)): ParsedFile {
  const { statements, lineComments } = scan;
  const parsed = statements.length === 0 ? [] : parseWhole(text, statements, parser) ?? parseEach(statements, parser);
  return { statements: parsed, lineComments, scan };
}

function parseWhole(text: string, statements: readonly Statement[], parser: SqlParser): ParsedStatement[] | undefined {
  const outcome = parser.parse(text);
  if (!outcome.ok) return undefined;
  const source: ParseSource = { text, offset: 0, ascii: !NON_ASCII.test(text) };
  const out: ParsedStatement[] = [];
  let k = 0;
  const seen = new Set<number>();
  for (const raw of outcome.stmts) {
    const byte = raw.stmt_location ?? 0;
    const at = fileOffset(source, byte);
    while (k < statements.length && at >= statements[k]!.offset + statements[k]!.sql.length) k++;
    const statement = statements[k];
    if (statement === undefined || at < statement.offset) return undefined;
    seen.add(k);
    out.push(withCmdOffsets({ statement, ast: raw.stmt, source, byteOffset: byte, json: outcome.json }, parser));
  }
  // Every piece the scanner found must hold a statement, or the two split differently.
  return seen.size === statements.length ? out : undefined;
}

function parseEach(statements: readonly Statement[], parser: SqlParser): ParsedStatement[] {
  const out: ParsedStatement[] = [];
  for (const statement of statements) {
    const source: ParseSource = { text: statement.sql, offset: statement.offset, ascii: !NON_ASCII.test(statement.sql) };
    const outcome = parser.parse(statement.sql);
    if (!outcome.ok) {
      const index = outcome.position < 0 ? 0 : source.ascii ? Math.min(outcome.position, statement.sql.length) : charToIndex(statement.sql, outcome.position);
      out.push({ statement, error: { message: outcome.message, index }, source, byteOffset: 0 });
      continue;
    }
    for (const raw of outcome.stmts) {
      out.push(withCmdOffsets({ statement, ast: raw.stmt, source, byteOffset: raw.stmt_location ?? 0, json: outcome.json }, parser));
    }
  }
  return out;
}

function withCmdOffsets(ps: ParsedStatement, parser: SqlParser): ParsedStatement {
  const ast = ps.ast;
  if (ast === undefined || !('AlterTableStmt' in ast)) return ps;
  let offsets: readonly (number | undefined)[] | undefined;
  return {
    ...ps,
    cmdAt: (k) => {
      offsets ??= alterTableCmdOffsets(parser, ps, ast) ?? [];
      return offsets[k];
    },
  };
}

/**
 * `ALTER TABLE [IF EXISTS] [ONLY] name [*] cmd, cmd, ...`: the AST has no location for a
 * subcommand, so the tokens after the table name are split at top-level commas. Returns
 * undefined when the count does not match the AST (then findings point at the statement).
 */
function alterTableCmdOffsets(parser: SqlParser, ps: ParsedStatement, node: Node): number[] | undefined {
  if (!('AlterTableStmt' in node)) return undefined;
  const source = ps.source;
  const stmt = node.AlterTableStmt;
  const relationAt = stmt.relation?.location;
  const count = stmt.cmds?.length ?? 0;
  if (relationAt === undefined || count === 0) return undefined;
  // Scan from the table name to the end of the statement only, not the whole file.
  const start = fileOffset(source, relationAt) - source.offset;
  const rest = source.text.slice(start, ps.statement.offset + ps.statement.sql.length - source.offset);
  const tokens = parser.scan(rest).filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT');
  const restSource: ParseSource = { text: rest, offset: source.offset + start, ascii: source.ascii || !NON_ASCII.test(rest) };
  let i = 1; // the first part of the name
  while (tokens[i]?.text === '.' && i + 1 < tokens.length) i += 2;
  if (tokens[i]?.text === '*') i++;
  const offsets: number[] = [];
  let depth = 0;
  let expectStart = true;
  for (; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.text === ';' && depth === 0) break;
    if (expectStart) {
      offsets.push(fileOffset(restSource, token.start));
      expectStart = false;
    }
    if (token.text === '(' || token.text === '[') depth++;
    else if (token.text === ')' || token.text === ']') depth = Math.max(0, depth - 1);
    else if (token.text === ',' && depth === 0) expectStart = true;
  }
  return offsets.length === count ? offsets : undefined;
}
