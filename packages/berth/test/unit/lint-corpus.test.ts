/**
 * The lint corpus (test/fixtures/lint, see its README): every file's findings must be exactly
 * the ones its `-- expect:` comments list (rule, line, column, severity), and every rule must be
 * caught somewhere in `unsafe/`. No database: the rules are pure over the parse result.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { lintSql, loadParser, RULES, type SqlParser } from '../../src/lint/index.js';
import { parsePgVersion, type PgVersion } from '../../src/lint/version.js';

const CORPUS = fileURLToPath(new URL('../fixtures/lint/', import.meta.url));
const EXPECT = /^--\s*expect(-suppressed)?:\s*([a-z-]+)\s+(\d+):(\d+)(?:\s+(error|warning))?\s*$/;
const PG_VERSION = /^--\s*expect-pg-version:\s*(\S+)\s*$/;
const SCHEMA_PER_TARGET = /^--\s*expect-schema-per-target\s*$/;

interface Case {
  readonly name: string;
  readonly text: string;
  readonly findings: string[];
  readonly suppressed: string[];
  /** `-- expect-pg-version: 11`: lint as for that server. */
  readonly pg?: PgVersion;
  /** `-- expect-schema-per-target`: lint as a `--schema-per-target` fleet's file. */
  readonly schemaPerTarget?: boolean;
}

function loadCases(dir: 'safe' | 'unsafe'): Case[] {
  return readdirSync(path.join(CORPUS, dir)).filter((f) => f.endsWith('.sql')).sort().map((f) => {
    const text = readFileSync(path.join(CORPUS, dir, f), 'utf8');
    const findings: string[] = [];
    const suppressed: string[] = [];
    let pg: PgVersion | undefined;
    let schemaPerTarget = false;
    for (const line of text.split('\n')) {
      if (SCHEMA_PER_TARGET.test(line.trim())) {
        schemaPerTarget = true;
        continue;
      }
      const version = PG_VERSION.exec(line.trim());
      if (version !== null) {
        pg = parsePgVersion('expect-pg-version', version[1]);
        continue;
      }
      const m = EXPECT.exec(line.trim());
      if (m === null) {
        if (/^--\s*expect/.test(line)) throw new Error(`${dir}/${f}: malformed expectation "${line}"`);
        continue;
      }
      const rule = m[2]!;
      const severity = m[5] ?? RULES.find((r) => r.id === rule)?.severity ?? '?';
      (m[1] ? suppressed : findings).push(`${rule} ${m[3]}:${m[4]}${m[1] ? '' : ` ${severity}`}`);
    }
    return { name: `${dir}/${f}`, text, findings: findings.sort(), suppressed: suppressed.sort(), ...(pg ? { pg } : {}), ...(schemaPerTarget ? { schemaPerTarget } : {}) };
  });
}

const unsafe = loadCases('unsafe');
const safe = loadCases('safe');
let parser: SqlParser;

beforeAll(async () => {
  parser = await loadParser();
});

describe.each([...unsafe, ...safe])('$name', (c) => {
  it('has exactly the expected findings', () => {
    const report = lintSql(c.name, c.text, parser, { ...(c.pg ? { pg: c.pg } : {}), ...(c.schemaPerTarget ? { schemaPerTarget: true } : {}) });
    expect(report.findings.map((f) => `${f.rule} ${f.line}:${f.column} ${f.severity}`).sort()).toEqual(c.findings);
    expect(report.suppressed.map((f) => `${f.rule} ${f.line}:${f.column}`).sort()).toEqual(c.suppressed);
    for (const f of report.findings) {
      expect(f.message.length, f.rule).toBeGreaterThan(10);
      expect(f.why.length, f.rule).toBeGreaterThan(10);
      expect(f.fix.length, f.rule).toBeGreaterThan(10);
    }
  });
});

describe('the corpus', () => {
  it('catches every rule in unsafe/ (invalid-file, which needs bytes that are not UTF-8, is in lint-cli.test.ts)', () => {
    const caught = new Set(unsafe.flatMap((c) => c.findings.map((f) => f.split(' ')[0])));
    expect(RULES.map((r) => r.id).filter((id) => !caught.has(id) && id !== 'invalid-file')).toEqual([]);
  });

  it('has more safe statements than unsafe files', () => {
    const statements = safe.reduce((n, c) => n + lintSql(c.name, c.text, parser).statements, 0);
    expect(statements).toBeGreaterThan(unsafe.length * 2);
  });
});
