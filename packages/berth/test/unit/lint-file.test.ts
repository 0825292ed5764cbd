/**
 * lint-file: placing findings (bytes vs characters, CRLF, surrogate pairs), parse errors that
 * never throw, the scope of `-- berth:allow`, and the source layer accepting that directive
 * anywhere. The corpus (lint-corpus.test.ts) covers the rules themselves.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { failsAt, lintSources, lintSql, loadParser, parseSqlFile, type SqlParser } from '../../src/lint/index.js';
import { byteToIndex, charToIndex, TextPositions } from '../../src/lint/positions.js';
import { postgresDialect } from '../../src/drivers/postgres/dialect.js';
import { parseDirectives } from '../../src/source/directives.js';
import { readMigrations } from '../../src/source/read-migrations.js';

let parser: SqlParser;
beforeAll(async () => {
  parser = await loadParser();
});

const at = (sql: string) => lintSql('f.sql', sql, parser).findings.map((f) => `${f.rule} ${f.line}:${f.column}`);

describe('positions', () => {
  it('converts UTF-8 byte offsets and character indexes to string indexes', () => {
    expect(byteToIndex('aé😀b', 0)).toBe(0);
    expect(byteToIndex('aé😀b', 1)).toBe(1);
    expect(byteToIndex('aé😀b', 3)).toBe(2);
    expect(byteToIndex('aé😀b', 7)).toBe(4);
    expect(charToIndex('aé😀b', 3)).toBe(4);
  });

  it('counts lines for \\n, \\r\\n and a lone \\r, and columns in characters', () => {
    const p = new TextPositions('ab\r\ncd\ref\n😀x');
    expect(p.at(0)).toEqual({ line: 1, column: 1 });
    expect(p.at(4)).toEqual({ line: 2, column: 1 });
    expect(p.at(7)).toEqual({ line: 3, column: 1 });
    expect(p.at(12)).toEqual({ line: 4, column: 2 });
  });

  it('places AST findings after multi-byte identifiers and in CRLF files', () => {
    const sql = '-- berth:lock-timeout 5s\r\nALTER TABLE "ünïcödé" DROP COLUMN "😀", DROP COLUMN x;\r\n';
    expect(at(sql)).toEqual(['drop-column 2:23', 'drop-column 2:40']);
  });

  it('places a syntax error by character, after non-ASCII text', () => {
    expect(at('SELECT \'😀é\' FRM t;')).toEqual(['syntax-error 1:17']);
  });
});

describe('parse errors are findings, never exceptions', () => {
  it.each([
    ['an unterminated string', "SELECT 'abc", 'syntax-error 1:8'],
    ['an unterminated comment', 'SELECT 1; /* never closed', 'syntax-error 1:11'],
    ['a psql meta-command', '\\i other.sql', 'syntax-error 1:1'],
    ['garbage', '%%%', 'syntax-error 1:1'],
  ])('%s', (_, sql, expected) => {
    expect(at(sql)).toEqual([expected]);
  });

  it('an empty file, only comments, or only semicolons: nothing to report', () => {
    for (const sql of ['', '-- nothing\n/* at all */', ';;;\n']) expect(at(sql)).toEqual([]);
  });

  it('keeps linting the statements after a parse error', () => {
    expect(at('-- berth:lock-timeout 1s\nSELEC 1;\nDROP TABLE t;')).toEqual(['syntax-error 2:1', 'drop-table 3:1']);
  });

  it('splits statements the way migrate runs them (dollar quotes, BEGIN ATOMIC)', () => {
    const parsed = parseSqlFile("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\nDO $$ BEGIN DROP TABLE x; END $$;", parser);
    expect(parsed.statements.map((s) => Object.keys(s.ast ?? {})[0])).toEqual(['CreateFunctionStmt', 'DoStmt']);
  });
});

describe('-- berth:allow scope', () => {
  const base = '-- berth:lock-timeout 5s\n';

  it('in the header it covers the whole file', () => {
    const report = lintSql('f.sql', `-- berth:allow drop-table old tables are unused since v3\n${base}DROP TABLE a;\nDROP TABLE b;`, parser);
    expect(report.findings).toEqual([]);
    expect(report.suppressed.map((f) => [f.rule, f.line, f.reason, f.allowLine])).toEqual([
      ['drop-table', 3, 'old tables are unused since v3', 1],
      ['drop-table', 4, 'old tables are unused since v3', 1],
    ]);
  });

  it('above a statement it covers that statement only', () => {
    expect(at(`${base}SELECT 1;\n-- berth:allow drop-table a is unused\n\nDROP TABLE a;\nDROP TABLE b;`)).toEqual(['drop-table 6:1']);
  });

  it('inside a statement it covers that statement', () => {
    expect(at(`${base}ALTER TABLE t\n  DROP COLUMN a, -- berth:allow drop-column a is unused\n  DROP COLUMN b;`)).toEqual([]);
  });

  it('lists several rules separated by commas, in any case', () => {
    expect(at('SELECT 1;\n-- BERTH:ALLOW Drop-Table,missing-lock-timeout one-off cleanup\nDROP TABLE a;')).toEqual([]);
  });

  it('without a reason it silences nothing and is itself an error', () => {
    const report = lintSql('f.sql', `${base}-- berth:allow drop-table\nDROP TABLE a;`, parser);
    expect(report.findings.map((f) => [f.rule, f.severity])).toEqual([['allow-without-reason', 'error'], ['drop-table', 'error']]);
    expect(failsAt(report.findings[0]!, 'error')).toBe(true);
  });

  it('suggests the rule a typo meant', () => {
    const [finding] = lintSql('f.sql', '-- berth:allow drop-colum it is fine\nSELECT 1;', parser).findings;
    expect(finding?.message).toContain('did you mean drop-column?');
  });
});

describe('the source layer accepts -- berth:allow anywhere, so migrate runs such files', () => {
  it('parseDirectives: no problem in the header or below a statement', () => {
    const text = '-- berth:allow drop-table reviewed\n-- berth:no-transaction\nSELECT 1;\n-- berth:allow drop-column reviewed\nSELECT 2;\n-- berth:allow\n';
    expect(parseDirectives(text, postgresDialect.scan(text))).toEqual({ directives: { noTransaction: true }, problems: [] });
  });

  it('still refuses other directives below the first statement', () => {
    expect(parseDirectives('SELECT 1;\n-- berth:no-transaction\n', postgresDialect.scan('SELECT 1;\n-- berth:no-transaction\n')).problems).toHaveLength(1);
  });

  it('readMigrations reads a file with allows between statements', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-lint-allow-'));
    try {
      writeFileSync(path.join(dir, '1_x.up.sql'), 'SELECT 1;\n-- berth:allow drop-table reviewed\nSELECT 2;\n');
      const [m] = await readMigrations(dir, { dialect: postgresDialect });
      expect(m?.statements).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lintSources', () => {
  it('sums findings over files and keeps each file name', async () => {
    const report = await lintSources([
      { file: 'a.sql', text: 'ALTER TABLE t DROP COLUMN c;' },
      { file: 'b.sql', text: 'CREATE TABLE t2 (id int);' },
    ], { parser });
    expect(report.files.map((f) => [f.file, f.statements])).toEqual([['a.sql', 1], ['b.sql', 1]]);
    expect([report.errors, report.warnings]).toEqual([1, 1]);
    expect(report.findings.every((f) => f.file === 'a.sql')).toBe(true);
  });

  it('--fail-on: error fails on errors only, warning on both, none never', () => {
    const warning = { severity: 'warning' as const };
    const error = { severity: 'error' as const };
    expect([failsAt(warning, 'error'), failsAt(error, 'error')]).toEqual([false, true]);
    expect([failsAt(warning, 'warning'), failsAt(error, 'warning')]).toEqual([true, true]);
    expect([failsAt(warning, 'none'), failsAt(error, 'none')]).toEqual([false, false]);
  });
});

