/**
 * Starts the CLI bundle (dist/cli.cjs) from the V8 code cache the build trained
 * (dist/cli.cjs.cache): V8 then skips parsing and compiling what a run needs of berth and pg,
 * about 20 ms of a no-op `migrate` (bench/). The cache only fits the Node.js build and V8 flags
 * that made it; V8 rejects any other, and the bundle then compiles as usual, only slower.
 *
 * bin/ is CommonJS (bin/package.json): for an ES module entry point Node would first set up its
 * ES module loader, 3 to 10 ms of every start (bench/: `--version` and the no-op `migrate`).
 */
'use strict';
const { readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const BUNDLE = join(__dirname, '..', 'dist', 'cli.cjs');
const CODE_CACHE = `${BUNDLE}.cache`;

/**
 * Returns the CLI's `runCli`, how the cache fared (`accepted`, `rejected` or `absent`), and
 * `createCachedData` for the build's training run.
 */
function loadCli() {
  let cachedData;
  try {
    cachedData = readFileSync(CODE_CACHE);
  } catch {
    // No cache (a build that skipped training): compile as usual.
  }
  // The bundle is CommonJS's wrapper function, ASCII only (build.mjs): V8 keeps this one string.
  const script = new Script(readFileSync(BUNDLE, 'latin1'), { filename: BUNDLE, ...(cachedData ? { cachedData } : {}) });
  // A classic script has no module loader behind import(): lend this file's for the user's modules
  // (src/native-import.ts).
  globalThis[Symbol.for('berth.nativeImport')] = (url) => import(url);
  const bundle = { exports: {} };
  script.runInThisContext()(bundle.exports, require('node:module').createRequire(BUNDLE), bundle, BUNDLE, dirname(BUNDLE));
  return {
    runCli: bundle.exports.runCli,
    cache: cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted',
    createCachedData: () => script.createCachedData(),
  };
}

module.exports = { CODE_CACHE, loadCli };
