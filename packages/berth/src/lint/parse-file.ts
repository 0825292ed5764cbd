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
import type { LineComment, ScanResult } from '../drivers/dialect.js';
import { scanSql } from '../drivers/postgres/sql-scanner.js';
import type { Statement } from '../source/types.js';
import type { RawStatement, SqlParser } from './parser.js';
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
  /** What to subtract from the parser's byte offsets to get offsets into `text` (several files parsed in one call). */
  readonly byteBase: number;
}

export interface ParsedFile {
  readonly statements: readonly ParsedStatement[];
  readonly lineComments: readonly LineComment[];
  /** The scanner's view, for the directives (source/directives.ts). */
  readonly scan: ScanResult;
}

/** UTF-16 offset in the file of byte offset `byte` of `source`. */
export function fileOffset(source: ParseSource, byte: number): number {
  const b = byte - source.byteBase;
  return source.offset + (source.ascii ? Math.min(Math.max(0, b), source.text.length) : byteToIndex(source.text, b));
}

const NON_ASCII = /[^\x00-\x7f]/;
const encoder = new TextEncoder();

export function parseSqlFile(text: string, parser: SqlParser, scan: ScanResult = scanSql(text)): ParsedFile {
  return parseSqlFiles([{ text, scan }], parser)[0]!;
}

/**
 * Texts parsed together stay under this size: one call for many small files, but not so many
 * that their parse trees, alive together until linted, raise the peak memory (bench/lint.mjs).
 */
export const BATCH_BYTES = 4096;
/**
 * Between two files of a batch: it ends a statement a file left open (no final semicolon). A file
 * that ends inside a string, comment or dollar quote is caught by the checks in `matchBatch`.
 */
const SEPARATOR = '\n;\n';

/**
 * Parses several files, as few parser calls as possible: files are concatenated into batches of
 * about BATCH_BYTES, and each batch's statements are matched back to each file's. A batch that does
 * not parse, or whose statements do not line up with the files' exactly, is parsed file by file
 * (and a file that does not parse, statement by statement).
 */
export function parseSqlFiles(files: readonly { text: string; scan: ScanResult }[], parser: SqlParser): ParsedFile[] {
  const out: ParsedFile[] = new Array(files.length);
  let i = 0;
  while (i < files.length) {
    let j = i;
    let size = 0;
    while (j < files.length && (j === i || size + files[j]!.text.length <= BATCH_BYTES)) size += files[j++]!.text.length + SEPARATOR.length;
    const batch = files.slice(i, j);
    const parsed = batch.length > 1 ? parseBatch(batch, parser) : undefined;
    batch.forEach((f, k) => {
      const { statements, lineComments } = f.scan;
      out[i + k] = parsed?.[k] ?? {
        statements: statements.length === 0 ? [] : parseWhole(f.text, statements, parser) ?? parseEach(statements, parser),
        lineComments, scan: f.scan,
      };
    });
    i = j;
  }
  return out;
}

function parseBatch(files: readonly { text: string; scan: ScanResult }[], parser: SqlParser): ParsedFile[] | undefined {
  const outcome = parser.parse(files.map((f) => f.text).join(SEPARATOR));
  if (!outcome.ok) return undefined;
  let byteBase = 0;
  const sources = files.map((f) => {
    const ascii = !NON_ASCII.test(f.text);
    const source: ParseSource = { text: f.text, offset: 0, ascii, byteBase };
    byteBase += (ascii ? f.text.length : encoder.encode(f.text).length) + SEPARATOR.length;
    return source;
  });
  const perFile: RawStatement[][] = files.map(() => []);
  let k = 0;
  for (const raw of outcome.stmts) {
    const byte = raw.stmt_location ?? 0;
    while (k + 1 < sources.length && byte >= sources[k + 1]!.byteBase) k++;
    perFile[k]!.push(raw);
  }
  const out: ParsedFile[] = [];
  for (let f = 0; f < files.length; f++) {
    const statements = matchStatements(files[f]!.scan.statements, perFile[f]!, sources[f]!, parser);
    if (statements === undefined) return undefined;
    out.push({ statements, lineComments: files[f]!.scan.lineComments, scan: files[f]!.scan });
  }
  return out;
}

function parseWhole(text: string, statements: readonly Statement[], parser: SqlParser): ParsedStatement[] | undefined {
  const outcome = parser.parse(text);
  if (!outcome.ok) return undefined;
  return matchStatements(statements, outcome.stmts, { text, offset: 0, ascii: !NON_ASCII.test(text), byteBase: 0 }, parser);
}

/**
 * The parser's statements, matched to the scanner's pieces. They must line up exactly: each piece
 * gets at least one statement, the first of which starts where the piece starts, and no statement
 * runs past the end of its text; otherwise the two split differently (or a batch's file ended in
 * the middle of something) and undefined says to parse again, smaller.
 */
function matchStatements(statements: readonly Statement[], raws: readonly RawStatement[], source: ParseSource, parser: SqlParser): ParsedStatement[] | undefined {
  const out: ParsedStatement[] = [];
  let k = -1;
  // A last statement without its semicolon runs into the newline before a batch's separator.
  const end = source.byteBase + (source.ascii ? source.text.length : encoder.encode(source.text).length) + 1;
  for (const raw of raws) {
    const byte = raw.stmt_location ?? 0;
    if (raw.stmt_len !== undefined && raw.stmt_len > 0 && byte + raw.stmt_len > end) return undefined;
    const at = fileOffset(source, byte);
    const next = statements[k + 1];
    if (next !== undefined && at >= next.offset) {
      if (at !== next.offset) return undefined;
      k++;
    } else if (k < 0 || at >= statements[k]!.offset + statements[k]!.sql.length) {
      return undefined;
    }
    out.push(withCmdOffsets({ statement: statements[k]!, ast: raw.stmt, source, byteOffset: byte }, parser));
  }
  return k === statements.length - 1 ? out : undefined;
}

function parseEach(statements: readonly Statement[], parser: SqlParser): ParsedStatement[] {
  const out: ParsedStatement[] = [];
  for (const statement of statements) {
    const source: ParseSource = { text: statement.sql, offset: statement.offset, ascii: !NON_ASCII.test(statement.sql), byteBase: 0 };
    const outcome = parser.parse(statement.sql);
    if (!outcome.ok) {
      const index = outcome.position < 0 ? 0 : source.ascii ? Math.min(outcome.position, statement.sql.length) : charToIndex(statement.sql, outcome.position);
      out.push({ statement, error: { message: outcome.message, index }, source, byteOffset: 0 });
      continue;
    }
    for (const raw of outcome.stmts) {
      out.push(withCmdOffsets({ statement, ast: raw.stmt, source, byteOffset: raw.stmt_location ?? 0 }, parser));
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
  const restSource: ParseSource = { text: rest, offset: source.offset + start, ascii: source.ascii || !NON_ASCII.test(rest), byteBase: 0 };
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
