/**
 * Migration file bytes → text (SPEC §4.4: valid UTF-8, BOM stripped, NUL refused, naming the
 * offset). A file saved as Latin-1 or UTF-16 by an editor on someone's laptop must stop the
 * deploy with the place to look, not reach the server as mojibake or be cut at a NUL.
 */

export interface DecodeProblem {
  readonly message: string;
  /** Byte offset in the file as stored (a BOM counts), as `xxd` or `od` would show it. */
  readonly offset: number;
  /** 1-based line of that byte. */
  readonly line: number;
}

export type DecodeResult = { readonly text: string } | { readonly problem: DecodeProblem };

const SAVE_AS_UTF8 = 'save the file as UTF-8';
// One decoder for every file: building one per file costs more than decoding a small file.
const STRICT = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decodeMigrationText(bytes: Uint8Array): DecodeResult {
  const start = hasUtf8Bom(bytes) ? 3 : 0;
  if (start === 0 && bytes.length >= 2 && isUtf16Bom(bytes[0], bytes[1])) {
    return {
      problem: {
        message: `the file starts with a UTF-16 byte order mark (0x${hex(bytes[0])} 0x${hex(bytes[1])}) at byte offset 0 (line 1); ${SAVE_AS_UTF8}`,
        offset: 0,
        line: 1,
      },
    };
  }

  // The native decoder is fast but, with `fatal`, only says *that* a file is invalid. Valid files
  // (nearly all) take this path; the byte-by-byte scan below runs only to find where it broke.
  if (bytes.indexOf(0, start) < 0) {
    try {
      return { text: STRICT.decode(bytes.subarray(start)) };
    } catch {
      // Fall through to locate the first invalid byte.
    }
  }

  const bad = firstInvalidByte(bytes, start);
  if (bad === undefined) {
    // Both implement the WHATWG/RFC 3629 rules, so this is not expected; if they ever disagree, a
    // readable file beats an error that cannot say where to look.
    return { text: new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.subarray(start)) };
  }
  const { line, column } = byteLineColumn(bytes, start, bad);
  const where = `at byte offset ${bad} (line ${line}, column ${column})`;
  const value = bytes[bad] ?? 0;
  const message =
    value === 0
      ? `NUL byte (0x00) ${where}; a migration must be text (a NUL would cut the statement short on the server); ${SAVE_AS_UTF8} without NUL bytes`
      : `invalid UTF-8 byte 0x${hex(value)} ${where}; ${SAVE_AS_UTF8} (it may be in Latin-1 or Windows-1252)`;
  return { problem: { message, offset: bad, line } };
}

function hasUtf8Bom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

function isUtf16Bom(b0: number | undefined, b1: number | undefined): boolean {
  return (b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff);
}

/**
 * Offset of the first byte that starts a NUL or an ill-formed UTF-8 sequence (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). For a truncated sequence the offset is
 * its lead byte: that is the character the author has to fix.
 */
export function firstInvalidByte(bytes: Uint8Array, from = 0): number | undefined {
  const length = bytes.length;
  let i = from;
  while (i < length) {
    const b = bytes[i]!;
    if (b === 0) return i;
    if (b < 0x80) {
      i++;
      continue;
    }
    let needed: number;
    // Bounds of the second byte; the later ones are always 0x80..0xBF.
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) needed = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      needed = 2;
      if (b === 0xe0) low = 0xa0; // overlong
      if (b === 0xed) high = 0x9f; // UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      needed = 3;
      if (b === 0xf0) low = 0x90; // overlong
      if (b === 0xf4) high = 0x8f; // above U+10FFFF
    } else {
      return i; // a continuation byte without a lead, 0xC0/0xC1 (overlong), or 0xF5..0xFF
    }
    if (i + needed >= length) return i;
    const second = bytes[i + 1]!;
    if (second < low || second > high) return i;
    for (let k = 2; k <= needed; k++) {
      const next = bytes[i + k]!;
      if (next < 0x80 || next > 0xbf) return i;
    }
    i += needed + 1;
  }
  return undefined;
}

/** Line and column (in characters) of byte `offset`, for text that is valid up to there. */
function byteLineColumn(bytes: Uint8Array, start: number, offset: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (let i = start; i < offset; i++) {
    const b = bytes[i]!;
    if (b === 0x0a) {
      line++;
      column = 1;
    } else if (b === 0x0d) {
      if (bytes[i + 1] === 0x0a) column++;
      else {
        line++;
        column = 1;
      }
    } else if ((b & 0xc0) !== 0x80) {
      column++; // continuation bytes belong to the character already counted
    }
  }
  return { line, column };
}

function hex(value: number | undefined): string {
  return (value ?? 0).toString(16).padStart(2, '0');
}
