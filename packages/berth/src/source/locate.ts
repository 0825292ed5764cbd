import type { Statement } from './types.js';
import { LineCounter, offsetOfCharacterPosition, type LineColumn } from '../text.js';

/**
 * Where in the file a server error `position` (1-based character index into `statement.sql`, as
 * in PostgreSQL's ErrorResponse `P` field) points. berth sends a file's statements one by one (or
 * as the parts of one message), so it can count how many ran and point an error at its line.
 */
export function locateInStatement(statement: Statement, position: number): LineColumn {
  const offset = offsetOfCharacterPosition(statement.sql, position);
  const within = new LineCounter(statement.sql).advanceTo(offset);
  return within.line === 1
    ? { line: statement.line, column: statement.column + within.column - 1 }
    : { line: statement.line + within.line - 1, column: within.column };
}
