import { describe, expect, it } from 'vitest';

import { decodeMigrationText, firstInvalidByte } from '../../src/source/decode.js';

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))));

const SAVE = 'save the file as UTF-8 (it may be in Latin-1 or Windows-1252)';

describe('decodeMigrationText', () => {
  it('decodes UTF-8', () => {
    expect(decodeMigrationText(bytes("SELECT 'héllo 😀 世界';\n"))).toEqual({ text: "SELECT 'héllo 😀 世界';\n" });
    expect(decodeMigrationText(new Uint8Array())).toEqual({ text: '' });
  });

  it('strips one UTF-8 BOM, and only at the start', () => {
    expect(decodeMigrationText(bytes([0xef, 0xbb, 0xbf], 'SELECT 1;'))).toEqual({ text: 'SELECT 1;' });
    expect(decodeMigrationText(bytes([0xef, 0xbb, 0xbf]))).toEqual({ text: '' });
    expect(decodeMigrationText(bytes([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], 'x'))).toEqual({ text: '\uFEFFx' });
    expect(decodeMigrationText(bytes('x', [0xef, 0xbb, 0xbf]))).toEqual({ text: 'x\uFEFF' });
  });

  it('refuses a NUL byte, naming its offset, line and column', () => {
    expect(decodeMigrationText(bytes('SELECT 1;\nSELECT ', [0], '2;'))).toEqual({
      problem: {
        message:
          'NUL byte (0x00) at byte offset 17 (line 2, column 8); a migration must be text (a NUL would cut the statement short on the server); save the file as UTF-8 without NUL bytes',
        offset: 17,
        line: 2,
      },
    });
  });

  it('counts the BOM in the byte offset, as on disk', () => {
    const result = decodeMigrationText(bytes([0xef, 0xbb, 0xbf], 'ab', [0]));
    expect(result).toMatchObject({ problem: { offset: 5, line: 1 } });
    expect('problem' in result && result.problem.message).toContain('at byte offset 5 (line 1, column 3)');
  });

  it('refuses Latin-1 text at the first non-UTF-8 byte', () => {
    // "café" in Latin-1 on line 3, after multi-byte UTF-8 on line 2
    const input = bytes('-- menu\n-- 😀 ok\nINSERT INTO t VALUES (\'caf', [0xe9], "');\n");
    expect(decodeMigrationText(input)).toEqual({
      problem: { message: `invalid UTF-8 byte 0xe9 at byte offset 45 (line 3, column 27); ${SAVE}`, offset: 45, line: 3 },
    });
  });

  it('reports whichever of NUL and invalid byte comes first', () => {
    expect(decodeMigrationText(bytes('a', [0xff], 'b', [0]))).toMatchObject({ problem: { offset: 1 } });
    expect(decodeMigrationText(bytes('a', [0], 'b', [0xff]))).toMatchObject({ problem: { offset: 1 } });
    expect(decodeMigrationText(bytes('ab', [0], 'b', [0xff]))).toMatchObject({ problem: { offset: 2 } });
  });

  it('counts CRLF and lone CR as line breaks', () => {
    expect(decodeMigrationText(bytes('a\r\nb\rc\nd', [0x80]))).toMatchObject({ problem: { offset: 8, line: 4 } });
  });

  it('names a UTF-16 file', () => {
    for (const bom of [
      [0xff, 0xfe],
      [0xfe, 0xff],
    ]) {
      expect(decodeMigrationText(bytes(bom, [0x53, 0x00]))).toEqual({
        problem: {
          message: `the file starts with a UTF-16 byte order mark (0x${bom[0]!.toString(16)} 0x${bom[1]!.toString(16)}) at byte offset 0 (line 1); save the file as UTF-8`,
          offset: 0,
          line: 1,
        },
      });
    }
  });
});

describe('firstInvalidByte', () => {
  it.each([
    ['ASCII', [0x41, 0x42], undefined],
    ['2-byte é', [0xc3, 0xa9], undefined],
    ['3-byte €', [0xe2, 0x82, 0xac], undefined],
    ['4-byte 😀', [0xf0, 0x9f, 0x98, 0x80], undefined],
    ['U+10FFFF', [0xf4, 0x8f, 0xbf, 0xbf], undefined],
    ['U+FFFF', [0xef, 0xbf, 0xbf], undefined],
    ['U+E000 after the surrogates', [0xee, 0x80, 0x80], undefined],
    ['NUL', [0x41, 0x00], 1],
    ['lone continuation byte', [0x41, 0x80], 1],
    ['overlong C0', [0xc0, 0xaf], 0],
    ['overlong C1', [0xc1, 0xbf], 0],
    ['overlong 3-byte', [0xe0, 0x80, 0xaf], 0],
    ['overlong 4-byte', [0xf0, 0x80, 0x80, 0xaf], 0],
    ['surrogate D800', [0xed, 0xa0, 0x80], 0],
    ['surrogate DFFF', [0xed, 0xbf, 0xbf], 0],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['F5 lead', [0xf5, 0x80, 0x80, 0x80], 0],
    ['FF', [0x41, 0x41, 0xff], 2],
    ['truncated 2-byte at end', [0x41, 0xc3], 1],
    ['truncated 3-byte at end', [0x41, 0xe2, 0x82], 1],
    ['truncated 4-byte at end', [0xf0, 0x9f, 0x98], 0],
    ['lead followed by ASCII', [0xc3, 0x28], 0],
    ['3-byte with a bad third byte', [0x41, 0xe2, 0x82, 0x41], 1],
    ['4-byte with a bad fourth byte', [0xf0, 0x9f, 0x98, 0xc0], 0],
    ['valid then invalid', [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0x41, 0xa9], 6],
  ])('%s', (_name, input, expected) => {
    const data = Uint8Array.from(input);
    expect(firstInvalidByte(data)).toBe(expected);
    // Cross-check the verdict (not the position) against the platform's decoder.
    const nativeValid = (() => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(data);
        return !data.includes(0);
      } catch {
        return false;
      }
    })();
    expect(nativeValid).toBe(expected === undefined);
  });

  it('agrees with the platform decoder on random byte strings', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (let round = 0; round < 2_000; round++) {
      const data = Uint8Array.from({ length: 1 + Math.floor(random() * 8) }, () =>
        random() < 0.5 ? 0x80 + Math.floor(random() * 0x80) : 1 + Math.floor(random() * 0x7f),
      );
      const bad = firstInvalidByte(data);
      let nativeValid = true;
      try {
        decoder.decode(data);
      } catch {
        nativeValid = false;
      }
      expect(bad === undefined, Buffer.from(data).toString('hex')).toBe(nativeValid);
      if (bad !== undefined) {
        // Everything before the reported byte is valid on its own.
        expect(() => decoder.decode(data.subarray(0, bad))).not.toThrow();
      }
    }
  });
});
