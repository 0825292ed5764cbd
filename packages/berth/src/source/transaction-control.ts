/**
 * Statements that would end or nest berth's per-migration transaction (SPEC §4.2). A `COMMIT`
 * in a transactional file would commit half a migration without its history row; a `BEGIN`
 * only warns on the server and then the file's own `COMMIT` does the same. Both are refused
 * before anything is written.
 *
 * Statements come from `splitStatements`, so text inside function bodies, `DO` blocks, strings
 * and comments is never looked at: only the first words of each top-level statement matter.
 */

import type { Statement } from './types.js';

export interface TransactionControlStatement extends Statement {
  /** The command as it would be named in a message, e.g. `COMMIT`, `ROLLBACK PREPARED`. */
  readonly command: string;
}

export function findTransactionControl(statements: readonly Statement[]): TransactionControlStatement[] {
  const found: TransactionControlStatement[] = [];
  for (const statement of statements) {
    const command = transactionCommand(leadingWords(statement.sql, 3));
    if (command !== undefined) found.push({ ...statement, command });
  }
  return found;
}

function transactionCommand(words: readonly string[]): string | undefined {
  const [first, second, third] = words;
  switch (first) {
    case 'begin':
    case 'end':
    case 'abort':
      return first.toUpperCase();
    case 'start':
      return second === 'transaction' ? 'START TRANSACTION' : undefined;
    case 'commit':
      return second === 'prepared' ? 'COMMIT PREPARED' : 'COMMIT';
    case 'prepare':
      // `PREPARE name AS ...` is a prepared statement and harmless.
      return second === 'transaction' ? 'PREPARE TRANSACTION' : undefined;
    case 'rollback': {
      if (second === 'prepared') return 'ROLLBACK PREPARED';
      // `ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] x` stays inside the transaction.
      const afterNoise = second === 'work' || second === 'transaction' ? third : second;
      return afterNoise === 'to' ? undefined : 'ROLLBACK';
    }
    default:
      return undefined;
  }
}

// An identifier as PostgreSQL reads it, so that `begin_at` or `end2` is not taken for BEGIN/END.
const WORD = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/;

/** Lower-cased leading keywords, skipping whitespace and comments between them. */
function leadingWords(sql: string, max: number): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < sql.length && words.length < max) {
    const ch = sql[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (sql.startsWith('--', i)) {
      const eol = sql.slice(i).search(/[\r\n]/);
      i = eol < 0 ? sql.length : i + eol;
    } else if (sql.startsWith('/*', i)) {
      i = afterBlockComment(sql, i);
    } else {
      const word = WORD.exec(sql.slice(i, i + 64));
      if (word === null) break;
      words.push(word[0].toLowerCase());
      i += word[0].length;
    }
  }
  return words;
}

function afterBlockComment(sql: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < sql.length) {
    if (sql.startsWith('/*', i)) {
      depth++;
      i += 2;
    } else if (sql.startsWith('*/', i)) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return sql.length;
}
