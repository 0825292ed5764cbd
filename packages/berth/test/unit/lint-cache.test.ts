/**
 * The lint cache (src/lint/cache.ts): a second run over unchanged files parses nothing and gives
 * the same report; a change re-lints from the changed file on (its findings can depend on the
 * files before it), an appended file is the only one parsed; a cache that cannot be written is
 * no error.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { collectTargets, lintCacheDir, lintTargets, loadParser, type SqlParser } from '../../src/lint/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const temp = (prefix: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

let real: SqlParser;
beforeAll(async () => {
  real = await loadParser();
});

/** The real parser, recording the files it is asked to parse (several files go to one call, joined by a separator). */
function counting(): { parser: SqlParser; parsed: string[] } {
  const parsed: string[] = [];
  return { parsed, parser: { version: real.version, parse: (sql) => (parsed.push(...sql.split('\n;\n')), real.parse(sql)), scan: (sql) => real.scan(sql) } };
}

function migrations(count: number): string {
  const dir = temp('berth-lint-cache-m-');
  for (let i = 1; i <= count; i++) {
    const text = i % 3 === 0
      ? `-- berth:lock-timeout 5s\n-- berth:allow drop-column contract step\nALTER TABLE t${i - 2} DROP COLUMN c;\nALTER TABLE t${i - 2} ADD CONSTRAINT t${i - 2}_pk PRIMARY KEY USING INDEX t${i - 2}_id_idx;\n`
      : i % 3 === 1 ? `CREATE TABLE t${i} (id bigint NOT NULL, c text);\n` : `CREATE UNIQUE INDEX CONCURRENTLY t${i - 1}_id_idx ON t${i - 1} (id);\n`;
    writeFileSync(path.join(dir, `${String(i).padStart(4, '0')}_m.up.sql`), text);
  }
  return dir;
}

async function run(dir: string, cacheDir: string | undefined, parser: SqlParser) {
  const { targets } = await collectTargets([dir], dir);
  return lintTargets(targets, { parser, ...(cacheDir ? { cacheDir } : {}) });
}

describe('the lint cache', () => {
  it('a second run over unchanged files parses nothing and reports the same', async () => {
    const dir = migrations(250);
    const cacheDir = temp('berth-lint-cache-');
    const fresh = await run(dir, undefined, real);
    const first = counting();
    expect(await run(dir, cacheDir, first.parser)).toEqual(fresh);
    expect(first.parsed).toHaveLength(250);
    const second = counting();
    expect(await run(dir, cacheDir, second.parser)).toEqual(fresh);
    expect(second.parsed).toHaveLength(0);
    // The reports depend on the catalog across files: the later PRIMARY KEY USING INDEX findings
    // know the earlier tables' columns.
    expect(fresh.findings.filter((f) => f.rule === 'primary-key-nullable')).toEqual([]);
    expect(fresh.suppressed.length).toBeGreaterThan(0);
  });

  it('a changed file is linted again with every file after it, from the last catalog snapshot before it', async () => {
    const dir = migrations(250);
    const cacheDir = temp('berth-lint-cache-');
    await run(dir, cacheDir, real);
    // File 130 now creates its table with a nullable id: file 132's PRIMARY KEY USING INDEX becomes unsafe.
    writeFileSync(path.join(dir, '0130_m.up.sql'), 'CREATE TABLE t130 (id bigint, c text);\n');
    const again = counting();
    const report = await run(dir, cacheDir, again.parser);
    expect(report).toEqual(await run(dir, undefined, real));
    expect(report.findings.map((f) => `${path.basename(f.file)} ${f.rule}`)).toContain('0132_m.up.sql primary-key-nullable');
    // Resumed from the snapshot after file 100: files 101 to 250 parsed again.
    expect(again.parsed).toHaveLength(150);
  });

  it('an appended file is the only one parsed', async () => {
    const dir = migrations(40);
    const cacheDir = temp('berth-lint-cache-');
    await run(dir, cacheDir, real);
    writeFileSync(path.join(dir, '0041_new.up.sql'), '-- berth:lock-timeout 5s\nALTER TABLE t40 ALTER COLUMN id SET NOT NULL;\n');
    const again = counting();
    const report = await run(dir, cacheDir, again.parser);
    expect(again.parsed).toHaveLength(1);
    expect(report).toEqual(await run(dir, undefined, real));
  });

  it('a cache folder that cannot be written is no error', async () => {
    const dir = migrations(5);
    const parent = temp('berth-lint-cache-ro-');
    mkdirSync(path.join(parent, 'cache'));
    chmodSync(path.join(parent, 'cache'), 0o500);
    const readOnly = path.join(parent, 'cache', 'lint');
    expect(await run(dir, readOnly, real)).toEqual(await run(dir, undefined, real));
    chmodSync(path.join(parent, 'cache'), 0o700);
  });

  it('keeps at most 64 cache files, dropping the least recently written', async () => {
    const cacheDir = temp('berth-lint-cache-many-');
    for (let i = 0; i < 66; i++) await run(migrations(1), cacheDir, real);
    expect(readdirSync(cacheDir).filter((n) => n.endsWith('.json'))).toHaveLength(64);
  });

  it('lives under the user\'s cache folder, or where BERTH_LINT_CACHE says, or nowhere', () => {
    expect(lintCacheDir({ BERTH_LINT_CACHE: '/tmp/x' })).toBe('/tmp/x');
    expect(lintCacheDir({ BERTH_LINT_CACHE: 'off', HOME: '/home/u' })).toBeUndefined();
    expect(lintCacheDir({ XDG_CACHE_HOME: '/c', HOME: '/home/u' })).toBe(path.join('/c', 'berth', 'lint'));
    expect(lintCacheDir({})).toBeUndefined();
    if (process.platform === 'linux') expect(lintCacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/berth/lint');
  });
});
