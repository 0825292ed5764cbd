import { describe, expect, it } from 'vitest';

import { splitStatements } from '../../src/drivers/postgres/dialect.js';
import { findTransactionControl, needsNoTransaction, releasesSessionLock, transactionShape } from '../../src/drivers/postgres/transaction-control.js';

const commands = (text: string): string[] => findTransactionControl(splitStatements(text)).map((s) => s.command);

describe('findTransactionControl', () => {
  it.each([
    ['BEGIN', 'BEGIN'],
    ['begin', 'BEGIN'],
    ['BEGIN TRANSACTION', 'BEGIN'],
    ['BEGIN WORK', 'BEGIN'],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE', 'BEGIN'],
    ['Begin /* why */ Transaction Read Only', 'BEGIN'],
    ['START TRANSACTION', 'START TRANSACTION'],
    ['start   transaction isolation level read committed', 'START TRANSACTION'],
    ['START\n-- comment\nTRANSACTION', 'START TRANSACTION'],
    ['COMMIT', 'COMMIT'],
    ['commit work', 'COMMIT'],
    ['COMMIT AND CHAIN', 'COMMIT'],
    ['END', 'END'],
    ['END TRANSACTION', 'END'],
    ['ROLLBACK', 'ROLLBACK'],
    ['ROLLBACK WORK', 'ROLLBACK'],
    ['ROLLBACK TRANSACTION', 'ROLLBACK'],
    ['rollback and no chain', 'ROLLBACK'],
    ['ABORT', 'ABORT'],
    ['abort work', 'ABORT'],
    ["COMMIT PREPARED 'tx1'", 'COMMIT PREPARED'],
    ["PREPARE TRANSACTION 'tx1'", 'PREPARE TRANSACTION'],
    ["ROLLBACK PREPARED 'tx1'", 'ROLLBACK PREPARED'],
    ['/* leading */ -- comment\nCOMMIT', 'COMMIT'],
  ])('%j is transaction control (%s)', (sql, command) => {
    expect(commands(sql)).toEqual([command]);
  });

  it.each([
    ['ROLLBACK TO SAVEPOINT a'],
    ['ROLLBACK TO a'],
    ['rollback work to savepoint a'],
    ['ROLLBACK TRANSACTION TO a'],
    ['ROLLBACK /* x */ TO a'],
    ['SAVEPOINT a'],
    ['RELEASE SAVEPOINT a'],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE'],
    ['PREPARE q AS SELECT 1'],
    ['START_TIME'],
    ['SELECT begin FROM t'],
    ['UPDATE t SET commit = true'],
    ['CREATE TABLE begin_log (id int)'],
    ['INSERT INTO "BEGIN" VALUES (1)'],
    ['SELECT 1 -- COMMIT'],
    ["SELECT 'COMMIT'"],
    ['begin_at'],
    ['end2'],
    ['DO $$ BEGIN PERFORM 1; COMMIT; END $$'],
    ["DO LANGUAGE plpgsql $x$ BEGIN RAISE NOTICE 'x'; END $x$"],
    ['CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END'],
    ['CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$'],
    ['CALL p()'],
  ])('%j is not', (sql) => {
    expect(commands(sql)).toEqual([]);
  });

  it('returns every match with its position, in order', () => {
    const text = 'BEGIN;\nCREATE TABLE t (id int);\nSAVEPOINT s;\nROLLBACK TO s;\nCOMMIT;\n';
    expect(findTransactionControl(splitStatements(text))).toEqual([
      { sql: 'BEGIN', offset: 0, line: 1, column: 1, command: 'BEGIN' },
      { sql: 'COMMIT', offset: 60, line: 5, column: 1, command: 'COMMIT' },
    ]);
  });

  it('does not match a DO block spread over many lines', () => {
    const text = `DO $$
BEGIN
  CREATE TABLE t (id int);
EXCEPTION WHEN duplicate_table THEN
  NULL;
END
$$;`;
    expect(commands(text)).toEqual([]);
  });
});

describe('needsNoTransaction', () => {
  it.each([
    ['CREATE INDEX CONCURRENTLY i ON t (a)', 'CREATE INDEX CONCURRENTLY'],
    ['create unique index concurrently if not exists i on t (a)', 'CREATE UNIQUE INDEX CONCURRENTLY'],
    ['CREATE /* big table */ INDEX\n  CONCURRENTLY "I" ON "T" USING btree (a)', 'CREATE INDEX CONCURRENTLY'],
    ['DROP INDEX CONCURRENTLY IF EXISTS i', 'DROP INDEX CONCURRENTLY'],
    ['REINDEX INDEX CONCURRENTLY i', 'REINDEX CONCURRENTLY'],
    ['REINDEX (VERBOSE) TABLE CONCURRENTLY t', 'REINDEX CONCURRENTLY'],
    ['REINDEX DATABASE app', 'REINDEX DATABASE'],
    ['REINDEX SCHEMA public', 'REINDEX SCHEMA'],
    ['VACUUM', 'VACUUM'],
    ['VACUUM (ANALYZE, VERBOSE) t', 'VACUUM'],
    ['CREATE DATABASE other', 'CREATE DATABASE'],
    ['DROP DATABASE IF EXISTS other', 'DROP DATABASE'],
    ["CREATE TABLESPACE fast LOCATION '/ssd'", 'CREATE TABLESPACE'],
    ["ALTER SYSTEM SET work_mem = '64MB'", 'ALTER SYSTEM'],
    ['ALTER DATABASE app SET TABLESPACE fast', 'ALTER DATABASE ... SET TABLESPACE'],
    ['ALTER TABLE measurements DETACH PARTITION m2020 CONCURRENTLY', 'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY'],
    ['CLUSTER', 'CLUSTER'],
    ['CLUSTER VERBOSE', 'CLUSTER'],
    ["CREATE SUBSCRIPTION s CONNECTION 'host=a' PUBLICATION p", 'CREATE SUBSCRIPTION'],
    ['DROP SUBSCRIPTION s', 'DROP SUBSCRIPTION'],
  ])('%j cannot run in a transaction block (%s)', (sql, command) => {
    expect(needsNoTransaction(sql)).toBe(command);
  });

  it.each([
    ['CREATE INDEX i ON t (a)'],
    ['CREATE INDEX concurrently_named ON t (a)'],
    ['REINDEX INDEX i'],
    ['REINDEX TABLE t'],
    ['CLUSTER t USING t_pkey'],
    ['ALTER DATABASE app SET work_mem = 1'],
    ['ALTER TABLE measurements DETACH PARTITION m2020'],
    ["ALTER TYPE mood ADD VALUE 'meh'"],
    ['REFRESH MATERIALIZED VIEW CONCURRENTLY v'],
    ["SELECT 'VACUUM'"],
    ['CREATE TABLE vacuum_log (id int)'],
    ["CREATE SUBSCRIPTION s CONNECTION 'host=a' PUBLICATION p WITH (connect = false)"],
    ['DISCARD PLANS'],
  ])('%j runs in a transaction block', (sql) => {
    expect(needsNoTransaction(sql)).toBeUndefined();
  });
});

describe('transactionShape', () => {
  const shape = (text: string) => {
    const result = transactionShape(splitStatements(text));
    return { statements: result.statements.map((s) => s.sql), outside: result.outsideTransaction, problems: result.problems.map((p) => p.line) };
  };

  it.each([
    ['BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;', ['CREATE TABLE t (a int)']],
    ['begin transaction;\nSELECT 1;\nSELECT 2;\ncommit work;', ['SELECT 1', 'SELECT 2']],
    ['START TRANSACTION;\nSELECT 1;\nEND;', ['SELECT 1']],
    ['BEGIN;\nSELECT 1;\nCOMMIT AND NO CHAIN;', ['SELECT 1']],
    ['BEGIN;\nCOMMIT;', []],
    ['BEGIN;\nSAVEPOINT a;\nSELECT 1;\nROLLBACK TO a;\nCOMMIT;', ['SAVEPOINT a', 'SELECT 1', 'ROLLBACK TO a']],
  ])('%j is one wrapped transaction', (text, statements) => {
    expect(shape(text)).toEqual({ statements, outside: undefined, problems: [] });
  });

  it('a single statement that cannot run in a transaction block runs outside one', () => {
    expect(shape('-- the index\nCREATE INDEX CONCURRENTLY i ON t (a);')).toEqual({
      statements: ['CREATE INDEX CONCURRENTLY i ON t (a)'], outside: 'CREATE INDEX CONCURRENTLY', problems: [],
    });
  });

  it.each([
    ['CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);', [2]],
    ['BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;', [2]],
    ['VACUUM t;\nVACUUM u;', [1, 2]],
    ['SELECT 1;\nCOMMIT;', [2]],
    ['BEGIN;\nSELECT 1;', [1]],
    ['BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;', [1, 3, 4, 6]],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nCOMMIT;', [1]],
    ['BEGIN;\nSELECT 1;\nCOMMIT AND CHAIN;', [3]],
    ['BEGIN;\nSELECT 1;\nROLLBACK;', [1, 3]],
  ])('%j is refused on lines %j', (text, lines) => {
    expect(shape(text).problems).toEqual(lines);
  });
});

describe('releasesSessionLock', () => {
  it('names DISCARD ALL, and not the narrower DISCARD commands', () => {
    expect(releasesSessionLock('discard ALL')).toBe('DISCARD ALL');
    expect(releasesSessionLock('DISCARD PLANS')).toBeUndefined();
    expect(releasesSessionLock('DISCARD TEMP')).toBeUndefined();
  });
});
