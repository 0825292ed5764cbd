import { describe, expect, it } from 'vitest';

import { postgresDialect } from '../../src/drivers/postgres/dialect.js';
import { parseDirectives as parseWithScan } from '../../src/source/directives.js';

/** The directives of a PostgreSQL file, scanned as berth scans it before reading them. */
const parseDirectives = (text: string) => parseWithScan(text, postgresDialect.scan(text));

const KNOWN =
  'known directives: -- berth:no-transaction, -- berth:lock-timeout <duration>, -- berth:statement-timeout <duration>';

describe('parseDirectives', () => {
  it('returns the defaults for a file without directives', () => {
    expect(parseDirectives('CREATE TABLE t (id int);')).toEqual({ directives: { noTransaction: false }, problems: [] });
    expect(parseDirectives('')).toEqual({ directives: { noTransaction: false }, problems: [] });
  });

  it('reads all three directives, with blank lines and other comments in between', () => {
    const text = `-- Add an index without blocking writes.

-- berth:no-transaction
/* a block comment */
-- berth:lock-timeout 5s
--berth:statement-timeout   10m
CREATE INDEX CONCURRENTLY users_email ON users (email);
`;
    expect(parseDirectives(text)).toEqual({
      directives: { noTransaction: true, lockTimeoutMs: 5_000, statementTimeoutMs: 600_000 },
      problems: [],
    });
  });

  it.each([
    ['-- berth:lock-timeout 500ms', { noTransaction: false, lockTimeoutMs: 500 }],
    ['-- berth:lock-timeout 2', { noTransaction: false, lockTimeoutMs: 2_000 }],
    ['-- berth:lock-timeout 0', { noTransaction: false, lockTimeoutMs: 0 }],
    ['-- berth:statement-timeout 1h', { noTransaction: false, statementTimeoutMs: 3_600_000 }],
    ['-- BERTH:No-Transaction', { noTransaction: true }],
    ['--   berth : no-transaction   ', { noTransaction: true }],
    ['-- berth:no-transaction\r', { noTransaction: true }],
  ])('accepts %j', (line, directives) => {
    expect(parseDirectives(`${line}\nSELECT 1;`)).toEqual({ directives, problems: [] });
  });

  it('applies directives in a file that has only comments', () => {
    expect(parseDirectives('-- berth:no-transaction\n-- nothing yet\n')).toEqual({
      directives: { noTransaction: true },
      problems: [],
    });
  });

  it.each([
    [
      '-- berth:no-transacton',
      `unknown directive "-- berth:no-transacton"; did you mean "-- berth:no-transaction"? ${KNOWN}`,
    ],
    [
      '-- berth:no_transaction',
      `unknown directive "-- berth:no_transaction"; did you mean "-- berth:no-transaction"? ${KNOWN}`,
    ],
    [
      '-- berth:notransaction',
      `unknown directive "-- berth:notransaction"; did you mean "-- berth:no-transaction"? ${KNOWN}`,
    ],
    [
      '-- berth:lock_timeout 5s',
      `unknown directive "-- berth:lock_timeout"; did you mean "-- berth:lock-timeout <duration>"? ${KNOWN}`,
    ],
    ['-- berth:transactional', `unknown directive "-- berth:transactional"; ${KNOWN}`],
    ['-- berth:', `unknown directive "-- berth:"; ${KNOWN}`],
    ['-- berth no-transaction', '"-- berth no-transaction" is missing the colon; write "-- berth:no-transaction"'],
    [
      '-- berth:no-transaction false',
      'directive "-- berth:no-transaction" takes no argument (found "false"); write "-- berth:no-transaction" alone, or remove the line to run the file in a transaction',
    ],
    [
      '-- berth:lock-timeout',
      'directive "-- berth:lock-timeout" needs exactly one duration, found no duration; write e.g. "-- berth:lock-timeout 5s" (a duration: 500ms, 30s, 5m, 1h, or seconds)',
    ],
    [
      '-- berth:lock-timeout 5 s',
      'directive "-- berth:lock-timeout" needs exactly one duration, found "5 s"; write e.g. "-- berth:lock-timeout 5s" (a duration: 500ms, 30s, 5m, 1h, or seconds)',
    ],
    [
      '-- berth:statement-timeout 5 minutes',
      'directive "-- berth:statement-timeout" needs exactly one duration, found "5 minutes"; write e.g. "-- berth:statement-timeout 5s" (a duration: 500ms, 30s, 5m, 1h, or seconds)',
    ],
    [
      '-- berth:lock-timeout -5s',
      'directive "-- berth:lock-timeout" has an invalid duration "-5s"; write e.g. "-- berth:lock-timeout 5s" (a duration: 500ms, 30s, 5m, 1h, or seconds)',
    ],
    [
      '-- berth:statement-timeout 5d',
      'directive "-- berth:statement-timeout" has an invalid duration "5d"; write e.g. "-- berth:statement-timeout 5s" (a duration: 500ms, 30s, 5m, 1h, or seconds)',
    ],
    [
      '-- berth:statement-timeout 1000h',
      'directive "-- berth:statement-timeout" is 1000h, more than PostgreSQL allows (2147483.647s); use a smaller duration, or 0 for no timeout',
    ],
  ])('refuses %j', (line, message) => {
    const result = parseDirectives(`-- header\n${line}\nSELECT 1;`);
    expect(result.problems).toEqual([{ line: 2, message }]);
    expect(result.directives).toEqual({ noTransaction: false });
  });

  it('does not take prose that mentions berth for a directive', () => {
    expect(parseDirectives('-- berth runs this file in a transaction\n-- berthing area\nSELECT 1;').problems).toEqual([]);
  });

  it('refuses a repeated directive, naming the first line', () => {
    const result = parseDirectives('-- berth:lock-timeout 5s\n\n-- berth:lock-timeout 10s\nSELECT 1;');
    expect(result.problems).toEqual([
      { line: 3, message: 'directive "-- berth:lock-timeout" is repeated (first on line 1); keep only one' },
    ]);
    expect(result.directives).toEqual({ noTransaction: false, lockTimeoutMs: 5_000 });
  });

  it('refuses a directive after the first statement, wherever it is', () => {
    const text = [
      '-- berth:lock-timeout 5s',
      'CREATE TABLE t (',
      '  id int -- berth:statement-timeout 1s',
      ');',
      '-- berth:no-transaction',
      'CREATE INDEX CONCURRENTLY i ON t (id); -- berth:no-transaction',
    ].join('\n');
    const result = parseDirectives(text);
    const after = (name: string): string =>
      `directive "-- berth:${name}" comes after the first statement (line 2) and would not apply; move it to the top of the file, above every statement`;
    expect(result.problems).toEqual([
      { line: 3, message: after('statement-timeout') },
      { line: 5, message: after('no-transaction') },
      { line: 6, message: after('no-transaction') },
    ]);
    expect(result.directives).toEqual({ noTransaction: false, lockTimeoutMs: 5_000 });
  });

  it('ignores directive-like text inside strings, dollar quotes and block comments', () => {
    const text = `/*
-- berth:no-transacton
*/
SELECT '
-- berth:bogus
';
DO $$
-- berth:bogus
BEGIN END $$;`;
    expect(parseDirectives(text)).toEqual({ directives: { noTransaction: false }, problems: [] });
  });

  it('reports every problem in the file at once', () => {
    const text = '-- berth:no-transacton\n-- berth:lock-timeout soon\n-- berth:lock-timeout 1s\nSELECT 1;';
    expect(parseDirectives(text).problems.map((problem) => problem.line)).toEqual([1, 2, 3]);
  });
});
