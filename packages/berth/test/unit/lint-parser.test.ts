/**
 * The parser binding (src/lint/parser.ts) over libpg-query's WebAssembly module, and the file
 * parse built on it (parse-file.ts): the whole file in one call, matched to the scanner's
 * statements, with the statement-by-statement path as the fallback giving the same findings.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { lintParsedFile, lintSql, loadParser, parseSqlFile, type SqlParser } from '../../src/lint/index.js';
import { parseSqlFiles } from '../../src/lint/parse-file.js';
import { scanSql } from '../../src/drivers/postgres/sql-scanner.js';

const corpus = fileURLToPath(new URL('../fixtures/lint/', import.meta.url));
const corpusFiles = () => ['safe', 'unsafe'].flatMap((dir) => readdirSync(path.join(corpus, dir)).filter((f) => f.endsWith('.sql')).map((f) => path.join(dir, f)));

let parser: SqlParser;
beforeAll(async () => {
  parser = await loadParser();
});

describe('the parser binding', () => {
  it('parses with PostgreSQL 18\'s grammar, with statements located in UTF-8 bytes', () => {
    expect(Math.floor(parser.version / 10000)).toBe(18);
    const outcome = parser.parse("SELECT 'é';\nDROP TABLE t");
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.stmts.map((s) => [Object.keys(s.stmt)[0], s.stmt_location ?? 0, s.stmt_len ?? 0])).toEqual([
      ['SelectStmt', 0, 11], ['DropStmt', 13, 0],
    ]);
    expect(JSON.parse(outcome.json).version).toBe(parser.version);
  });

  it('reports a syntax error with its 0-based character position, never throwing', () => {
    expect(parser.parse("SELECT '😀é' FROM WHERE")).toEqual({ ok: false, message: 'syntax error at or near "WHERE"', position: 17 });
    expect(parser.parse("SELECT 'open")).toMatchObject({ ok: false, message: expect.stringMatching(/unterminated quoted string/) });
  });

  it('scans tokens with byte offsets', () => {
    expect(parser.scan('ALTER TABLE é ADD x int').map((t) => [t.text, t.start, t.end])).toEqual([
      ['ALTER', 0, 5], ['TABLE', 6, 11], ['é', 12, 14], ['ADD', 15, 18], ['x', 19, 20], ['int', 21, 24],
    ]);
  });

  it('handles inputs that make the module grow its memory, and keeps working after', () => {
    const big = Array.from({ length: 20_000 }, (_, i) => `INSERT INTO t VALUES (${i}, 'row ${i} ${'x'.repeat(100)}');`).join('\n');
    const outcome = parser.parse(big);
    expect(outcome.ok && outcome.stmts.length).toBe(20_000);
    expect(parser.parse('SELECT 1').ok).toBe(true);
  });
});

describe('parsing a file', () => {
  it('parses the whole file in one call and matches the statements to the scanner\'s', () => {
    const calls: string[] = [];
    const counting: SqlParser = { ...parser, version: parser.version, parse: (sql) => (calls.push(sql), parser.parse(sql)), scan: (sql) => parser.scan(sql) };
    const text = '-- berth:lock-timeout 5s\nCREATE TABLE a (id int);\n/* c */ ALTER TABLE a ADD COLUMN b int; SELECT 1;\n';
    const parsed = parseSqlFile(text, counting);
    expect(calls).toEqual([text]);
    expect(parsed.statements.map((s) => [s.statement.line, s.statement.column, Object.keys(s.ast ?? {})[0]])).toEqual([
      [2, 1, 'CreateStmt'], [3, 9, 'AlterTableStmt'], [3, 41, 'SelectStmt'],
    ]);
  });

  it('falls back to one call per statement after a syntax error, so the other statements are still linted', () => {
    const parsed = parseSqlFile('SELEC 1;\nDROP TABLE t;', parser);
    expect(parsed.statements.map((s) => (s.error ? 'error' : Object.keys(s.ast ?? {})[0]))).toEqual(['error', 'DropStmt']);
  });

  const files = corpusFiles();
  // A parser whose whole-file parse always fails: every file takes the statement-by-statement path.
  const perStatement = (text: string): SqlParser => ({
    version: parser.version,
    parse: (sql) => (sql === text ? { ok: false, message: 'forced', position: -1 } : parser.parse(sql)),
    scan: (sql) => parser.scan(sql),
  });

  it.each(files)('%s: both paths give the same findings', (file) => {
    const text = readFileSync(path.join(corpus, file), 'utf8');
    const show = (p: SqlParser) => lintSql(file, text, p).findings.map((f) => `${f.rule} ${f.line}:${f.column} ${f.message}`);
    expect(show(parser)).toEqual(show(perStatement(text)));
  });

  it('parses several files in one call and gives each file what parsing it alone gives', () => {
    const texts = corpusFiles().map((f) => readFileSync(path.join(corpus, f), 'utf8'));
    const calls: string[] = [];
    const counting: SqlParser = { version: parser.version, parse: (sql) => (calls.push(sql), parser.parse(sql)), scan: (sql) => parser.scan(sql) };
    const batched = parseSqlFiles(texts.map((text) => ({ text, scan: scanSql(text) })), counting);
    expect(calls.length).toBeLessThan(texts.length);
    const show = (text: string, parsed: ReturnType<typeof parseSqlFile>) =>
      lintParsedFile({ file: 'f.sql', text, parsed }).findings.map((f) => `${f.rule} ${f.line}:${f.column} ${f.message}`);
    texts.forEach((text, i) => expect(show(text, batched[i]!), corpusFiles()[i]).toEqual(show(text, parseSqlFile(text, parser))));
  });

  it.each([
    ['a file ending in an open comment, the next closing it', ['SELECT 1; /* never closed', '*/ SELECT 2;']],
    ['a file ending in an open string', ["SELECT 'open", "x'; DROP TABLE t;"]],
    ['a file ending in an open dollar quote', ['DO $$ BEGIN', 'END $$; DROP TABLE t;']],
    ['files without a final semicolon, and non-ASCII ones', ['SELECT 1', "SELECT 'é😀'", '-- only a comment', 'DROP TABLE t']],
  ])('a batch whose files run into each other is parsed again file by file: %s', (_, texts) => {
    const batched = parseSqlFiles(texts.map((text) => ({ text, scan: scanSql(text) })), parser);
    const kinds = (p: ReturnType<typeof parseSqlFile>) => p.statements.map((s) => (s.error ? `error ${s.error.index}` : `${Object.keys(s.ast ?? {})[0]} ${s.statement.offset}`));
    texts.forEach((text, i) => expect(kinds(batched[i]!)).toEqual(kinds(parseSqlFile(text, parser))));
  });
});
