/**
 * docs/lint-rules.md documents every rule, and its examples are true: each rule's unsafe block
 * triggers that rule, and each safe block lints clean.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { lintSql, loadParser, RULES, type SqlParser } from '../../src/lint/index.js';

const DOC = readFileSync(fileURLToPath(new URL('../../../../docs/lint-rules.md', import.meta.url)), 'utf8');

interface Section {
  readonly rule: string;
  readonly unsafe: string[];
  readonly safe: string[];
}

function sections(): Section[] {
  const out: Section[] = [];
  const parts = DOC.split(/^### /m).slice(1);
  for (const part of parts) {
    const rule = /^`([a-z-]+)`/.exec(part)?.[1];
    if (rule === undefined) continue;
    const body = part.split(/^## /m)[0] ?? '';
    const safeAt = body.search(/^Safe\b/m);
    const blocks = [...body.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => ({ at: m.index ?? 0, sql: m[1] ?? '' }));
    out.push({
      rule,
      unsafe: blocks.filter((b) => safeAt < 0 || b.at < safeAt).map((b) => b.sql),
      safe: blocks.filter((b) => safeAt >= 0 && b.at > safeAt).map((b) => b.sql),
    });
  }
  return out;
}

let parser: SqlParser;
beforeAll(async () => {
  parser = await loadParser();
});

describe('docs/lint-rules.md', () => {
  const documented = sections();

  it('documents every rule: a section with examples per rule, the file-level ones in a table', () => {
    for (const rule of RULES) {
      if (rule.meta) expect(DOC, rule.id).toMatch(new RegExp(`^\\| \`${rule.id}\` \\| ${rule.severity} \\|`, 'm'));
      else expect(documented.map((s) => s.rule), rule.id).toContain(rule.id);
    }
    expect(documented.map((s) => s.rule).filter((id) => !RULES.some((r) => r.id === id))).toEqual([]);
  });

  it.each(sections().map((s) => [s.rule, s] as const))('%s: the unsafe example triggers it, the safe one is clean', (_, s) => {
    expect(s.unsafe.length, 'an unsafe example').toBeGreaterThan(0);
    expect(s.safe.length, 'a safe example').toBeGreaterThan(0);
    for (const sql of s.unsafe) {
      expect(lintSql('unsafe.sql', sql, parser).findings.map((f) => f.rule), sql).toContain(s.rule);
    }
    for (const sql of s.safe) {
      expect(lintSql('safe.sql', sql, parser).findings.map((f) => `${f.rule}: ${f.message}`), sql).toEqual([]);
    }
  });

  it('states each rule with its default severity in the heading', () => {
    for (const rule of RULES.filter((r) => !r.meta)) {
      expect(DOC, rule.id).toMatch(new RegExp(`^### \`${rule.id}\` \\(${rule.severity}[;)]`, 'm'));
    }
  });
});
