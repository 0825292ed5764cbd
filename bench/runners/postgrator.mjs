#!/usr/bin/env node
// Minimal postgrator runner, as postgrator's README tells users to write one
// (postgrator itself ships no CLI): connect with pg, migrate to max, exit
// non-zero on any error.
//
//   node bench/runners/postgrator.mjs <database-url> <migrations-dir>
import Postgrator from 'postgrator';
import pg from 'pg';

const [url, dir] = process.argv.slice(2);
if (!url || !dir) {
  console.error('usage: postgrator.mjs <database-url> <migrations-dir>');
  process.exit(2);
}

const client = new pg.Client({ connectionString: url });
let code = 0;
try {
  await client.connect();
  const postgrator = new Postgrator({
    migrationPattern: `${dir}/*`,
    driver: 'pg',
    database: client.database,
    schemaTable: 'schemaversion',
    execQuery: (query) => client.query(query),
  });
  const applied = await postgrator.migrate();
  console.log(`applied ${applied.length} migrations`);
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  await client.end().catch(() => {});
}
process.exit(code);
