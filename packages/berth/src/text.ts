/**
 * Text helpers shared by the whole package (a leaf: it imports nothing).
 *
 * Offsets are JavaScript string indices (UTF-16 code units). Columns count characters (code
 * points), as PostgreSQL and psql do, so an emoji or a CJK character counts once. Line breaks are
 * `\n`, `\r\n` and a lone `\r`.
 */

/** Levenshtein distance; the words compared (keys, commands, directives, rules) are short. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate nearest to `word`, when it is within a couple of typos (at most `max`, by default
 * 2 or a quarter of the word's length): beyond that a suggestion is more noise than help.
 */
export function closestMatch<T extends string>(word: string, candidates: Iterable<T>, max = Math.max(2, Math.floor(word.length / 4))): T | undefined {
  let best: T | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= max ? best : undefined;
}

/**
 * Length in code points, the unit of PostgreSQL's error positions and of editors' columns: a
 * surrogate pair (an emoji) counts once.
 */
export function codePointLength(text: string): number {
  let pairs = 0;
  for (let i = 0; i + 1 < text.length; i++) {
    if (isHighSurrogate(text.charCodeAt(i)) && isLowSurrogate(text.charCodeAt(i + 1))) {
      pairs++;
      i++;
    }
  }
  return text.length - pairs;
}

export function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

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
