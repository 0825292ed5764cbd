import { describe, expect, it } from 'vitest';

import type { MysqlTarget } from '../../src/drivers/mysql/url.js';
import { parseDatabaseUrl } from '../../src/drivers/registry.js';
import { ConfigError } from '../../src/errors.js';
import { mysqlErrorFamily } from '../../src/drivers/mysql/error-family.js';
import { lockName, numberedToPositional, postgresSpelling, syntaxErrorPosition } from '../../src/drivers/mysql/mysql-driver.js';
import { DELIMITER_MESSAGE, scanMysql } from '../../src/drivers/mysql/mysql-splitter.js';
import { readMigrations, type SourceFs } from '../../src/source/read-migrations.js';
import { mysqlDialect } from '../../src/drivers/mysql/dialect.js';

const sqls = (text: string) => scanMysql(text).statements.map((s) => s.sql);

describe('the MySQL statement splitter', () => {
  it('splits on top-level semicolons and drops comment-only pieces', () => {
    expect(sqls('CREATE TABLE a (id INT);\n-- note\n# another\n/* block */\nINSERT INTO a VALUES (1);;\n')).toEqual([
      'CREATE TABLE a (id INT)', 'INSERT INTO a VALUES (1)',
    ]);
  });

  it('keeps semicolons inside quotes, backquotes and comments, with backslash escapes in strings', () => {
    expect(sqls(String.raw`INSERT INTO t VALUES ('a;b', "c;d", 'it\'s; ok', 'say ''hi;''');` + '\nSELECT `we;ird``name` FROM t /* ; */ -- ;\n;')).toEqual([
      String.raw`INSERT INTO t VALUES ('a;b', "c;d", 'it\'s; ok', 'say ''hi;''')`,
      'SELECT `we;ird``name` FROM t /* ; */',
    ]);
  });

  it('reads -- as a comment only before a space, as MySQL does (1--1 is an expression)', () => {
    expect(sqls('SELECT 1--1;\nSELECT 2 -- two\n;\nSELECT 3 --4\n;')).toEqual(['SELECT 1--1', 'SELECT 2', 'SELECT 3 --4']);
  });

  it('keeps conditional comments as SQL, also as a whole statement', () => {
    expect(sqls('/*!40101 SET @OLD = @@CHARACTER_SET_CLIENT */;\n/*!40101 SET NAMES utf8mb4 */;\nCREATE TABLE t (id INT) /*!50100 PARTITION BY HASH (id) */;')).toEqual([
      '/*!40101 SET @OLD = @@CHARACTER_SET_CLIENT */', '/*!40101 SET NAMES utf8mb4 */', 'CREATE TABLE t (id INT) /*!50100 PARTITION BY HASH (id) */',
    ]);
  });

  it('keeps a stored program body in BEGIN ... END together, with nested blocks', () => {
    const trigger = [
      'CREATE DEFINER=`root`@`%` TRIGGER users_bi BEFORE INSERT ON users FOR EACH ROW',
      'BEGIN',
      '  IF NEW.email IS NULL THEN',
      "    SET NEW.email = CONCAT(NEW.id, '@example.com');",
      '  ELSEIF NEW.email = \'\' THEN',
      "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'empty; email';",
      '  END IF;',
      '  SET NEW.n = (CASE WHEN NEW.n > 0 THEN NEW.n ELSE 0 END);',
      'END',
    ].join('\n');
    const procedure = [
      'CREATE PROCEDURE fill(IN n INT)',
      'BEGIN',
      '  DECLARE i INT DEFAULT 0;',
      '  DROP TABLE IF EXISTS tmp;',
      '  SET @x := IF(n > 1, REPEAT(\'a\', 2), \'b\');',
      '  lbl: WHILE i < n DO',
      '    CASE i WHEN 1 THEN SELECT 1; ELSE SELECT 2; END CASE;',
      '    REPEAT SET i = i + 1; UNTIL i > n END REPEAT;',
      '    LOOP LEAVE lbl; END LOOP;',
      '  END WHILE lbl;',
      'END',
    ].join('\n');
    expect(sqls(`${trigger};\n${procedure};\nSELECT 1;`)).toEqual([trigger, procedure, 'SELECT 1']);
  });

  it('keeps functions, events and MariaDB compound statements whole, and splits BEGIN as a transaction', () => {
    const fn = 'CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC\nBEGIN\n  RETURN x + 1;\nEND';
    const event = 'CREATE EVENT IF NOT EXISTS purge ON SCHEDULE EVERY 1 DAY DISABLE DO\nBEGIN\n  DELETE FROM log WHERE at < NOW();\nEND';
    const anonymous = 'BEGIN NOT ATOMIC\n  DECLARE x INT;\n  SET x = 1;\nEND';
    const altered = 'ALTER DEFINER = CURRENT_USER EVENT purge DO\nBEGIN\n  DELETE FROM log;\n  DELETE FROM log2;\nEND';
    const trigger = 'CREATE TRIGGER t AFTER UPDATE ON a FOR EACH ROW IF NEW.x THEN\n  INSERT INTO b VALUES (1);\nEND IF';
    expect(sqls(`${fn};\n${event};\n${anonymous};\n${trigger};\n${altered};\nBEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT;\nALTER TABLE t ADD COLUMN c INT;`)).toEqual([
      fn, event, anonymous, trigger, altered, 'BEGIN', 'INSERT INTO t VALUES (1)', 'COMMIT', 'ALTER TABLE t ADD COLUMN c INT',
    ]);
  });

  it('does not take a table or a view with CASE for a stored program', () => {
    expect(sqls('CREATE TABLE `function` (a INT);\nCREATE VIEW v AS SELECT CASE WHEN 1 THEN 2 END AS x;\nSELECT 3;')).toEqual([
      'CREATE TABLE `function` (a INT)', 'CREATE VIEW v AS SELECT CASE WHEN 1 THEN 2 END AS x', 'SELECT 3',
    ]);
  });

  it('gives each statement its line and column, CRLF and astral characters counted as editors do', () => {
    const statements = scanMysql("SELECT '😀';\r\n  SELECT 2;\r\n\r\n-- c\r\nSELECT 3").statements;
    expect(statements.map((s) => [s.line, s.column])).toEqual([[1, 1], [2, 3], [5, 1]]);
  });

  it('collects -- comments for directives, also -- without a space before the first statement', () => {
    const scan = scanMysql('--berth:no-transaction\n-- berth:lock-timeout 5s\nSELECT 1;');
    expect(scan.lineComments.map((c) => c.text)).toEqual(['--berth:no-transaction', '-- berth:lock-timeout 5s']);
  });

  it('reports an unterminated quote or comment, and DELIMITER with its line', () => {
    expect(scanMysql("SELECT 'open;\nSELECT 2;").unterminated).toEqual({ what: 'quoted string', offset: 7 });
    expect(scanMysql('SELECT 1; /* open').unterminated?.what).toBe('/* comment');
    expect(scanMysql('SELECT `x;').unterminated?.what).toBe('backquoted identifier');
    const scan = scanMysql('SELECT 0;\ndelimiter $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\nDELIMITER ;\n');
    expect(scan.problems[0]).toEqual({ line: 2, message: DELIMITER_MESSAGE });
  });
});

describe('MySQL files in the source layer', () => {
  const fsOf = (files: Record<string, string>): SourceFs => ({
    readdir: async () => Object.keys(files).map((name) => ({ name, kind: 'file' as const })),
    readFile: async (p) => new TextEncoder().encode(files[p.split('/').pop()!]!),
  });

  it('runs files as they are: no PostgreSQL transaction rules, START TRANSACTION and COMMIT kept', async () => {
    const [m] = await readMigrations('/m', { dialect: mysqlDialect, fs: fsOf({ '1_a.up.sql': 'START TRANSACTION;\nINSERT INTO t VALUES (1);\nCOMMIT;\n' }) });
    expect(m!.statements.map((s) => s.sql)).toEqual(['START TRANSACTION', 'INSERT INTO t VALUES (1)', 'COMMIT']);
    expect(m!.directives.noTransaction).toBe(false);
  });

  it('refuses a transaction the file opens and never commits, naming its line', async () => {
    const read = readMigrations('/m', { dialect: mysqlDialect, fs: fsOf({
      '1_open.up.sql': 'INSERT INTO t VALUES (0);\nSTART TRANSACTION;\nINSERT INTO t VALUES (1);\n',
      '2_closed.up.sql': 'BEGIN;\nINSERT INTO t VALUES (1);\nROLLBACK;\nSTART TRANSACTION;\nINSERT INTO t VALUES (2);\nCREATE TABLE u (id INT);\n',
    }) });
    await expect(read).rejects.toThrow(/1_open\.up\.sql:2: the transaction this START TRANSACTION opens is never committed/);
    await expect(read).rejects.not.toThrow(/2_closed/);
  });

  it('refuses DELIMITER before anything runs, naming the file and line', async () => {
    const read = readMigrations('/m', { dialect: mysqlDialect, fs: fsOf({ '1_p.up.sql': 'SELECT 1;\nDELIMITER //\nSELECT 2//\n' }) });
    await expect(read).rejects.toThrow(/1_p\.up\.sql:2: DELIMITER is a command of the mysql client/);
  });
});

describe('mysql:// and mariadb:// URLs', () => {
  const my = (url: string) => parseDatabaseUrl(url) as MysqlTarget;

  it('parses the fields, with MySQL defaults, and masks the password', () => {
    expect(my('mysql://app:s3cret@db:3307/orders')).toMatchObject({ kind: 'mysql', scheme: 'mysql', host: 'db', port: 3307, database: 'orders', user: 'app', password: 's3cret' });
    expect(my('mariadb://db')).toMatchObject({ scheme: 'mariadb', port: 3306, user: 'root', database: '', password: undefined });
    expect(my('mysql://app:s3cret@db/orders?sslmode=verify-full').redacted).toBe('mysql://app:****@db:3306/orders?sslmode=verify-full');
    expect(my('mysql://app@localhost/x?socket=/run/mysqld/mysqld.sock').socket).toBe('/run/mysqld/mysqld.sock');
  });

  it('takes the mysql client ssl-mode names with berth meanings, and never PREFERRED', () => {
    expect(my('mysql://a@h/d?ssl-mode=VERIFY_IDENTITY').sslmode).toBe('verify-full');
    expect(my('mysql://a@h/d?ssl-mode=REQUIRED&ssl-ca=/ca.pem')).toMatchObject({ sslmode: 'require', sslrootcert: '/ca.pem' });
    expect(() => parseDatabaseUrl('mysql://a@h/d?ssl-mode=PREFERRED')).toThrow(/fall back to plaintext/);
  });

  it('refuses the Go DSN form without echoing it', () => {
    let error: unknown;
    try {
      parseDatabaseUrl('mysql://app:hunter2@tcp(db:3306)/orders');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('Go DSN');
    expect((error as Error).message).not.toContain('hunter2');
  });
});

describe('the MySQL driver, pure parts', () => {
  it('maps server error numbers to families', () => {
    expect([1064, 1142, 1290, 1213, 1205, 1969, 3024, 1317, 1021, 1146].map(mysqlErrorFamily)).toEqual([
      'syntax', 'privilege', 'read-only', 'conflict', 'lock-timeout', 'statement-timeout', 'statement-timeout', 'canceled', 'server', 'statement',
    ]);
  });

  it('places a syntax error from "near ... at line N" within the statement sent', () => {
    const sql = 'ALTER TABLE t\n  ADD COLUMN x INTT,\n  ADD y INT';
    const message = "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'INTT,\n  ADD y INT' at line 2";
    expect(syntaxErrorPosition(sql, message)).toBe(sql.indexOf('INTT') + 1);
    expect(syntaxErrorPosition('SELECT * FROM', "... to use near '' at line 1")).toBe(14);
    expect(syntaxErrorPosition('SELECT 1', 'Unknown column')).toBeUndefined();
  });

  it('rewrites numbered placeholders to positional ones outside quotes', () => {
    expect(numberedToPositional("UPDATE t SET a = $2, b = '$1' WHERE id = $1", ['x', 'y'])).toEqual(["UPDATE t SET a = ?, b = '$1' WHERE id = ?", ['y', 'x']]);
    expect(numberedToPositional('SELECT ?', [1])).toEqual(['SELECT ?', [1]]);
  });

  it('spells column types the way the contract names them', () => {
    expect(['bigint(20)', 'tinyint(1)', 'varchar(128)', 'int(11) unsigned', 'timestamp', 'json'].map(postgresSpelling)).toEqual([
      'bigint', 'boolean', 'character varying(128)', 'integer', 'timestamp without time zone', 'json',
    ]);
  });

  it('names the lock within MySQL 64 characters', () => {
    expect(lockName(-1n)).toBe('berth:ffffffffffffffff');
    expect(lockName(1n).length).toBeLessThanOrEqual(64);
  });
});
