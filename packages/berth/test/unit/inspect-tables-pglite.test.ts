/**
 * `Driver.inspectTables` on the embedded dialect (PGlite, in memory): what adoption and the
 * foreign `--table` check read. The same method against a real server is exercised through the CLI
 * in test/integration/adopt.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionKeeper } from '../../src/core/connect.js';
import type { Driver } from '../../src/drivers/driver.js';
import { connectDriver } from '../helpers/driver.js';

describe('inspectTables on PGlite', () => {
  const keeper = sessionKeeper();
  let driver: Driver;
  beforeAll(async () => {
    driver = await connectDriver('pglite://memory', keeper);
    await driver.execute(`
      CREATE TABLE "public"."schema_migrations" (version bigint not null primary key, dirty boolean not null);
      INSERT INTO "public"."schema_migrations" (version, dirty) VALUES (20240101000000, true);
      CREATE SCHEMA app;
      CREATE TABLE app.pgmigrations (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL);
      INSERT INTO app.pgmigrations (name, run_on) VALUES ('1_a', '2024-01-02 03:04:05'), ('2_b', '2024-01-03 00:00:00');
      CREATE TABLE "MixedCase" (note text);
      INSERT INTO "MixedCase" VALUES (NULL);
      ALTER TABLE app.pgmigrations ADD COLUMN gone int;
      ALTER TABLE app.pgmigrations DROP COLUMN gone;
      CREATE VIEW app.v AS SELECT 1 AS one;
      CREATE INDEX pgmigrations_name ON app.pgmigrations (name);`);
  }, 60_000);
  afterAll(async () => {
    await driver.close();
    await keeper.closeAll();
  });

  it('returns the tables that exist, in the order asked, with their columns as the server spells the types', async () => {
    const found = await driver.inspectTables([
      { schema: 'app', table: 'pgmigrations' },
      { schema: 'public', table: 'pgmigrations' },
      { schema: 'public', table: 'schema_migrations' },
      { schema: 'app', table: 'pgmigrations_name' },
      { schema: 'app', table: 'v' },
      { schema: 'nowhere', table: 'schema_migrations' },
    ], { rows: false });
    expect(found).toEqual([
      { schema: 'app', table: 'pgmigrations', columns: [
        { name: 'id', type: 'integer' }, { name: 'name', type: 'character varying(255)' }, { name: 'run_on', type: 'timestamp without time zone' },
      ] },
      { schema: 'public', table: 'schema_migrations', columns: [{ name: 'version', type: 'bigint' }, { name: 'dirty', type: 'boolean' }] },
      { schema: 'app', table: 'v', columns: [{ name: 'one', type: 'integer' }] },
    ]);
  });

  it('with rows: every row, each value as text; names are matched exactly (the tools quote them)', async () => {
    const [gm, npm] = await driver.inspectTables([{ schema: 'public', table: 'schema_migrations' }, { schema: 'app', table: 'pgmigrations' }], { rows: true });
    expect(gm?.rows).toEqual([{ version: '20240101000000', dirty: 'true' }]);
    expect(npm?.rows).toEqual([
      { id: '1', name: '1_a', run_on: '2024-01-02 03:04:05' },
      { id: '2', name: '2_b', run_on: '2024-01-03 00:00:00' },
    ]);
    expect(await driver.inspectTables([{ schema: 'public', table: 'mixedcase' }], { rows: true })).toEqual([]);
    const [mixed] = await driver.inspectTables([{ schema: 'public', table: 'MixedCase' }], { rows: true });
    expect(mixed?.rows).toEqual([{ note: null }]);
    expect(await driver.inspectTables([], { rows: true })).toEqual([]);
  });
});
