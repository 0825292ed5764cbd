/**
 * docs/lint-comparison.md is true for berth and for squawk: each row's example, linted by berth,
 * reports exactly the rules of the berth column (missing-lock-timeout aside), and, where the
 * bench workspace installed squawk-cli, squawk reports exactly the rules of the squawk column.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { lintSql, loadParser, RULES, type SqlParser } from '../../src/lint/index.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DOC = readFileSync(path.join(ROOT, 'docs/lint-comparison.md'), 'utf8');
const SQUAWK = path.join(ROOT, 'node_modules', '@squawk-cli', `${process.platform}-${process.arch}`, 'bin', 'squawk');
const SQUAWK_EXCLUDED = ['require-lock-timeout', 'require-statement-timeout', 'prefer-robust-stmts'];

interface Row {
  readonly concern: string;
  readonly example: string;
  readonly berth: string[];
  readonly squawk: string[];
}

/** The rule names of a cell: `—` (with anything after it) is none; a name marked "(excluded above)" is not run. */
function names(cell: string): string[] {
  if (cell.startsWith('—')) return [];
  return [...cell.matchAll(/`([a-z-]+)`(\s*\(excluded above\))?/g)].filter((m) => m[2] === undefined).map((m) => m[1]!);
}

function rows(): Row[] {
  const lines = DOC.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| concern'));
  return lines.map((line) => {
    const cells = line.slice(2, -2).split(' | ');
    const example = /^`(.*)`$/.exec(cells[1] ?? '')?.[1];
    if (cells.length !== 6 || example === undefined) throw new Error(`malformed row: ${line}`);
    return { concern: cells[0]!, example, berth: names(cells[2]!), squawk: names(cells[3]!) };
  });
}

let parser: SqlParser;
beforeAll(async () => {
  parser = await loadParser();
});

describe('docs/lint-comparison.md', () => {
  const table = rows();

  it('has a row for every rule of berth that is about a statement', () => {
    const listed = new Set(table.flatMap((r) => r.berth));
    const fileRules = ['invalid-directive', 'invalid-file', 'allow-without-reason', 'allow-unknown-rule', 'allow-unused', 'concurrent-index-corruption', 'outside-tenant-schema'];
    expect(RULES.map((r) => r.id).filter((id) => !listed.has(id) && !fileRules.includes(id))).toEqual([]);
  });

  it.each(table.map((r) => [r.concern, r] as const))('berth: %s', (_, row) => {
    const found = new Set(lintSql('example.sql', row.example, parser).findings.map((f) => f.rule as string));
    if (!row.berth.includes('missing-lock-timeout')) found.delete('missing-lock-timeout');
    expect([...found].sort()).toEqual([...row.berth].sort());
  });

  it.skipIf(!existsSync(SQUAWK))('squawk: every row reports what its column says', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-lint-comparison-'));
    try {
      const files = table.map((row, i) => {
        const file = path.join(dir, `${String(i).padStart(2, '0')}.sql`);
        writeFileSync(file, `${row.example}\n`);
        return file;
      });
      let out: string;
      try {
        out = execFileSync(SQUAWK, ['--reporter', 'json', '--assume-in-transaction', `--exclude=${SQUAWK_EXCLUDED.join(',')}`, ...files], { encoding: 'utf8' });
      } catch (err) {
        // squawk exits 1 when it reports anything.
        out = (err as { stdout?: string }).stdout ?? '';
      }
      const reported = JSON.parse(out) as { file: string; rule_name: string }[];
      const byRow = table.map((row, i) => ({
        concern: row.concern,
        squawk: [...new Set(reported.filter((r) => path.basename(r.file) === path.basename(files[i]!)).map((r) => r.rule_name))].sort(),
      }));
      expect(byRow).toEqual(table.map((row) => ({ concern: row.concern, squawk: [...row.squawk].sort() })));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
