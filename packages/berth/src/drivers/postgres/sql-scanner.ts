/**
 * A lexer for PostgreSQL SQL that knows just enough to find where top-level statements end and
 * where line comments are. It follows psql's own splitter (src/fe_utils/psqlscan.l) rule for rule,
 * because files written for `psql -f` and golang-migrate must split the same way here.
 *
 * It never rejects input: an unterminated string, identifier, dollar quote or comment runs to the
 * end of the file, and is reported in `unterminated` so that the file can be refused before
 * anything runs (sent on, it would swallow whatever berth sends after the file's statements).
 */

import type { LineComment, ScanResult, Statement, Unterminated } from '../dialect.js';
import { LineCounter } from '../../text.js';

const CHAR_NEWLINE = 0x0a;
const CHAR_CR = 0x0d;

export function scanSql(text: string): ScanResult {
  const statements: Statement[] = [];
  const lineComments: LineComment[] = [];
  const lines = new LineCounter(text);
  const length = text.length;

  // Per-statement state, reset after each top-level `;`.
  let start = -1;
  let end = -1;
  let parenDepth = 0;
  let beginDepth = 0;
  let wordCount = 0;
  let words: string[] = [];
  let unterminated: Unterminated | undefined;
  /** Where a quote opened at `from` closes, noting it when it never does. */
  const closing = (from: number, close: number, what: string): number => {
    if (close >= 0) return close;
    unterminated ??= { what, offset: from };
    return length;
  };

  const mark = (from: number, to: number): void => {
    if (start < 0) start = from;
    end = to;
  };
  const finish = (): void => {
    if (start >= 0) {
      const { line, column } = lines.advanceTo(start);
      statements.push({ sql: text.slice(start, end), offset: start, line, column });
    }
    start = -1;
    end = -1;
    parenDepth = 0;
    beginDepth = 0;
    wordCount = 0;
    words = [];
  };

  let i = 0;
  while (i < length) {
    const ch = text.charCodeAt(i);

    if (isSpace(ch)) {
      i++;
      continue;
    }

    if (ch === 0x2d /* - */ && text.charCodeAt(i + 1) === 0x2d) {
      let j = i + 2;
      while (j < length && text.charCodeAt(j) !== CHAR_NEWLINE && text.charCodeAt(j) !== CHAR_CR) j++;
      lineComments.push({ text: text.slice(i, j), offset: i });
      i = j;
      continue;
    }

    if (ch === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2a /* * */) {
      const close = skipBlockComment(text, i);
      // An unterminated comment is kept as (part of) a statement so the server complains about
      // it, instead of silently swallowing whatever statements the author meant to follow it.
      if (close < 0) {
        unterminated ??= { what: '/* comment', offset: i };
        mark(i, length);
        i = length;
      } else {
        i = close;
      }
      continue;
    }

    if (ch === 0x27 /* ' */) {
      const close = closing(i, skipQuoted(text, i, 0x27, false), 'quoted string');
      mark(i, close);
      i = close;
      continue;
    }

    if (ch === 0x22 /* " */) {
      const close = closing(i, skipQuoted(text, i, 0x22, false), 'quoted identifier');
      mark(i, close);
      i = close;
      continue;
    }

    // A `$` inside an identifier (`a$b`) never gets here: identifiers are consumed whole below.
    if (ch === 0x24 /* $ */) {
      const tag = dollarTagAt(text, i);
      if (tag !== undefined) {
        const closeAt = text.indexOf(tag, i + tag.length);
        const close = closing(i, closeAt < 0 ? -1 : closeAt + tag.length, `dollar-quoted string (${tag})`);
        mark(i, close);
        i = close;
        continue;
      }
    }

    if (isIdentStart(ch)) {
      let j = i + 1;
      while (j < length && isIdentContinue(text.charCodeAt(j))) j++;
      // E'...' is the one string form where a backslash escapes the quote (`E'it\'s'`).
      // Flex takes the longest match, so `somee'x'` is an identifier followed by a plain string.
      if (j === i + 1 && (ch === 0x45 || ch === 0x65) /* E e */ && text.charCodeAt(j) === 0x27) {
        const close = closing(i, skipQuoted(text, j, 0x27, true), 'quoted string');
        mark(i, close);
        i = close;
        continue;
      }
      const word = text.slice(i, j).toLowerCase();
      trackWord(word);
      mark(i, j);
      i = j;
      continue;
    }

    if (ch === 0x28 /* ( */) {
      parenDepth++;
    } else if (ch === 0x29 /* ) */) {
      if (parenDepth > 0) parenDepth--;
    } else if (ch === 0x3b /* ; */ && parenDepth === 0 && beginDepth === 0) {
      finish();
      i++;
      continue;
    }
    mark(i, i + 1);
    i++;
  }
  finish();
  return unterminated ? { statements, lineComments, unterminated } : { statements, lineComments };

  /**
   * psql's heuristic for `CREATE [OR REPLACE] {FUNCTION|PROCEDURE} ... BEGIN ATOMIC ... END`,
   * whose body holds `;`-terminated statements: once a statement starts that way, count BEGIN
   * and CASE (which also closes with END) against END outside parentheses. Parentheses are
   * tracked anyway because a rule's action list `DO ALSO (INSERT ...; UPDATE ...)` has `;` inside.
   */
  function trackWord(word: string): void {
    if (wordCount < 4 && (word === 'create' || word === 'function' || word === 'procedure' || word === 'or' || word === 'replace')) {
      words[wordCount] = word;
    }
    wordCount++;
    if (parenDepth !== 0 || !isCreateRoutine(words)) return;
    if (word === 'begin') beginDepth++;
    else if (word === 'case') {
      if (beginDepth >= 1) beginDepth++;
    } else if (word === 'end') {
      if (beginDepth > 0) beginDepth--;
    }
  }
}

function isCreateRoutine(words: readonly (string | undefined)[]): boolean {
  const [w0, w1, w2, w3] = words;
  if (w0 !== 'create') return false;
  if (w1 === 'function' || w1 === 'procedure') return true;
  return w1 === 'or' && w2 === 'replace' && (w3 === 'function' || w3 === 'procedure');
}

function isSpace(ch: number): boolean {
  // PostgreSQL's lexer: space, tab, newline, carriage return, form feed (and vertical tab).
  return ch === 0x20 || ch === 0x09 || ch === CHAR_NEWLINE || ch === CHAR_CR || ch === 0x0c || ch === 0x0b;
}

// PostgreSQL treats every byte >= 0x80 as a letter, so any non-ASCII character can be part of
// an identifier or a dollar-quote tag.
function isIdentStart(ch: number): boolean {
  return (ch >= 0x61 && ch <= 0x7a) || (ch >= 0x41 && ch <= 0x5a) || ch === 0x5f || ch >= 0x80;
}

function isIdentContinue(ch: number): boolean {
  return isIdentStart(ch) || (ch >= 0x30 && ch <= 0x39) || ch === 0x24;
}

/** Index just past the comment's closing `*\/`, or -1. Block comments nest in PostgreSQL. */
function skipBlockComment(text: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      depth++;
      i += 2;
    } else if (ch === 0x2a && text.charCodeAt(i + 1) === 0x2f) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return -1;
}

/**
 * Index just past the closing quote, or -1 when there is none. A doubled quote is an escaped one;
 * with `backslashEscapes` a backslash escapes the next character. Plain strings ignore
 * backslashes: `standard_conforming_strings` has been on by default since PostgreSQL 9.1.
 */
function skipQuoted(text: string, open: number, quote: number, backslashEscapes: boolean): number {
  let i = open + 1;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (backslashEscapes && ch === 0x5c) {
      i += 2;
    } else if (ch === quote) {
      if (text.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return -1;
}

/**
 * `$$` or `$tag$` at `i`. A tag starts like an identifier and has no `$`, so `$1` (a parameter)
 * is not a dollar quote.
 */
function dollarTagAt(text: string, i: number): string | undefined {
  let j = i + 1;
  if (j < text.length && text.charCodeAt(j) !== 0x24) {
    if (!isIdentStart(text.charCodeAt(j))) return undefined;
    j++;
    while (j < text.length) {
      const ch = text.charCodeAt(j);
      if (ch === 0x24 || !isIdentContinue(ch)) break;
      j++;
    }
  }
  if (text.charCodeAt(j) !== 0x24) return undefined;
  return text.slice(i, j + 1);
}
