/**
 * The error → exit code contract (SPEC §5, STYLE §5): every code is documented in docs/errors.md
 * with the exit code its class really has, every class maps to the exit code of its family, and
 * every code the sources throw is registered in ERROR_CODES with the class it is thrown with.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as berth from '../../src/index.js';
import {
  BerthError, ConfigError, ERROR_CODES, InternalError, InterruptedError, LockTimeoutError, MigrationFailedError,
  OutcomeUnknownError, BackupFailedError, TargetRejectedError, UnreachableError, ValidationError, toBerthError, type ErrorCode,
} from '../../src/errors.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const DOC = readFileSync(path.join(REPO_ROOT, 'docs/errors.md'), 'utf8');

type ErrorClass = (typeof ERROR_CODES)[ErrorCode];

/** SPEC §5 (plus 70 for bugs): the exit code of each family. */
const FAMILY_EXIT: [string, ErrorClass, number][] = [
  ['MigrationFailedError', MigrationFailedError, 1],
  ['ConfigError', ConfigError, 2],
  ['UnreachableError', UnreachableError, 3],
  ['LockTimeoutError', LockTimeoutError, 4],
  ['ValidationError', ValidationError, 5],
  ['TargetRejectedError', TargetRejectedError, 6],
  ['OutcomeUnknownError', OutcomeUnknownError, 7],
  ['BackupFailedError', BackupFailedError, 8],
  ['InternalError', InternalError, 70],
];

/** An instance of the class registered for `code`, built the way the sources build it. */
function instance(code: ErrorCode): BerthError {
  const Class = ERROR_CODES[code];
  if (Class === InterruptedError) return new InterruptedError('SIGTERM');
  return new (Class as new (code: string, message: string) => BerthError)(code, `test ${code}`);
}

/** `| \`ERR_X\` | 5 | ...` rows of docs/errors.md: code → the exit column. */
function documentedCodes(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const match of DOC.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \| ([^|]+?) \|/gm)) {
    expect(rows.has(match[1]!), `${match[1]} is listed once`).toBe(false);
    rows.set(match[1]!, match[2]!.trim());
  }
  return rows;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

describe('error classes and exit codes (SPEC §5)', () => {
  it.each(FAMILY_EXIT)('%s exits %d', (_name, Class, exit) => {
    const error = new (Class as new (code: string, message: string) => BerthError)('ERR_TEST', 'message');
    expect(error).toBeInstanceOf(BerthError);
    expect(error).toBeInstanceOf(Error);
    expect(error.exitCode).toBe(exit);
  });

  it('InterruptedError exits 130 for SIGINT and 143 for SIGTERM, with code ERR_INTERRUPTED', () => {
    const int = new InterruptedError('SIGINT');
    const term = new InterruptedError('SIGTERM');
    expect([int.exitCode, term.exitCode]).toEqual([130, 143]);
    expect([int.code, term.code]).toEqual(['ERR_INTERRUPTED', 'ERR_INTERRUPTED']);
    expect(int.message).toContain('SIGINT');
    expect(term).toBeInstanceOf(BerthError);
  });

  it('each exit code belongs to exactly one family', () => {
    const exits = FAMILY_EXIT.map(([, , exit]) => exit);
    expect(new Set(exits).size).toBe(exits.length);
  });

  it.each(Object.keys(ERROR_CODES) as ErrorCode[])('%s keeps its code and exits with its family’s code', (code) => {
    const error = instance(code);
    expect(error.code).toBe(code);
    const family = FAMILY_EXIT.find(([, Class]) => error instanceof Class);
    if (error instanceof InterruptedError) expect([130, 143]).toContain(error.exitCode);
    else expect(error.exitCode).toBe(family?.[2]);
  });

  it('every family has at least one code', () => {
    const classes = new Set<unknown>(Object.values(ERROR_CODES));
    for (const [name, Class] of FAMILY_EXIT) expect(classes.has(Class), name).toBe(true);
    expect(classes.has(InterruptedError)).toBe(true);
  });

  it('codes look like ERR_<AREA>_<WHAT>', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(code).toMatch(/^ERR_[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
  });

  it('the public entry point exports every error class and ERROR_CODES', () => {
    for (const [name, Class] of FAMILY_EXIT) expect((berth as Record<string, unknown>)[name], name).toBe(Class);
    expect(berth.InterruptedError).toBe(InterruptedError);
    expect(berth.BerthError).toBe(BerthError);
    expect(berth.ERROR_CODES).toBe(ERROR_CODES);
  });
});

describe('BerthError', () => {
  it('keeps code, message, cause and details; name is the class; toJSON carries them', () => {
    const cause = new Error('root cause');
    const error = new ValidationError('ERR_VALIDATION_FAILED', 'drift in 3', { cause, details: { version: 3 } });
    expect(error.name).toBe('ValidationError');
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ version: 3 });
    expect(error.toJSON()).toEqual({ name: 'ValidationError', code: 'ERR_VALIDATION_FAILED', exitCode: 5, message: 'drift in 3', version: 3 });
    expect(String(error)).toBe('ValidationError: drift in 3');
  });

  it('details default to an empty object', () => {
    expect(new ConfigError('ERR_USAGE', 'x').details).toEqual({});
  });

  it('toBerthError passes a BerthError through unchanged', () => {
    const error = new LockTimeoutError('ERR_LOCK_TIMEOUT', 'held');
    expect(toBerthError(error)).toBe(error);
  });

  it.each([
    [new TypeError('x is undefined'), 'x is undefined'],
    ['a thrown string', 'a thrown string'],
    [42, '42'],
  ])('toBerthError turns %j into an InternalError (exit 70) that keeps the cause', (thrown, text) => {
    const error = toBerthError(thrown);
    expect(error).toBeInstanceOf(InternalError);
    expect(error.code).toBe('ERR_INTERNAL');
    expect(error.exitCode).toBe(70);
    expect(error.message).toContain(text);
    expect(error.message).toMatch(/bug/);
    expect(error.cause).toBe(thrown);
  });
});

describe('docs/errors.md', () => {
  it.each(Object.keys(ERROR_CODES) as ErrorCode[])('lists %s with the exit code of its class', (code) => {
    const documented = documentedCodes().get(code);
    expect(documented, `${code} has a row in docs/errors.md`).toBeDefined();
    const expected = ERROR_CODES[code] === InterruptedError ? '130/143' : String(instance(code).exitCode);
    expect(documented).toBe(expected);
  });

  it('lists no code that ERROR_CODES does not have (codes are never removed, so a stale row is a typo)', () => {
    for (const code of documentedCodes().keys()) expect(Object.keys(ERROR_CODES), code).toContain(code);
  });

  it('starts with the exit code table of SPEC §5, including 70 for internal errors', () => {
    const codesAt = DOC.indexOf('\n## Codes');
    expect(codesAt).toBeGreaterThan(0);
    const head = DOC.slice(0, codesAt);
    const exits = [...head.matchAll(/^\| (\d+(?: \/ \d+)?) \|/gm)].map((m) => m[1]);
    expect(exits).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '70', '130 / 143']);
    expect(head).toMatch(/^\| 70 \|.*internal error/im);
  });

  it('groups codes by exit code, in ascending order, each under its own heading', () => {
    const headings = [...DOC.matchAll(/^### Exit (\d+)/gm)].map((m) => Number(m[1]));
    expect(headings).toEqual([...headings].sort((a, b) => a - b));
    for (const [code, exit] of documentedCodes()) {
      const at = DOC.indexOf(`| \`${code}\` |`);
      const heading = [...DOC.slice(0, at).matchAll(/^### Exit ([\d /]+):/gm)].at(-1)?.[1]?.trim();
      expect(heading?.replace(/ /g, ''), `${code} sits under the heading of exit ${exit}`).toBe(exit);
    }
  });
});

describe('codes used in the sources', () => {
  const files = sourceFiles(SRC);

  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(10);
    expect(files.some((f) => f.endsWith(path.join('src', 'errors.ts')))).toBe(true);
  });

  it('every ERR_ code literal in src is registered in ERROR_CODES', () => {
    const unknown: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/['"`](ERR_[A-Z0-9_]+)['"`]/g)) {
        // `err.code === 'ERR_MODULE_NOT_FOUND'` reads Node's own codes; only codes berth creates count.
        if (/[!=]==?\s*$/.test(text.slice(Math.max(0, m.index - 8), m.index))) continue;
        if (!(m[1]! in ERROR_CODES)) unknown.push(`${path.relative(SRC, file)}: ${m[1]}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('every `new XError(code, ...)` uses the class ERROR_CODES registers for that code', () => {
    const mismatched: string[] = [];
    let seen = 0;
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(/new (\w+Error)\(\s*'(ERR_[A-Z0-9_]+)'/g)) {
        seen++;
        const registered = ERROR_CODES[m[2] as ErrorCode]?.name;
        if (registered !== m[1]) mismatched.push(`${path.relative(SRC, file)}: new ${m[1]}('${m[2]}') but ERROR_CODES says ${registered}`);
      }
    }
    expect(seen).toBeGreaterThan(20);
    expect(mismatched).toEqual([]);
  });
});
