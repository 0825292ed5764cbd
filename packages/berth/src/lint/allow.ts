/**
 * `-- berth:allow <rule-id>[,<rule-id>...] <reason>`: a reviewed exception, written where the
 * next reader sees it.
 *
 * - In the file's header (before the first statement, where the other directives live) it
 *   covers the whole file.
 * - Anywhere else it covers the statement it sits in or, if it sits between statements, the next
 *   statement below it.
 *
 * The source layer accepts the comment anywhere (source/directives.ts) so that `migrate` runs
 * such files; its contents are checked only here.
 */

import type { LineComment } from '../drivers/dialect.js';
import type { Statement } from '../source/types.js';

export interface AllowComment {
  /** Offset of the comment in the file text. */
  readonly offset: number;
  /** Rule ids as written (lower-cased). */
  readonly rules: readonly string[];
  /** Empty when missing. */
  readonly reason: string;
  /** `file`, or the offset of the statement covered, or `none` (after the last statement). */
  readonly scope: 'file' | { readonly statementOffset: number } | 'none';
}

const ALLOW = /^--\s*berth\s*:\s*allow(?:\s+(.*))?$/i;

export function findAllowComments(comments: readonly LineComment[], statements: readonly Statement[]): AllowComment[] {
  const out: AllowComment[] = [];
  const firstOffset = statements[0]?.offset ?? Infinity;
  for (const comment of comments) {
    const match = ALLOW.exec(comment.text.trimEnd());
    if (match === null) continue;
    const rest = (match[1] ?? '').trim();
    const space = rest.search(/\s/);
    const ids = space < 0 ? rest : rest.slice(0, space);
    const reason = space < 0 ? '' : rest.slice(space).trim();
    const rules = ids.split(',').map((id) => id.trim().toLowerCase()).filter((id) => id !== '');
    out.push({ offset: comment.offset, rules, reason, scope: scopeOf(comment.offset, firstOffset, statements) });
  }
  return out;
}

function scopeOf(offset: number, firstOffset: number, statements: readonly Statement[]): AllowComment['scope'] {
  if (offset < firstOffset) return 'file';
  for (const statement of statements) {
    if (offset < statement.offset) return { statementOffset: statement.offset };
    if (offset < statement.offset + statement.sql.length) return { statementOffset: statement.offset };
  }
  return 'none';
}
