/**
 * Offsets → file line and column, for findings that arrive in any order. libpg-query reports AST
 * locations as UTF-8 byte offsets into the statement, but its syntax-error positions in
 * characters (as PostgreSQL does), and JavaScript strings index UTF-16 code units: each is
 * converted here, once, and columns count characters like text.ts does.
 */

import { isHighSurrogate, offsetOfCharacterPosition, type LineColumn } from '../text.js';

export class TextPositions {
  readonly #text: string;
  /** UTF-16 offset where each line starts; line breaks as in LineCounter: \n, \r\n, lone \r. Built on first use. */
  #starts: number[] | undefined;

  constructor(text: string) {
    this.#text = text;
  }

  #lineStarts(): number[] {
    if (this.#starts !== undefined) return this.#starts;
    const text = this.#text;
    const starts = [0];
    // indexOf runs natively; most files have no lone \r, so that search usually ends at once.
    let lf = text.indexOf('\n');
    let cr = text.indexOf('\r');
    while (lf >= 0 || cr >= 0) {
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        if (text.charCodeAt(cr + 1) !== 0x0a) starts.push(cr + 1);
        cr = text.indexOf('\r', cr + 1);
      } else {
        starts.push(lf + 1);
        lf = text.indexOf('\n', lf + 1);
      }
    }
    this.#starts = starts;
    return starts;
  }

  /** Line and column of a UTF-16 offset into the text (clamped). */
  at(offset: number): LineColumn {
    const target = Math.max(0, Math.min(offset, this.#text.length));
    const starts = this.#lineStarts();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= target) lo = mid;
      else hi = mid - 1;
    }
    const start = starts[lo] ?? 0;
    let column = 1;
    for (let i = start; i < target; i++) {
      const code = this.#text.charCodeAt(i);
      // The second half of a surrogate pair belongs to a character already counted.
      if (!(code >= 0xdc00 && code <= 0xdfff && i > start && isHighSurrogate(this.#text.charCodeAt(i - 1)))) column++;
    }
    return { line: lo + 1, column };
  }
}

/** UTF-16 index in `sql` of a UTF-8 byte offset (clamped to the text). */
export function byteToIndex(sql: string, byteOffset: number): number {
  if (byteOffset <= 0) return 0;
  let bytes = 0;
  let i = 0;
  while (i < sql.length && bytes < byteOffset) {
    const code = sql.codePointAt(i) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    i += code >= 0x10000 ? 2 : 1;
  }
  return i;
}

/** UTF-16 index in `sql` of a 0-based character (code point) index. */
export function charToIndex(sql: string, charIndex: number): number {
  return offsetOfCharacterPosition(sql, Math.max(0, charIndex) + 1);
}
