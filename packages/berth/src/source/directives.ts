/**
 * `-- berth:` directives (SPEC §2), parsed purely like dbmate's `parseMigrationOptions`.
 *
 * Anything that looks like a directive but is not exactly one is a problem, never ignored: a
 * mistyped `-- berth:no-transacton` would otherwise run `CREATE INDEX CONCURRENTLY` inside a
 * transaction, and a directive below the first statement would silently not apply.
 */

import type { Directives } from './types.js';
import { formatDuration, parseDuration } from '../duration.js';
import { LineCounter } from '../text.js';
import { closestMatch } from '../text.js';
import type { ScanResult } from '../drivers/dialect.js';

export interface DirectiveProblem {
  /** 1-based line of the offending comment. */
  readonly line: number;
  readonly message: string;
}

export interface ParsedDirectives {
  readonly directives: Directives;
  readonly problems: DirectiveProblem[];
}

type DirectiveName = 'no-transaction' | 'lock-timeout' | 'statement-timeout';

const USAGE: Record<DirectiveName, string> = {
  'no-transaction': '-- berth:no-transaction',
  'lock-timeout': '-- berth:lock-timeout <duration>',
  'statement-timeout': '-- berth:statement-timeout <duration>',
};
const KNOWN = Object.keys(USAGE) as DirectiveName[];
const KNOWN_LIST = KNOWN.map((name) => USAGE[name]).join(', ');

// PostgreSQL stores both timeouts as a 32-bit count of milliseconds; larger values fail at SET
// time, after the migration has started, so they are refused here.
const MAX_TIMEOUT_MS = 2_147_483_647;

// Case and spacing are forgiven (`--Berth: no-transaction` is unambiguous); only the `berth:`
// prefix marks a comment as a directive.
const DIRECTIVE = /^--\s*berth\s*:\s*(.*)$/i;
// `-- berth no-transaction` (colon forgotten) is as dangerous as a typo, but a prose comment such
// as `-- berth runs this file in a transaction` must stay a comment: only flag it when the next
// word is close to a directive name.
const MISSING_COLON = /^--\s*berth\s+([A-Za-z_-]+)/i;

/** `scan` is the file's scan by its dialect (the directives are comments before the first statement). */
export function parseDirectives(text: string, scan: ScanResult): ParsedDirectives {
  const { statements, lineComments } = scan;
  const firstStatement = statements[0];
  const headerEnd = firstStatement?.offset ?? text.length;
  const lines = new LineCounter(text);
  const problems: DirectiveProblem[] = [];
  const seen = new Map<DirectiveName, number>();
  let noTransaction = false;
  let lockTimeoutMs: number | undefined;
  let statementTimeoutMs: number | undefined;

  for (const comment of lineComments) {
    const body = comment.text.trimEnd();
    const match = DIRECTIVE.exec(body);
    if (match === null) {
      const missing = MISSING_COLON.exec(body);
      const near = missing?.[1] === undefined ? undefined : closestDirective(missing[1]);
      if (near !== undefined) {
        const { line } = lines.advanceTo(comment.offset);
        problems.push({ line, message: `"${body}" is missing the colon; write "${USAGE[near]}"` });
      }
      continue;
    }

    const { line } = lines.advanceTo(comment.offset);
    const [rawName = '', ...args] = (match[1] ?? '').trim().split(/\s+/).filter((part) => part !== '');
    const name = rawName.toLowerCase();

    // `-- berth:allow <rule-id> <reason>` silences a `berth lint` finding, in the header or above
    // any statement; lint checks its contents (src/lint/allow.ts), the runner ignores it.
    if (name === 'allow') continue;

    if (!isKnown(name)) {
      const near = closestDirective(name);
      const suggestion = near === undefined ? '' : `did you mean "${USAGE[near]}"? `;
      const shown = rawName === '' ? '-- berth:' : `-- berth:${rawName}`;
      problems.push({ line, message: `unknown directive "${shown}"; ${suggestion}known directives: ${KNOWN_LIST}` });
      continue;
    }

    if (comment.offset > headerEnd && firstStatement !== undefined) {
      problems.push({
        line,
        message:
          `directive "-- berth:${name}" comes after the first statement (line ${firstStatement.line}) and would not ` +
          'apply; move it to the top of the file, above every statement',
      });
      continue;
    }

    const firstLine = seen.get(name);
    if (firstLine !== undefined) {
      problems.push({
        line,
        message: `directive "-- berth:${name}" is repeated (first on line ${firstLine}); keep only one`,
      });
      continue;
    }
    seen.set(name, line);

    if (name === 'no-transaction') {
      // An argument such as `false` may mean the opposite of the directive, so none is accepted.
      if (args.length > 0) {
        problems.push({
          line,
          message: `directive "-- berth:no-transaction" takes no argument (found "${args.join(' ')}"); write "${USAGE[name]}" alone, or remove the line to run the file in a transaction`,
        });
        continue;
      }
      noTransaction = true;
      continue;
    }

    const timeoutMs = parseTimeoutArgument(name, args, line, problems);
    if (timeoutMs === undefined) continue;
    if (name === 'lock-timeout') lockTimeoutMs = timeoutMs;
    else statementTimeoutMs = timeoutMs;
  }

  const directives: Directives = {
    noTransaction,
    ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }),
    ...(statementTimeoutMs === undefined ? {} : { statementTimeoutMs }),
  };
  return { directives, problems };
}

function parseTimeoutArgument(
  name: 'lock-timeout' | 'statement-timeout',
  args: readonly string[],
  line: number,
  problems: DirectiveProblem[],
): number | undefined {
  const example = `write e.g. "-- berth:${name} 5s" (a duration: 500ms, 30s, 5m, 1h, or seconds)`;
  if (args.length !== 1) {
    const found = args.length === 0 ? 'no duration' : `"${args.join(' ')}"`;
    problems.push({ line, message: `directive "-- berth:${name}" needs exactly one duration, found ${found}; ${example}` });
    return undefined;
  }
  const value = args[0] ?? '';
  const ms = parseDuration(value);
  if (ms === undefined) {
    problems.push({ line, message: `directive "-- berth:${name}" has an invalid duration "${value}"; ${example}` });
    return undefined;
  }
  if (ms > MAX_TIMEOUT_MS) {
    problems.push({
      line,
      message: `directive "-- berth:${name}" is ${formatDuration(ms)}, more than PostgreSQL allows (${formatDuration(MAX_TIMEOUT_MS)}); use a smaller duration, or 0 for no timeout`,
    });
    return undefined;
  }
  return ms;
}

function isKnown(name: string): name is DirectiveName {
  return (KNOWN as string[]).includes(name);
}

/** The known directive within a couple of typos of `name`, if any. */
function closestDirective(name: string): DirectiveName | undefined {
  // Underscores, missing dashes (`notransaction`, `no_transaction`) and one or two slips of the keyboard.
  return closestMatch(name.toLowerCase(), KNOWN);
}

