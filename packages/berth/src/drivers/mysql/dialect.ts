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
};
