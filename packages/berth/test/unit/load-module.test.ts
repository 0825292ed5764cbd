import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ValidationError } from '../../src/errors.js';
import { loadCodeMigration, loadModule } from '../../src/load-module.js';
import { makeTempDir } from '../helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/code-migrations/', import.meta.url));
const fixture = (name: string) => path.join(FIXTURES, name);

/** A fake `ctx` that records what the migration did. */
function recordingCtx() {
  const sql: unknown[][] = [];
  const logs: string[] = [];
  return {
    sql,
    logs,
    ctx: {
      sql: async (text: string, ...params: unknown[]) => {
        sql.push([text, ...params]);
        return [{ n: 1 }];
      },
      log: (message: string) => void logs.push(message),
    },
  };
}

async function loadError(file: string, load: (f: string) => Promise<unknown> = loadCodeMigration): Promise<ValidationError> {
  const error = await load(file).then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).code).toBe('ERR_SOURCE_INVALID');
  return error as ValidationError;
}

// jiti's disk cache would go to $TMPDIR/jiti: point TMPDIR at an empty directory before the first
// TypeScript file is loaded (this module's jiti instance is created then) and check it stays empty.
const previousTmp = process.env.TMPDIR;
let watchedTmp = '';
let freshDir = '';
beforeAll(() => {
  watchedTmp = makeTempDir('berth-jiti-tmp-');
  freshDir = makeTempDir('berth-fresh-ts-');
  process.env.TMPDIR = watchedTmp;
});
afterAll(() => {
  if (previousTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmp;
});

describe('loadCodeMigration', () => {
  it('loads a typed TypeScript migration (import type, interfaces, generics, enum, top-level await) without a build step', async () => {
    const migration = await loadCodeMigration(fixture('1_typed.ts'));
    const { ctx, sql, logs } = recordingCtx();
    await migration.up(ctx);
    await migration.down?.(ctx);
    expect(sql).toEqual([['CREATE TABLE accounts (id bigint, email text)'], ['DROP TABLE accounts']]);
    expect(logs).toEqual(['up: 1', 'down']);
  });

  it('writes nothing to disk while transforming TypeScript (no jiti cache in TMPDIR)', async () => {
    const file = path.join(freshDir, '1_fresh.ts');
    writeFileSync(file, `const n: number = ${Date.now()};\nexport const up = (): number => n;\n`);
    await loadCodeMigration(file);
    expect(readdirSync(watchedTmp)).toEqual([]);
    expect(readdirSync(freshDir)).toEqual(['1_fresh.ts']);
  });

  it.each([
    ['2_default-object.ts', 'a default export object { up }', false],
    ['3_esm.mjs', '.mjs named exports', true],
    ['4_plain.js', '.js (ESM package) named exports', false],
    ['5_commonjs.cjs', 'CommonJS module.exports = { up, down }', true],
  ])('loads %s (%s)', async (name, _what, hasDown) => {
    const migration = await loadCodeMigration(fixture(name));
    const { ctx, sql } = recordingCtx();
    await migration.up(ctx);
    expect(sql.length).toBe(1);
    expect(typeof migration.down === 'function').toBe(hasDown);
  });

  it('refuses a file without up(), naming the file and what to export', async () => {
    const error = await loadError(fixture('no-up.mjs'));
    expect(error.message).toContain(fixture('no-up.mjs'));
    expect(error.message).toMatch(/exports no up\(\); export a function up\(ctx\)/);
    expect(error.details).toMatchObject({ file: fixture('no-up.mjs') });
  });

  it('refuses an up or down that is not a function', async () => {
    expect((await loadError(fixture('up-not-function.js'))).message).toMatch(/up-not-function\.js: the code migration's up is a string, not a function/);
    expect((await loadError(fixture('down-not-function.ts'))).message).toMatch(/down-not-function\.ts: the code migration's down is an object, not a function/);
  });
});

describe('loadModule errors', () => {
  it('a TypeScript syntax error names the file, line and column', async () => {
    const dir = makeTempDir('berth-bad-ts-');
    const file = path.join(dir, '7_bad.ts');
    writeFileSync(file, 'interface A { a: string }\nexport async function up(ctx: A) {\n  const x = ;\n}\n');
    const error = await loadError(file, loadModule);
    expect(error.message).toBe(`cannot load ${file}:3:12: syntax error: Unexpected token`);
    expect(error.details).toEqual({ file, line: 3, column: 12 });
  });

  it('a JavaScript syntax error names the file and the line V8 keeps to itself', async () => {
    const dir = makeTempDir('berth-bad-js-');
    const file = path.join(dir, '8_bad.mjs');
    writeFileSync(file, 'export async function up(ctx) {\n  await ctx.sql("SELECT 1")\n  const = 2;\n}\n');
    const error = await loadError(file, loadModule);
    expect(error.message).toMatch(new RegExp(`^cannot load ${escape(file)}:3:\\d+: syntax error: `));
    expect(error.details).toMatchObject({ file, line: 3 });
  });

  it('an error thrown while the module body runs names the file, the line and the message', async () => {
    const mjs = await loadError(fixture('throws.mjs'), loadModule);
    expect(mjs.message).toBe(`cannot load ${fixture('throws.mjs')}:3:19: loading the file threw Error: DATABASE_SEED is not set`);
    const ts = await loadError(fixture('throws.ts'), loadModule);
    // Line 6 of the TypeScript source: types are stripped without shifting lines.
    expect(ts.message).toMatch(new RegExp(`^cannot load ${escape(fixture('throws.ts'))}:6:\\d+: loading the file threw Error: seed is missing$`));
  });

  it('an unresolvable import says so', async () => {
    const error = await loadError(fixture('missing-import.mjs'), loadModule);
    expect(error.message).toMatch(/missing-import\.mjs: an import cannot be resolved: .*berth-test-package-that-does-not-exist.*; install the package or fix the path/);
  });

  it('a missing file is an error naming it', async () => {
    const file = fixture('does-not-exist.ts');
    expect((await loadError(file, loadModule)).message).toContain(file);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
