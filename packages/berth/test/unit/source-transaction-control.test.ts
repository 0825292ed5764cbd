import { describe, expect, it } from 'vitest';

import { splitStatements } from '../../src/source/split-statements.js';
import { findTransactionControl } from '../../src/source/transaction-control.js';

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
