/**
 * The recall corpus (bench/lint-recall/corpus.sql, written from squawk's, strong_migrations',
 * eugene's and Atlas's docs): berth flags every unsafe case and no safe one, counted as
 * bench/lint-recall.mjs counts them (lock timeout advice only on the cases about it).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { Catalog, lintSql, loadParser, parsePgVersion, type SqlParser } from '../../src/lint/index.js';
// @ts-expect-error -- plain JavaScript of the bench workspace, without types
import { counts, readCorpus } from '../../../../bench/lint-recall.mjs';

interface Case {
  readonly name: string;
  readonly kind: 'unsafe' | 'safe';
  readonly migrations: string[];
  readonly pg?: string;
}

const cases = (readCorpus as (text: string) => Case[])(readFileSync(fileURLToPath(new URL('../../../../bench/lint-recall/corpus.sql', import.meta.url)), 'utf8'));
let parser: SqlParser;
beforeAll(async () => {
  parser = await loadParser();
});

/** The rules berth reports on a case's migrations, linted in order as one directory. */
function rules(c: Case): string[] {
  const catalog = new Catalog();
  const pg = c.pg ? { pg: parsePgVersion('pg-version', c.pg) } : {};
  const found = c.migrations.flatMap((text, i) => lintSql(`${i + 1}_m.up.sql`, text, parser, { catalog, ...pg }).findings.map((f) => f.rule as string));
  return (counts as (c: Case, rules: string[]) => string[])(c, found);
}

describe('bench/lint-recall/corpus.sql', () => {
  it('has unsafe and safe cases from each peer', () => {
    for (const peer of ['squawk', 'strong_migrations', 'eugene', 'atlas']) {
      expect(cases.filter((c) => c.name.startsWith(`${peer}/`) && c.kind === 'unsafe').length, peer).toBeGreaterThan(5);
      expect(cases.filter((c) => c.name.startsWith(`${peer}/`) && c.kind === 'safe').length, peer).toBeGreaterThan(3);
    }
  });

  it.each(cases.filter((c) => c.kind === 'unsafe').map((c) => [c.name, c] as const))('unsafe %s is flagged', (_, c) => {
    expect(rules(c)).not.toEqual([]);
  });

  it.each(cases.filter((c) => c.kind === 'safe').map((c) => [c.name, c] as const))('safe %s is clean', (_, c) => {
    expect(rules(c)).toEqual([]);
  });
});
