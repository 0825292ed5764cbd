/**
 * How a PostgreSQL file relates to the transaction berth runs it in (SPEC §2, §4.2), decided from
 * the first words of each top-level statement (statements come from the scanner, so text inside
 * function bodies, `DO` blocks, strings and comments is never looked at).
 *
 * golang-migrate sends a file as it is, so its users write files that berth must read the same way:
 * - a file wrapped in one `BEGIN; ... COMMIT;` is an ordinary transactional migration: berth drops
 *   the two statements and runs the rest in its own transaction, with the history row;
 * - a file whose single statement cannot run in a transaction block (`CREATE INDEX CONCURRENTLY`,
 *   `VACUUM`...) runs outside one, as golang-migrate runs it, recorded like `no-transaction`.
 * Anything else that would end, nest or escape berth's transaction is refused before any write: a
 * `COMMIT` in the middle would commit half a migration without its history row.
 */

import type { Statement, StatementProblem, TransactionShape } from '../dialect.js';

export interface TransactionControlStatement extends Statement {
  /** The command as it would be named in a message, e.g. `COMMIT`, `ROLLBACK PREPARED`. */
  readonly command: string;
}

const NO_TRANSACTION = 'add "-- berth:no-transaction" at the top of the file to manage transactions yourself';

export function transactionShape(statements: readonly Statement[]): TransactionShape {
  const control = findTransactionControl(statements);
  const [open, close] = control;
  // One BEGIN as the first statement and one COMMIT as the last: golang-migrate users' wrapper.
  const wrapped = control.length === 2 && open !== undefined && close !== undefined && statements.length >= 2 &&
    open.offset === statements[0]!.offset && close.offset === statements[statements.length - 1]!.offset &&
    isOpening(open) && (close.command === 'COMMIT' || close.command === 'END');
  const problems: StatementProblem[] = [];
  if (!wrapped) {
    for (const statement of control) {
      problems.push({
        line: statement.line,
        message: `top-level ${statement.command} would interfere with the transaction berth runs each migration in; ` +
          `remove the ${statement.command}, or ${NO_TRANSACTION}`,
      });
    }
  } else if (hasModes(open)) {
    problems.push({
      line: open.line,
      message: `${describe(open)} (line ${open.line}) sets transaction modes, which berth's own BEGIN would drop; ` +
        `remove them, or ${NO_TRANSACTION}`,
    });
  } else if (!isPlainClose(close)) {
    problems.push({
      line: close.line,
      message: `the file wraps itself in ${open.command} (line ${open.line}) ... ${describe(close)} (line ${close.line}); ` +
        `only a plain COMMIT or END can close it. Write COMMIT, or ${NO_TRANSACTION}`,
    });
  }
  if (problems.length > 0) return { statements, problems };

  const body = wrapped ? statements.slice(1, -1) : statements;
  const outside = body.flatMap((statement) => {
    const command = needsNoTransaction(statement.sql);
    return command === undefined ? [] : [{ statement, command }];
  });
  if (!wrapped && body.length === 1 && outside.length === 1) return { statements: body, outsideTransaction: outside[0]!.command, problems };
  for (const { statement, command } of outside) {
    problems.push({
      line: statement.line,
      message: `${command} cannot run inside a transaction block, and ${wrapped ? 'this file wraps it in one' : 'this file has other statements, which berth runs in one transaction'}: ` +
        'put it in a migration file of its own (berth runs such a file outside a transaction by itself), ' +
        'or add "-- berth:no-transaction" at the top of the file to run each statement on its own',
    });
  }
  return { statements: body, problems };
}

export function findTransactionControl(statements: readonly Statement[]): TransactionControlStatement[] {
  const found: TransactionControlStatement[] = [];
  for (const statement of statements) {
    const command = transactionCommand(topLevelWords(statement.sql, 3));
    if (command !== undefined) found.push({ ...statement, command });
  }
  return found;
}

/**
 * The command, when `sql` is a statement PostgreSQL refuses to run inside a transaction block
 * (SQLSTATE 25001), or undefined. Only statements that always need it count: `ALTER TYPE ... ADD
 * VALUE` runs in a transaction since PostgreSQL 12, `CLUSTER <table>` always did.
 */
export function needsNoTransaction(sql: string): string | undefined {
  const words = topLevelWords(sql, 12);
  const [w0, w1, w2, w3] = words;
  switch (w0) {
    case 'create':
      if (w1 === 'index' && w2 === 'concurrently') return 'CREATE INDEX CONCURRENTLY';
      if (w1 === 'unique' && w2 === 'index' && w3 === 'concurrently') return 'CREATE UNIQUE INDEX CONCURRENTLY';
      if (w1 === 'database') return 'CREATE DATABASE';
      if (w1 === 'tablespace') return 'CREATE TABLESPACE';
      // It creates its replication slot (and so refuses a transaction block) unless told not to.
      if (w1 === 'subscription' && !/\b(create_slot|connect)\s*=\s*false\b/i.test(sql)) return 'CREATE SUBSCRIPTION';
      return undefined;
    case 'drop':
      if (w1 === 'index' && w2 === 'concurrently') return 'DROP INDEX CONCURRENTLY';
      if (w1 === 'database') return 'DROP DATABASE';
      if (w1 === 'tablespace') return 'DROP TABLESPACE';
      // With a replication slot, which cannot be seen from here.
      if (w1 === 'subscription') return 'DROP SUBSCRIPTION';
      return undefined;
    case 'reindex': {
      // REINDEX [ ( options ) ] { INDEX | TABLE | SCHEMA | DATABASE | SYSTEM } [ CONCURRENTLY ] name
      if (words.includes('concurrently')) return 'REINDEX CONCURRENTLY';
      const target = words.find((w) => w !== 'reindex');
      return target === 'schema' || target === 'database' || target === 'system' ? `REINDEX ${target.toUpperCase()}` : undefined;
    }
    case 'vacuum':
      return 'VACUUM';
    case 'cluster':
      // Without a table, CLUSTER re-clusters every table, one transaction each.
      return w1 === undefined || (w1 === 'verbose' && w2 === undefined) ? 'CLUSTER' : undefined;
    case 'alter':
      if (w1 === 'system') return 'ALTER SYSTEM';
      if (w1 === 'database' && words.includes('set') && words[words.indexOf('set') + 1] === 'tablespace') return 'ALTER DATABASE ... SET TABLESPACE';
      if (w1 === 'table' && words.includes('detach') && words.includes('concurrently')) return 'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY';
      return undefined;
    default:
      return undefined;
  }
}

/**
 * `DISCARD ALL` ends every session-level state, berth's advisory lock included (and refuses to
 * run in a transaction block anyway): the command, or undefined.
 */
export function releasesSessionLock(sql: string): string | undefined {
  const [w0, w1] = topLevelWords(sql, 2);
  return w0 === 'discard' && w1 === 'all' ? 'DISCARD ALL' : undefined;
}

function isOpening(statement: TransactionControlStatement): boolean {
  return statement.command === 'BEGIN' || statement.command === 'START TRANSACTION';
}

/** `COMMIT`, `END`, with the optional noise words; not `COMMIT AND CHAIN`. */
function isPlainClose(statement: TransactionControlStatement): boolean {
  const rest = topLevelWords(statement.sql, 5).slice(1).filter((w) => w !== 'work' && w !== 'transaction');
  return rest.length === 0 || (rest.length === 3 && rest.join(' ') === 'and no chain');
}

function describe(statement: TransactionControlStatement): string {
  return topLevelWords(statement.sql, 5).join(' ').toUpperCase();
}

/** `BEGIN ISOLATION LEVEL ...`, `START TRANSACTION READ ONLY`: modes berth's own BEGIN would drop. */
function hasModes(statement: TransactionControlStatement): boolean {
  const words = topLevelWords(statement.sql, 4);
  const rest = statement.command === 'BEGIN' ? words.slice(1) : words.slice(2);
  return rest.some((w) => w !== 'work' && w !== 'transaction');
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

/**
 * Lower-cased keywords and unquoted names of a statement, outside parentheses, skipping
 * whitespace and comments; a quoted identifier or a string counts as one word (`"x"`), and the
 * scan ends at anything else. Enough to read the first words of DDL.
 */
export function topLevelWords(sql: string, max: number): string[] {
  const words: string[] = [];
  let depth = 0;
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
    } else if (ch === '(') {
      depth++;
      i++;
    } else if (ch === ')') {
      depth = Math.max(0, depth - 1);
      i++;
    } else if (ch === '"' || ch === "'") {
      const close = sql.indexOf(ch, i + 1);
      if (depth === 0) words.push(ch);
      i = close < 0 ? sql.length : close + 1;
    } else if (depth > 0 && ch !== ';') {
      const word = WORD.exec(sql.slice(i, i + 64));
      i += word ? word[0].length : 1;
    } else {
      const word = WORD.exec(sql.slice(i, i + 64));
      if (word === null) {
        if (ch === '.' || ch === ',') {
          i++;
          continue;
        }
        break;
      }
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
