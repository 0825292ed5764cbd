import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { jsonLines, makeTempDir, runBerth, runNode, writeMigrations } from '../helpers/cli.js';

const PACKAGE = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = path.join(PACKAGE, 'dist/cli.cjs');

/** A copy of bin/ and the CLI bundle, to try the loader with another cache next to it. */
function copyOfCli(): string {
  const root = makeTempDir('berth-cli-copy-');
  cpSync(path.join(PACKAGE, 'bin'), path.join(root, 'bin'), { recursive: true });
  mkdirSync(path.join(root, 'dist'));
  copyFileSync(BUNDLE, path.join(root, 'dist/cli.cjs'));
  return root;
}

const cacheState = (root: string) =>
  runNode(['--input-type=module', '-e', `import { loadCli } from ${JSON.stringify(path.join(root, 'bin/load-cli.js'))}; console.log(loadCli().cache);`]);

describe('the CLI code cache', () => {
  it('is written by the build and accepted by the Node.js that built it', async () => {
    expect(existsSync(`${BUNDLE}.cache`)).toBe(true);
    const state = await cacheState(PACKAGE);
    expect(state.stderr).toBe('');
    expect(state.stdout.trim()).toBe('accepted');
  });

  it('is optional: a missing or foreign cache only means compiling as usual', async () => {
    const root = copyOfCli();
    expect((await cacheState(root)).stdout.trim()).toBe('absent');
    const absent = await runNode([path.join(root, 'bin/berth.js'), '--version']);
    expect(absent.code, absent.stderr).toBe(0);
    expect(absent.stdout).toMatch(/^\d+\.\d+\.\d+/);

    writeFileSync(path.join(root, 'dist/cli.cjs.cache'), Buffer.from('not a V8 code cache'));
    expect((await cacheState(root)).stdout.trim()).toBe('rejected');
    const rejected = await runNode([path.join(root, 'bin/berth.js'), '--version']);
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(rejected.stdout).toBe(absent.stdout);
  });
});

describe('the CLI process', () => {
  it('is an ASCII-only script: V8 keeps it at one byte per character', () => {
    const bundle = readFileSync(BUNDLE);
    const offset = bundle.findIndex((byte) => byte > 0x7f);
    expect(offset, `non-ASCII byte at ${offset}: ${bundle.subarray(Math.max(0, offset - 40), offset + 10).toString()}`).toBe(-1);
  });

  it('sets only V8 flags this Node.js knows (a command that loads WebAssembly sets them all)', async () => {
    const dir = writeMigrations({ '0001_t.up.sql': 'CREATE TABLE t (id int);\n' });
    const run = await runBerth(['migrate', '-d', 'pglite://memory', '--dir', dir, '--log-format', 'json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/unrecognized flag/i);
    expect(jsonLines(run.stderr).at(-1)).toMatchObject({ event: 'run.summary', ok: true, applied: 1 });
  });
});
