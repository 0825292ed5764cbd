import { driverConformance } from '../conformance/suite.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase('conformance');

const postgres = {
  sleep: (seconds: number) => `SELECT pg_sleep(${seconds})`,
  failing: { syntax: 'SELEC 1', statement: 'SELECT * FROM no_such_table' },
  setting: { set: 'SET search_path = pg_catalog', read: "SELECT current_setting('search_path') AS v", changed: 'pg_catalog' },
  kill: (pid: number) => `SELECT pg_terminate_backend(${pid})`,
} as const;

driverConformance('PostgreSQL (pg)', { ...postgres, url: () => db().url });
driverConformance('PGlite', { ...postgres, url: () => 'pglite://memory' });
