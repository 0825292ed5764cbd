/**
 * Splits an SQL file into top-level statements exactly as `berth migrate` runs them (the source
 * layer's scanner) and parses each one with PostgreSQL's parser. A statement that does not parse
 * becomes a parse error with its place, never an exception: the other statements are still
 * linted.
 *
 * The result is plain data; the rules (lint-file.ts) run on it without the parser.
 */

import type { Node } from 'libpg-query';
import type { LineComment } from '../drivers/dialect.js';
import { scanSql } from '../drivers/postgres/sql-scanner.js';
import type { Statement } from '../source/types.js';
import type { SqlParser } from './parser.js';
import { charToIndex } from './positions.js';

export interface ParsedStatement {
  readonly statement: Statement;
  /** The parse tree; undefined when the statement did not parse (see `error`). */
  readonly ast?: Node;
  readonly error?: {
    readonly message: string;
    /** UTF-16 index into `statement.sql` where PostgreSQL located the error. */
    readonly index: number;
  };
  /** Byte offset (UTF-8) of this statement within `statement.sql` (non-zero only if one piece held several). */
  readonly byteOffset: number;
  /**
   * ALTER TABLE only: byte offset within `statement.sql` of each subcommand, in the order of the
   * AST's `cmds`, so a finding can point at `DROP COLUMN` rather than at `ALTER`.
   */
  readonly cmdOffsets?: readonly number[];
  /** True when `statement.sql` is ASCII, so byte offsets are string indices. */
  readonly ascii: boolean;
}

export interface ParsedFile {
  readonly statements: readonly ParsedStatement[];
  readonly lineComments: readonly LineComment[];
}

const NON_ASCII = /[^\x00-\x7f]/;

export function parseSqlFile(text: string, parser: SqlParser): ParsedFile {
  const { statements, lineComments } = scanSql(text);
  const parsed: ParsedStatement[] = [];
  for (const statement of statements) {
    const ascii = !NON_ASCII.test(statement.sql);
    const outcome = parser.parse(statement.sql);
    if (!outcome.ok) {
      const index = outcome.position < 0 ? 0 : ascii ? Math.min(outcome.position, statement.sql.length) : charToIndex(statement.sql, outcome.position);
      parsed.push({ statement, error: { message: outcome.message, index }, byteOffset: 0, ascii });
      continue;
    }
    for (const raw of outcome.stmts) {
      const cmdOffsets = 'AlterTableStmt' in raw.stmt ? alterTableCmdOffsets(parser, statement.sql, raw.stmt) : undefined;
      parsed.push({
        statement, ast: raw.stmt, byteOffset: raw.stmt_location ?? 0, ascii,
        ...(cmdOffsets === undefined ? {} : { cmdOffsets }),
      });
    }
  }
  return { statements: parsed, lineComments };
}

/**
 * `ALTER TABLE [IF EXISTS] [ONLY] name [*] cmd, cmd, ...`: the AST has no location for a
 * subcommand, so the tokens after the table name are split at top-level commas. Returns
 * undefined when the count does not match the AST (then findings point at the statement).
 */
function alterTableCmdOffsets(parser: SqlParser, sql: string, node: Node): number[] | undefined {
  if (!('AlterTableStmt' in node)) return undefined;
  const stmt = node.AlterTableStmt;
  const relationAt = stmt.relation?.location;
  const count = stmt.cmds?.length ?? 0;
  if (relationAt === undefined || count === 0) return undefined;
  const tokens = parser.scan(sql).filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT');
  let i = tokens.findIndex((t) => t.start >= relationAt);
  if (i < 0) return undefined;
  i++; // the first part of the name
  while (tokens[i]?.text === '.' && i + 1 < tokens.length) i += 2;
  if (tokens[i]?.text === '*') i++;
  const offsets: number[] = [];
  let depth = 0;
  let expectStart = true;
  for (; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (expectStart) {
      offsets.push(token.start);
      expectStart = false;
    }
    if (token.text === '(' || token.text === '[') depth++;
    else if (token.text === ')' || token.text === ']') depth = Math.max(0, depth - 1);
    else if (token.text === ',' && depth === 0) expectStart = true;
  }
  return offsets.length === count ? offsets : undefined;
}
