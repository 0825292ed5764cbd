/**
 * Splits a MySQL / MariaDB file into top-level statements the way the server's multi-statement
 * parser reads it (what golang-migrate and dbmate send), knowing just enough of the lexer: quoted
 * strings with backslash escapes, backquoted identifiers, `-- ` and `#` comments, `/* *\/`
 * comments, and conditional comments `/*! ... *\/`, which are SQL and are kept. A stored
 * program's body (`CREATE PROCEDURE | FUNCTION | TRIGGER | EVENT ... BEGIN ... END`, and MariaDB's
 * `BEGIN NOT ATOMIC ... END`) holds `;`-terminated statements and stays one statement.
 *
 * `DELIMITER` is a command of the mysql client that the server never sees; a file that uses it is
 * refused with the line and what to write instead.
 *
 * Like the PostgreSQL scanner it never rejects input: an unterminated quote or comment runs to the
 * end of the file and is reported, so that the file is refused before anything runs.
 */

import type { ScanResult, Statement, StatementProblem } from '../dialect.js';

type MysqlStatement = Statement;
type MysqlScan = ScanResult & { readonly problems: StatementProblem[] };

const NEWLINE = 0x0a;
const CR = 0x0d;

/** Words after which a routine body's statement begins: where IF, LOOP, WHILE, REPEAT, FOR open a block. */
const STATEMENT_START = new Set(['', ';', 'begin', 'then', 'else', 'do', 'loop', 'repeat', ':', 'row', 'atomic']);
/** Block openers that only count at the start of a statement (IF() and REPEAT() are also functions). */
const STATEMENT_OPENERS = new Set(['if', 'loop', 'while', 'repeat', 'for']);
/** The word after END that names the block it closes, and is not an opener itself. */
const END_KINDS = new Set(['if', 'case', 'loop', 'while', 'repeat', 'for']);
const ROUTINES = new Set(['procedure', 'function', 'trigger', 'event', 'package']);
const NOT_ROUTINES = new Set(['table', 'view', 'index', 'unique', 'fulltext', 'spatial', 'database', 'schema', 'user', 'role', 'temporary', 'sequence', 'server']);

export const DELIMITER_MESSAGE =
  'DELIMITER is a command of the mysql client, not SQL: the server never sees it, and berth sends statements to the server. ' +
  'Remove the DELIMITER lines and end each statement with ";" (a CREATE PROCEDURE, FUNCTION, TRIGGER or EVENT body in BEGIN ... END stays one statement)';

export function scanMysql(text: string): MysqlScan {
  const statements: MysqlStatement[] = [];
  const lineComments: { text: string; offset: number }[] = [];
  const problems: { line: number; message: string }[] = [];
  const lines = lineCounter(text);
  const length = text.length;
  let unterminated: { what: string; offset: number } | undefined;

  let start = -1;
  let end = -1;
  let parens = 0;
  let blocks = 0;
  let words: string[] = [];
  let routine = false;
  /** The previous significant token at paren depth 0, lower-cased (a word, `;` inside a body, `:`). */
  let previous = '';
  let afterEnd = false;

  const mark = (from: number, to: number): void => {
    if (start < 0) start = from;
    end = to;
  };
  const finish = (): void => {
    if (start >= 0) {
      const { line, column } = lines(start);
      statements.push({ sql: text.slice(start, end), offset: start, line, column });
    }
    start = -1;
    end = -1;
    parens = 0;
    blocks = 0;
    words = [];
    routine = false;
    previous = '';
    afterEnd = false;
  };
  const closing = (from: number, close: number, what: string): number => {
    if (close >= 0) return close;
    unterminated ??= { what, offset: from };
    return length;
  };

  let i = 0;
  while (i < length) {
    const ch = text.charCodeAt(i);
    if (isSpace(ch)) {
      i++;
      continue;
    }
    // `--` opens a comment only before a space or a control character (`1--1` is 1 - -1); before
    // a statement starts nothing else can be meant, so `--berth:...` is a comment there too.
    if (ch === 0x2d && text.charCodeAt(i + 1) === 0x2d && (start < 0 || i + 2 >= length || text.charCodeAt(i + 2) <= 0x20)) {
      const close = lineEnd(text, i);
      lineComments.push({ text: text.slice(i, close), offset: i });
      i = close;
      continue;
    }
    if (ch === 0x23 /* # */) {
      i = lineEnd(text, i);
      continue;
    }
    if (ch === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      const closeAt = text.indexOf('*/', i + 2);
      const close = closing(i, closeAt < 0 ? -1 : closeAt + 2, '/* comment');
      const code = text.charCodeAt(i + 2) === 0x21 /* ! */;
      // A conditional comment is SQL the server runs; an optimizer hint `/*+ */` belongs to its
      // statement; a plain comment before a statement is dropped with the whitespace.
      if (code || start >= 0 || close === length) mark(i, close);
      if (code) scanConditional(i + 2, Math.max(i + 2, close - 2));
      i = close;
      continue;
    }
    if (ch === 0x27 || ch === 0x22 || ch === 0x60) {
      const what = ch === 0x60 ? 'backquoted identifier' : 'quoted string';
      const close = closing(i, skipQuoted(text, i, ch, ch !== 0x60), what);
      mark(i, close);
      i = close;
      continue;
    }
    if (isWordChar(ch)) {
      let j = i + 1;
      while (j < length && isWordChar(text.charCodeAt(j))) j++;
      const word = text.slice(i, j).toLowerCase();
      if (start < 0 && word === 'delimiter') {
        problems.push({ line: lines(i).line, message: DELIMITER_MESSAGE });
        i = lineEnd(text, i);
        continue;
      }
      mark(i, j);
      onWord(word);
      i = j;
      continue;
    }
    if (ch === 0x28) parens++;
    else if (ch === 0x29) {
      if (parens > 0) parens--;
    } else if (ch === 0x3b /* ; */ && parens === 0) {
      if (blocks === 0) {
        finish();
        i++;
        continue;
      }
      previous = ';';
      afterEnd = false;
    } else if (ch === 0x3a /* : */ && parens === 0 && text.charCodeAt(i + 1) !== 0x3d /* := */) {
      previous = ':';
    } else if (parens === 0) {
      previous = String.fromCharCode(ch);
    }
    mark(i, i + 1);
    i++;
  }
  finish();
  const unclosed = unclosedTransaction(statements);
  if (unclosed) problems.push({ line: unclosed.line, message: UNCLOSED_MESSAGE(unclosed.sql.split(/\s+/).slice(0, 2).join(' ').toUpperCase()) });
  const result = { statements, lineComments, problems };
  return unterminated ? { ...result, unterminated } : result;

  function onWord(word: string): void {
    if (!routine && words.length < 8) {
      words.push(word);
      routine = isCompound(words);
      // `BEGIN NOT ATOMIC` is known at its third word; its BEGIN opened the block.
      if (routine && words[0] === 'begin') {
        blocks = 1;
        previous = word;
        return;
      }
    }
    if (routine && parens === 0) countBlock(word);
    if (parens === 0) previous = word;
  }

  function countBlock(word: string): void {
    if (afterEnd) {
      afterEnd = false;
      if (END_KINDS.has(word)) return;
    }
    if (word === 'begin' || word === 'case') blocks++;
    else if (word === 'end') {
      if (blocks > 0) blocks--;
      afterEnd = true;
    } else if (STATEMENT_OPENERS.has(word) && STATEMENT_START.has(previous)) blocks++;
  }

  /** Quotes inside `/*! ... *\/` are SQL too; only an unterminated one matters here. */
  function scanConditional(from: number, to: number): void {
    for (let k = from; k < to; k++) {
      const c = text.charCodeAt(k);
      if (c === 0x27 || c === 0x22 || c === 0x60) {
        const close = skipQuoted(text, k, c, c !== 0x60);
        if (close < 0 || close > to) {
          unterminated ??= { what: c === 0x60 ? 'backquoted identifier' : 'quoted string', offset: k };
          return;
        }
        k = close - 1;
      }
    }
  }
}

const UNCLOSED_MESSAGE = (what: string) =>
  `the transaction this ${what} opens is never committed: end it with COMMIT. berth records the migration after its last statement, ` +
  'and a transaction left open would be rolled back with the session, the migration recorded as applied all the same';

/** Statements after which MySQL has committed whatever transaction was open (the common ones). */
const IMPLICIT_COMMIT = new Set(['create', 'alter', 'drop', 'rename', 'truncate', 'lock', 'unlock', 'grant', 'revoke']);

/**
 * The `START TRANSACTION` or `BEGIN` of a file that ends with that transaction still open: no
 * COMMIT, ROLLBACK or statement that commits implicitly (DDL) after it.
 */
function unclosedTransaction(statements: readonly MysqlStatement[]): MysqlStatement | undefined {
  let open: MysqlStatement | undefined;
  for (const statement of statements) {
    const [first = '', second = ''] = statement.sql.toLowerCase().split(/[\s;]+/, 2);
    if ((first === 'start' && second === 'transaction') || (first === 'begin' && (second === '' || second === 'work'))) open = statement;
    else if (first === 'commit' || (first === 'rollback' && second !== 'to') || IMPLICIT_COMMIT.has(first)) open = undefined;
  }
  return open;
}

/**
 * A statement whose body may hold `;`: a stored program (`CREATE [OR REPLACE] [DEFINER = ...]
 * [AGGREGATE] PROCEDURE | FUNCTION | TRIGGER | EVENT`, `ALTER ... EVENT`), or MariaDB's compound statements outside
 * one (`BEGIN NOT ATOMIC`, `IF`, `LOOP`, `WHILE`, `REPEAT`, `FOR` as the first word).
 */
function isCompound(words: readonly string[]): boolean {
  const [first, second, third] = words;
  if (words.length === 1) return first !== undefined && STATEMENT_OPENERS.has(first);
  if (first === 'begin') return second === 'not' && third === 'atomic';
  // ALTER EVENT ... DO may be given a new body too.
  if (first === 'alter') return second === 'event' || (words.includes('event') && !words.some((w) => NOT_ROUTINES.has(w)));
  if (first !== 'create') return false;
  for (const word of words.slice(1)) {
    if (NOT_ROUTINES.has(word)) return false;
    if (ROUTINES.has(word)) return true;
  }
  return false;
}

function isSpace(ch: number): boolean {
  return ch === 0x20 || ch === 0x09 || ch === NEWLINE || ch === CR || ch === 0x0c || ch === 0x0b;
}

/** Unquoted identifier characters: letters, digits, `_`, `$`, and anything beyond ASCII. */
function isWordChar(ch: number): boolean {
  return (ch >= 0x61 && ch <= 0x7a) || (ch >= 0x41 && ch <= 0x5a) || (ch >= 0x30 && ch <= 0x39) || ch === 0x5f || ch === 0x24 || ch >= 0x80;
}

function lineEnd(text: string, from: number): number {
  let j = from;
  while (j < text.length && text.charCodeAt(j) !== NEWLINE && text.charCodeAt(j) !== CR) j++;
  return j;
}

/**
 * Index just past the closing quote, or -1. A doubled quote is an escaped one; in strings (not in
 * backquoted identifiers) a backslash escapes the next character, as in MySQL's default sql_mode.
 */
function skipQuoted(text: string, open: number, quote: number, backslashEscapes: boolean): number {
  let i = open + 1;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (backslashEscapes && ch === 0x5c) i += 2;
    else if (ch === quote) {
      if (text.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return -1;
}

/**
 * 1-based line and column (in code points) of increasing offsets, in one pass; line breaks are
 * `\n`, `\r\n` and a lone `\r`, as in source/line-column.ts.
 */
function lineCounter(text: string): (offset: number) => { line: number; column: number } {
  let at = 0;
  let line = 1;
  let column = 1;
  return (offset) => {
    for (; at < offset; at++) {
      const code = text.charCodeAt(at);
      if (code === NEWLINE || (code === CR && text.charCodeAt(at + 1) !== NEWLINE)) {
        line++;
        column = 1;
      } else if (!(code >= 0xdc00 && code <= 0xdfff && at > 0 && text.charCodeAt(at - 1) >= 0xd800 && text.charCodeAt(at - 1) <= 0xdbff)) {
        column++;
      }
    }
    return { line, column };
  };
}
