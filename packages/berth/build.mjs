// Bundles the library and the CLI into dist/ with esbuild: one file to parse at start-up, and
// everything a command does not need (the pg client, PGlite, rarely used commands) split into
// chunks imported on demand. Type declarations come from tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

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

await build({
  entryPoints: { index: 'src/index.ts', cli: 'src/cli/bin-entry.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  // PGlite ships WASM and data files next to its code, so it stays an installed dependency.
  // pg-native is pg's optional native binding, which berth does not use.
  // jiti (TypeScript migrations and config files) loads its Babel bundle with
  // createRequire(import.meta.url)('../dist/babel.cjs'), a path esbuild cannot follow.
  // libpg-query (berth lint's PostgreSQL parser) finds its .wasm next to its own code, and is
  // imported only on the lint path.
  external: ['@electric-sql/pglite', 'pg-native', 'jiti', 'libpg-query'],
  define: { __BERTH_VERSION__: JSON.stringify(pkg.version) },
  // pg is CommonJS: give its require() calls of Node built-ins a real require in the ESM bundle.
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: [skipCloudflareProbe],
});

execFileSync(process.execPath, [new URL('../../node_modules/typescript/bin/tsc', import.meta.url).pathname, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
