import { describe, expect, it } from 'vitest';

import { splitStatements } from '../../src/drivers/postgres/dialect.js';
import { locateInStatement } from '../../src/source/locate.js';
import { lineColumnAt } from '../../src/text.js';

const sqls = (text: string): string[] => splitStatements(text).map((statement) => statement.sql);

describe('splitStatements', () => {
  it('splits on top-level semicolons and keeps a last statement without one', () => {
    expect(sqls('CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nSELECT 1')).toEqual([
      'CREATE TABLE a (id int)',
      'CREATE TABLE b (id int)',
      'SELECT 1',
    ]);
  });

  it.each([
    ['', []],
    ['   \n\t\r\n', []],
    [';', []],
    [';;\n;', []],
    ['-- only a comment', []],
    ['/* only a block */', []],
    ['-- a\n/* b */\n;\n-- c\n', []],
    ['SELECT 1;;;SELECT 2', ['SELECT 1', 'SELECT 2']],
  ])('drops empty and comment-only pieces: %j', (text, expected) => {
    expect(sqls(text)).toEqual(expected);
  });

  it.each([
    ['line comments', "SELECT 1; -- a ; b\nSELECT 2 -- c;\n;", ['SELECT 1', 'SELECT 2']],
    ['a line comment ending the file', 'SELECT 1 -- ; trailing', ['SELECT 1']],
    ['block comments', 'SELECT /* ; */ 1; SELECT 2', ['SELECT /* ; */ 1', 'SELECT 2']],
    ['nested block comments', 'SELECT /* a /* ; */ still ; comment */ 1; SELECT 2', ['SELECT /* a /* ; */ still ; comment */ 1', 'SELECT 2']],
    ['-- inside a block comment', 'SELECT /* -- */ 1; SELECT 2', ['SELECT /* -- */ 1', 'SELECT 2']],
    ['/* inside a line comment', 'SELECT 1; -- /* \nSELECT 2', ['SELECT 1', 'SELECT 2']],
    ['single-quoted strings', "SELECT ';'; SELECT 'a;b'", ["SELECT ';'", "SELECT 'a;b'"]],
    ['doubled quotes', "SELECT 'it''s; fine'; SELECT 2", ["SELECT 'it''s; fine'", 'SELECT 2']],
    ['backslash in a plain string (standard_conforming_strings)', "SELECT 'a\\'; SELECT 2", ["SELECT 'a\\'", 'SELECT 2']],
    ['E strings with backslash escapes', "SELECT E'it\\'s; ok'; SELECT 2", ["SELECT E'it\\'s; ok'", 'SELECT 2']],
    ['lower-case e strings', "SELECT e'\\\\'; SELECT 2", ["SELECT e'\\\\'", 'SELECT 2']],
    ['E strings with doubled quotes', "SELECT E'a''b;c'; SELECT 2", ["SELECT E'a''b;c'", 'SELECT 2']],
    ['an identifier ending in e before a string is not an E string', "SELECT somee'\\'; SELECT 2", ["SELECT somee'\\'", 'SELECT 2']],
    ['U& strings', "SELECT U&'d\\0061t\\+000061;'; SELECT 2", ["SELECT U&'d\\0061t\\+000061;'", 'SELECT 2']],
    ['double-quoted identifiers', 'SELECT 1 AS ";"; SELECT 2', ['SELECT 1 AS ";"', 'SELECT 2']],
    ['doubled double quotes', 'SELECT 1 AS "a"";b"; SELECT 2', ['SELECT 1 AS "a"";b"', 'SELECT 2']],
    ['quotes inside identifiers', `SELECT 1 AS "it's;"; SELECT 2`, [`SELECT 1 AS "it's;"`, 'SELECT 2']],
    ['-- inside a string', "SELECT '--'; SELECT 2", ["SELECT '--'", 'SELECT 2']],
    ['/* inside a string', "SELECT '/*'; SELECT 2", ["SELECT '/*'", 'SELECT 2']],
    ['a quote inside a comment', "SELECT 1; -- don't\nSELECT 2", ['SELECT 1', 'SELECT 2']],
    ['$$ dollar quotes', 'SELECT $$a;b$$; SELECT 2', ['SELECT $$a;b$$', 'SELECT 2']],
    ['tagged dollar quotes', 'SELECT $fn$ a $$ ; $$ b $fn$; SELECT 2', ['SELECT $fn$ a $$ ; $$ b $fn$', 'SELECT 2']],
    ['dollar quotes with quotes and comments inside', "SELECT $$ ' -- /* $$; SELECT 2", ["SELECT $$ ' -- /* $$", 'SELECT 2']],
    ['adjacent dollar quotes', 'SELECT $$a$$$$;$$; SELECT 2', ['SELECT $$a$$$$;$$', 'SELECT 2']],
    ['$1 parameters are not dollar quotes', 'PREPARE p AS SELECT $1; SELECT $2', ['PREPARE p AS SELECT $1', 'SELECT $2']],
    ['$1$ is not a dollar quote either', 'SELECT $1$; SELECT 2', ['SELECT $1$', 'SELECT 2']],
    ['$ inside identifiers', 'SELECT a$b$; SELECT 2', ['SELECT a$b$', 'SELECT 2']],
    ['tags are case-sensitive', 'SELECT $a$ ; $A$ ; $a$; SELECT 2', ['SELECT $a$ ; $A$ ; $a$', 'SELECT 2']],
    ['non-ASCII tags', 'SELECT $é$;$é$; SELECT 2', ['SELECT $é$;$é$', 'SELECT 2']],
    ['parentheses (multi-action rules)', 'CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 2', [
      'CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))',
      'SELECT 2',
    ]],
    ['an unmatched ) does not hide later semicolons', 'SELECT 1); SELECT 2', ['SELECT 1)', 'SELECT 2']],
  ])('ignores semicolons in %s', (_name, text, expected) => {
    expect(sqls(text)).toEqual(expected);
  });

  it('keeps a DO block with BEGIN ... END in a dollar quote as one statement', () => {
    const text = `DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
    CREATE TYPE mood AS ENUM ('sad', 'ok');
  END IF;
END
$$;
SELECT 2;`;
    expect(sqls(text)).toEqual([text.slice(0, text.indexOf('$$;') + 2), 'SELECT 2']);
  });

  it('keeps a plpgsql function with a tagged body as one statement', () => {
    const text = `CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  NEW.updated_at := now(); -- ; in a comment
  RETURN NEW;
END;
$body$;
CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();`;
    const statements = sqls(text);
    expect(statements).toHaveLength(2);
    expect(statements[0]).toMatch(/^CREATE OR REPLACE FUNCTION touch\(\).*\$body\$$/s);
    expect(statements[1]).toBe('CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()');
  });

  it('keeps a BEGIN ATOMIC function body with its inner statements', () => {
    const fn = `CREATE FUNCTION add_and_log(a int, b int) RETURNS int
LANGUAGE sql
BEGIN ATOMIC
  INSERT INTO log VALUES (a, b);
  SELECT a + b;
END`;
    expect(sqls(`${fn};\nSELECT 2;`)).toEqual([fn, 'SELECT 2']);
  });

  it('counts CASE ... END inside a BEGIN ATOMIC body', () => {
    const fn = `CREATE OR REPLACE PROCEDURE p(x int)
LANGUAGE sql
BEGIN ATOMIC
  INSERT INTO t SELECT CASE WHEN x > 0 THEN 'pos' ELSE 'neg' END;
  UPDATE t SET v = CASE x WHEN 1 THEN 'one' END WHERE true;
  INSERT INTO t VALUES ((CASE WHEN x = 0 THEN 'zero' END));
END`;
    expect(sqls(`${fn};\nSELECT 2`)).toEqual([fn, 'SELECT 2']);
  });

  it('does not count CASE ... END outside a routine body', () => {
    expect(sqls("SELECT CASE WHEN true THEN 1 END; SELECT 2")).toEqual(['SELECT CASE WHEN true THEN 1 END', 'SELECT 2']);
    expect(
      sqls('CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql RETURN CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2'),
    ).toEqual(['CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql RETURN CASE WHEN x > 0 THEN 1 ELSE 0 END', 'SELECT 2']);
  });

  it('treats a top-level BEGIN / COMMIT as statements of their own', () => {
    expect(sqls('BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;')).toEqual(['BEGIN', 'CREATE TABLE t (id int)', 'COMMIT']);
  });

  it('does not take a parameter named begin for a body', () => {
    expect(sqls('CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; SELECT 2')).toEqual([
      'CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
      'SELECT 2',
    ]);
  });

  it('trims leading and trailing comments and whitespace from statements', () => {
    expect(sqls('-- header\n/* block */\n  SELECT 1 /* inner */ + 1 -- trailing\n  /* more */ ;\n')).toEqual([
      'SELECT 1 /* inner */ + 1',
    ]);
  });

  it('runs an unterminated string or dollar quote to the end, for the server to report', () => {
    expect(sqls("SELECT 'abc; SELECT 2")).toEqual(["SELECT 'abc; SELECT 2"]);
    expect(sqls('SELECT $$abc; SELECT 2')).toEqual(['SELECT $$abc; SELECT 2']);
    expect(sqls('SELECT "abc; SELECT 2')).toEqual(['SELECT "abc; SELECT 2']);
  });

  it('keeps an unterminated block comment, so it is not silently swallowed', () => {
    expect(sqls('SELECT 1;\n/* forgot to close\nSELECT 2;')).toEqual(['SELECT 1', '/* forgot to close\nSELECT 2;']);
    expect(sqls('SELECT 1 /* /* */ ; SELECT 2')).toEqual(['SELECT 1 /* /* */ ; SELECT 2']);
  });

  it('reports the offset, line and column of the first significant character', () => {
    const text = '-- berth:no-transaction\n\n/* c */  CREATE INDEX CONCURRENTLY i ON t (a);\n\tSELECT 1; SELECT 2;\r\nSELECT 3';
    expect(splitStatements(text)).toEqual([
      { sql: 'CREATE INDEX CONCURRENTLY i ON t (a)', offset: 34, line: 3, column: 10 },
      { sql: 'SELECT 1', offset: 73, line: 4, column: 2 },
      { sql: 'SELECT 2', offset: 83, line: 4, column: 12 },
      { sql: 'SELECT 3', offset: 94, line: 5, column: 1 },
    ]);
    for (const statement of splitStatements(text)) {
      expect(text.slice(statement.offset, statement.offset + statement.sql.length)).toBe(statement.sql);
    }
  });

  it('counts columns in characters, not UTF-16 units', () => {
    expect(splitStatements("SELECT '😀'; SELECT 2")).toEqual([
      { sql: "SELECT '😀'", offset: 0, line: 1, column: 1 },
      { sql: 'SELECT 2', offset: 13, line: 1, column: 13 },
    ]);
  });

  it('splits a large file in linear time', () => {
    const text = 'INSERT INTO t VALUES (1, \'x;y\');\n'.repeat(50_000);
    const statements = splitStatements(text);
    expect(statements).toHaveLength(50_000);
    expect(statements[49_999]).toMatchObject({ line: 50_000, column: 1 });
  });
});

describe('lineColumnAt', () => {
  it.each([
    ['abc', 0, 1, 1],
    ['abc', 2, 1, 3],
    ['abc', 3, 1, 4],
    ['a\nb', 2, 2, 1],
    ['a\r\nb', 1, 1, 2],
    ['a\r\nb', 3, 2, 1],
    ['a\rb', 2, 2, 1],
    ['\n\n\nx', 3, 4, 1],
    ['😀x', 2, 1, 2],
    ['ab', 99, 1, 3],
    ['ab', -5, 1, 1],
  ])('%j at %d is line %d, column %d', (text, offset, line, column) => {
    expect(lineColumnAt(text, offset)).toEqual({ line, column });
  });
});

describe('locateInStatement', () => {
  it('maps a server error position (1-based characters) to the file line and column', () => {
    const text = '-- header\nSELECT 1;\n  CREATE TABLE t (\n    id int,\n    bad tyype\n  );';
    const [, create] = splitStatements(text);
    expect(create).toBeDefined();
    // PostgreSQL: ERROR: type "tyype" does not exist, position = index of "tyype" + 1
    const position = create!.sql.indexOf('tyype') + 1;
    expect(locateInStatement(create!, position)).toEqual({ line: 5, column: 9 });
    expect(locateInStatement(create!, 1)).toEqual({ line: 3, column: 3 });
  });

  it('counts non-BMP characters once, as PostgreSQL does', () => {
    const [statement] = splitStatements("  SELECT '😀😀' + x");
    // SELECT(1-6) space(7) '(8) 😀(9) 😀(10) '(11) space(12) +(13) space(14) x(15)
    expect(locateInStatement(statement!, 15)).toEqual({ line: 1, column: 17 });
  });
});
