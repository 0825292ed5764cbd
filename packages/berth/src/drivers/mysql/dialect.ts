import type { Dialect } from '../dialect.js';
import { scanMysql } from './mysql-splitter.js';

/**
 * MySQL's and MariaDB's SQL, split as their servers' multi-statement parser reads it. DDL commits
 * by itself there (`transactionalDdl` false): every migration runs statement by statement through a
 * `started` row, so there is no transaction shape to check and nothing to move out of one.
 */
export const mysqlDialect: Dialect = {
  name: 'MySQL',
  scan: scanMysql,
  statementProblems: () => [],
  transactionShape: (statements) => ({ statements, problems: [] }),
  // berth lint reads PostgreSQL's grammar.
  lint: false,
  grant: (privileges, on, user) => `GRANT ${privileges} ON ${quoteIdent(on.schema)}.${on.table === undefined ? '*' : quoteIdent(on.table)} TO ${account(user)}`,
};

export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** CURRENT_USER() reads `user@host`; GRANT takes `'user'@'host'`. */
function account(user: string): string {
  const at = user.lastIndexOf('@');
  return at < 0 ? quoteLiteral(user) : `${quoteLiteral(user.slice(0, at))}@${quoteLiteral(user.slice(at + 1))}`;
}
