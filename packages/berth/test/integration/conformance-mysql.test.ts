import { describe } from 'vitest';
import { driverConformance } from '../conformance/suite.js';
import { mysqlServer, useMysqlDatabase } from '../helpers/mysql.js';

const server = await mysqlServer();

describe.skipIf(!server)('MySQL/MariaDB', () => {
  const db = useMysqlDatabase(server!, 'conformance');
  driverConformance(server?.mariadb ? 'MariaDB (mysql2)' : 'MySQL (mysql2)', {
    url: () => db().url,
    sleep: (seconds) => `SELECT SLEEP(${seconds})`,
    failing: {
      syntax: 'SELEC 1',
      statement: 'SELECT * FROM no_such_table',
      'statement-timeout': server?.mariadb ? 'SET STATEMENT max_statement_time = 0.1 FOR SELECT SLEEP(2)' : 'SELECT /*+ MAX_EXECUTION_TIME(100) */ SLEEP(2)',
    },
    setting: { set: "SET SESSION sql_mode = 'ANSI_QUOTES'", read: 'SELECT @@SESSION.sql_mode AS v', changed: 'ANSI_QUOTES' },
    kill: (pid) => `KILL ${pid}`,
  });
});
