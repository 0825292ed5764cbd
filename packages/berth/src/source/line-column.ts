/**
 * Offsets in file text → 1-based line and column, the way an editor's "go to line" wants them.
 *
 * Offsets are JavaScript string indices (UTF-16 code units). Columns count characters (code
 * points), as PostgreSQL and psql do, so an emoji or a CJK character counts once. Line breaks are
 * `\n`, `\r\n` and a lone `\r`.
 */

export interface LineColumn {
  readonly line: number;
  readonly column: number;
}

export function lineColumnAt(text: string, offset: number): LineColumn {
  return new LineCounter(text).advanceTo(offset);
}

/**
 * Answers a series of increasing offsets in one pass over the text. Calling `lineColumnAt` per
 * statement would be quadratic, and a 10 MiB data migration can hold 100,000 INSERTs.
 */
export class LineCounter {
  readonly #text: string;
  #offset = 0;
  #line = 1;
  #column = 1;

  constructor(text: string) {
    this.#text = text;
  }

  /** `offset` must not be smaller than the previous one; it is clamped to the text. */
  advanceTo(offset: number): LineColumn {
    const text = this.#text;
    const target = Math.max(0, Math.min(offset, text.length));
    if (target < this.#offset) {
      this.#offset = 0;
      this.#line = 1;
      this.#column = 1;
    }
    let i = this.#offset;
    while (i < target) {
      const code = text.charCodeAt(i);
      if (code === 0x0a) {
        this.#line++;
        this.#column = 1;
      } else if (code === 0x0d) {
        if (text.charCodeAt(i + 1) !== 0x0a) {
          this.#line++;
          this.#column = 1;
        }
        // For `\r\n` the `\n` starts the new line; until then `\r` only occupies a column.
        else this.#column++;
      } else if (code >= 0xdc00 && code <= 0xdfff && i > 0 && isHighSurrogate(text.charCodeAt(i - 1))) {
        // Second half of a surrogate pair: the character was already counted.
      } else {
        this.#column++;
      }
      i++;
    }
    this.#offset = i;
    return { line: this.#line, column: this.#column };
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * PostgreSQL reports an error `position` as a 1-based character (code point) index into the
 * statement text it received. Returns the matching offset in `sql` (UTF-16 index), which, added
 * to the statement's own offset, gives the place in the file.
 */
export function offsetOfCharacterPosition(sql: string, position: number): number {
  let remaining = Math.max(0, Math.floor(position) - 1);
  let i = 0;
  while (remaining > 0 && i < sql.length) {
    i += isHighSurrogate(sql.charCodeAt(i)) && i + 1 < sql.length ? 2 : 1;
    remaining--;
  }
  return i;
}
