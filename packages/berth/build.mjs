// Bundles the library (ES modules, split into chunks loaded on demand) and the CLI (one script
// with a trained V8 code cache) into dist/ with esbuild. Type declarations come from tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true });

/**
 * pg asks "am I on Cloudflare Workers?" by constructing a `Response`, which on Node 20 loads the
 * whole undici fetch stack: about 20 ms of every start-up, for a runtime berth never runs on.
 */
const skipCloudflareProbe = {
  name: 'skip-cloudflare-probe',
  setup(b) {
    b.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = readFileSync(args.path, 'utf8');
      const patched = source.replace('function isCloudflareRuntime() {', 'function isCloudflareRuntime() {\n  return false;');
      if (patched === source) throw new Error('pg/lib/stream.js changed: review the skip-cloudflare-probe patch in build.mjs');
      return { contents: patched, loader: 'js' };
    });
  },
};

// PGlite ships WASM and data files next to its code, so it stays an installed dependency.
// pg-native is pg's optional native binding, which berth does not use.
// jiti (TypeScript migrations and config files) loads its Babel bundle with
// createRequire(import.meta.url)('../dist/babel.cjs'), a path esbuild cannot follow.
// libpg-query (berth lint's PostgreSQL parser) finds its .wasm next to its own code, and is
// imported only on the lint path.
// mysql2 (mysql:// and mariadb:// URLs) is loaded from node_modules on demand: bundled, it would
// add 1.4 MB (its character-set tables and cloud CA bundles) to the CLI script that every run of
// every user parses, 0.96 MB -> 2.4 MB.
const external = ['@electric-sql/pglite', 'pg-native', 'jiti', 'libpg-query', 'mysql2'];
const define = { __BERTH_VERSION__: JSON.stringify(pkg.version) };

// The library: ES modules, with what a call does not need (the pg client, PGlite, lint) split
// into chunks imported on demand.
await build({
  entryPoints: { index: 'src/index.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  external,
  define,
  // pg is CommonJS: give its require() calls of Node built-ins a real require in the ESM bundle.
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: [skipCloudflareProbe],
});

// The CLI: one classic script, so that bin/load-cli.js can start it from a V8 code cache (Node 20
// has no code cache for ES modules). Its dynamic imports become require() of the installed
// packages (each ships CommonJS); the user's own modules go through the loader's import().
await build({
  entryPoints: { cli: 'src/cli/bin-entry.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  external,
  define: { ...define, 'import.meta.url': '__berthImportMetaUrl' },
  // The file is the CommonJS wrapper function itself, so that bin/load-cli.js compiles the text
  // as read, not a wrapped copy of it: a second copy of a 0.9 MB source stays in the heap.
  banner: { js: `(function (exports, require, module, __filename, __dirname) { var __berthImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
  footer: { js: '})' },
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
  plugins: [skipCloudflareProbe],
  write: false,
}).then(({ outputFiles }) => {
  for (const file of outputFiles) writeFileSync(file.path, file.path.endsWith('.cjs') ? asciiOnly(file.text) : file.contents);
});

/**
 * V8 stores a source that has a single non-ASCII character with two bytes per character: the
 * bundle would take 1.8 MB of heap instead of 0.9. esbuild escapes strings (charset: ascii) but
 * keeps comments as they are, and a few bundled comments have a dash or a quote mark.
 */
function asciiOnly(text) {
  return text.replace(/[^\x00-\x7f]/gu, (c) => {
    const code = c.codePointAt(0);
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

execFileSync(process.execPath, [new URL('../../node_modules/typescript/bin/tsc', import.meta.url).pathname, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

// Train the CLI's code cache last, on the finished bundle (see scripts/train-code-cache.mjs).
execFileSync(process.execPath, [new URL('./scripts/train-code-cache.mjs', import.meta.url).pathname], { stdio: 'inherit' });
