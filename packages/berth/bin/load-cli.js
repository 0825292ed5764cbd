/**
 * Starts the CLI bundle (dist/cli.cjs) from the V8 code cache the build trained
 * (dist/cli.cjs.cache): V8 then skips parsing and compiling what a run needs of berth and pg,
 * about 20 ms of a no-op `migrate` (bench/). The cache only fits the Node.js build and V8 flags
 * that made it; V8 rejects any other, and the bundle then compiles as usual, only slower.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const BUNDLE = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
export const CODE_CACHE = `${BUNDLE}.cache`;

/**
 * Returns the CLI's `runCli`, how the cache fared (`accepted`, `rejected` or `absent`), and
 * `createCachedData` for the build's training run.
 */
export function loadCli() {
  let cachedData;
  try {
    cachedData = readFileSync(CODE_CACHE);
  } catch {
    // No cache (a build that skipped training): compile as usual.
  }
  // The bundle is CommonJS's wrapper function, ASCII only (build.mjs): V8 keeps this one string.
  const script = new Script(readFileSync(BUNDLE, 'latin1'), { filename: BUNDLE, ...(cachedData ? { cachedData } : {}) });
  // A classic script has no module loader behind import(): lend ours for the user's modules
  // (src/source/native-import.ts).
  globalThis[Symbol.for('berth.nativeImport')] = (url) => import(url);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  return {
    runCli: module.exports.runCli,
    cache: cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted',
    createCachedData: () => script.createCachedData(),
  };
}
