/**
 * docs/lint-rules.md documents every rule, and its examples are true: each rule's unsafe block
 * triggers that rule, and its safe blocks, linted in order as consecutive migrations of one
 * directory, produce no finding at all. A block opened with ```sql pg=11 is linted for that
 * server version.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { Catalog, lintSql, loadParser, parsePgVersion, RULES, type SqlParser } from '../../src/lint/index.js';

const DOC = readFileSync(fileURLToPath(new URL('../../../../docs/lint-rules.md', import.meta.url)), 'utf8');

interface Block {
  readonly sql: string;
  readonly pg?: string;
  readonly schemaPerTarget?: boolean;
}

interface Section {
  readonly rule: string;
  readonly body: string;
  readonly unsafe: Block[];
  readonly safe: Block[];
}

function sections(): Section[] {
  const out: Section[] = [];
  const parts = DOC.split(/^### /m).slice(1);
  for (const part of parts) {
    const rule = /^`([a-z-]+)`/.exec(part)?.[1];
    if (rule === undefined) continue;
    const body = part.split(/^## /m)[0] ?? '';
    const safeAt = body.search(/^Safe\b/m);
    const blocks = [...body.matchAll(/```sql(?: pg=(\S+))?( schema-per-target)?\n([\s\S]*?)```/g)].map((m) => ({
      at: m.index ?? 0, block: { sql: m[3] ?? '', ...(m[1] ? { pg: m[1] } : {}), ...(m[2] ? { schemaPerTarget: true } : {}) },
    }));
    out.push({
      rule,
      body,
      unsafe: blocks.filter((b) => safeAt < 0 || b.at < safeAt).map((b) => b.block),
      safe: blocks.filter((b) => safeAt >= 0 && b.at > safeAt).map((b) => b.block),
    });
  }
  return out;
}

let parser: SqlParser;
beforeAll(async () => {
  parser = await loadParser();
});

const lint = (block: Block, catalog?: Catalog) =>
  lintSql('example.sql', block.sql, parser, {
    ...(block.pg ? { pg: parsePgVersion('pg', block.pg) } : {}), ...(catalog ? { catalog } : {}), ...(block.schemaPerTarget ? { schemaPerTarget: true } : {}),
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

  it.each(sections().map((s) => [s.rule, s] as const))('%s: the unsafe examples trigger it, the safe migrations are clean', (_, s) => {
    expect(s.unsafe.length, 'an unsafe example').toBeGreaterThan(0);
    expect(s.safe.length, 'a safe example').toBeGreaterThan(0);
    for (const block of s.unsafe) {
      expect(lint(block).findings.map((f) => f.rule), block.sql).toContain(s.rule);
    }
    const catalog = new Catalog();
    for (const block of s.safe) {
      expect(lint(block, catalog).findings.map((f) => `${f.rule}: ${f.message}`), block.sql).toEqual([]);
    }
  });

  it('gives every rule its lock and what breaks for the release still running', () => {
    for (const s of documented) {
      expect(s.body, s.rule).toMatch(/\*\*Lock:\*\*\s+\S/);
      expect(s.body, s.rule).toMatch(/\*\*Old release:\*\*\s+\S/);
    }
  });

  it('states each rule with its default severity in the heading', () => {
    for (const rule of RULES.filter((r) => !r.meta)) {
      expect(DOC, rule.id).toMatch(new RegExp(`^### \`${rule.id}\` \\(${rule.severity}[;)]`, 'm'));
    }
  });
});
