/**
 * Top-level statements of a PostgreSQL SQL file. berth sends them one at a time, rather than the
 * whole file as one simple query, so that it can count how many ran in a `no-transaction`
 * migration (SPEC §3 `statements_applied`) and point a server error at the file line.
 */

import type { Statement } from './types.js';
import { LineCounter, offsetOfCharacterPosition, type LineColumn } from '../text.js';
import { scanSql } from './sql-scanner.js';

export { lineColumnAt, type LineColumn } from '../text.js';

/**
 * Splits on top-level `;` the way psql does: not inside comments, quoted strings, quoted
 * identifiers, dollar quotes, parentheses, or a `BEGIN ATOMIC ... END` function body. Pieces
 * that hold only comments or whitespace are dropped; the last statement needs no `;`.
 */
export function splitStatements(text: string): Statement[] {
  return scanSql(text).statements;
}

/**
 * Where in the file a server error `position` (1-based character index into `statement.sql`,
 * as in PostgreSQL's ErrorResponse `P` field) points.
 */
export function locateInStatement(statement: Statement, position: number): LineColumn {
  const offset = offsetOfCharacterPosition(statement.sql, position);
  const within = new LineCounter(statement.sql).advanceTo(offset);
  return within.line === 1
    ? { line: statement.line, column: statement.column + within.column - 1 }
    : { line: statement.line + within.line - 1, column: within.column };
}
