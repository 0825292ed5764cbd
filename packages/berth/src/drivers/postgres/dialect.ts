import type { Dialect, Statement } from '../dialect.js';
import { scanSql } from './sql-scanner.js';
import { releasesSessionLock, transactionShape } from './transaction-control.js';

/** PostgreSQL's SQL, split as psql splits it; shared by the pg and PGlite drivers. */
export const postgresDialect: Dialect = {
  name: 'PostgreSQL',
  scan: scanSql,
  statementProblems: (statements) => statements.flatMap((statement) => {
    const command = releasesSessionLock(statement.sql);
    return command === undefined ? [] : [{
      line: statement.line,
      message: `${command} would release berth's migration lock in the middle of the run; ` +
        'use the narrower statement for what it should reset (RESET ALL, DEALLOCATE ALL, DISCARD PLANS, DISCARD TEMP, DISCARD SEQUENCES)',
    }];
  }),
  transactionShape,
  lint: true,
  grant: (privileges, on, user) => on.table === undefined
    ? `GRANT ${privileges} ON SCHEMA ${quoteIdent(on.schema)} TO ${quoteIdent(user)}`
    : `GRANT ${privileges} ON ${quoteIdent(on.schema)}.${quoteIdent(on.table)} TO ${quoteIdent(user)}`,
};

/**
 * The top-level statements of PostgreSQL SQL text: split on `;` the way psql does, not inside
 * comments, quoted strings, quoted identifiers, dollar quotes, parentheses, or a `BEGIN ATOMIC ...
 * END` function body. Pieces that hold only comments or whitespace are dropped.
 */
export function splitStatements(text: string): Statement[] {
  return scanSql(text).statements;
}

/** An identifier as PostgreSQL reads it: bare when it is lower case, else double-quoted. */
function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
