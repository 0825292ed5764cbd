// Bundles a service (run in its folder: `npm run build -w @berth-example/users`) into one file,
// dist/main.js, with esbuild. Everything is inside: the service, the service kit, fastify, pino,
// prom-client, zod, pg and berth's library (its dist/ is already a bundle). The container image
// therefore needs Node.js, dist/main.js and migrations/, and no node_modules.
//
// Left out (external), because no code path of the services reaches them:
// - pg-native: pg's optional native binding (pg loads it only for `new pg.native.Client`);
// - @electric-sql/pglite and jiti: berth imports them on demand, for pglite:// URLs and for code
//   migrations (.js/.ts files); the services use postgres:// and SQL migrations only;
// - libpg-query: the SQL parser of `berth lint` (WASM), a CLI feature.
// services/users/test/process.test.ts runs the bundle from a directory without node_modules.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';

const root = process.cwd();
rmSync(resolve(root, 'dist'), { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/main.ts' },
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Source map next to the bundle; the image may ship it and run with --enable-source-maps.
  sourcemap: 'linked',
  external: ['pg-native', '@electric-sql/pglite', 'jiti', 'libpg-query'],
  // CommonJS dependencies (pg, fastify, pino) call require() for Node built-ins: give the ESM
  // bundle a real require.
  banner: { js: "import { createRequire as __serviceCreateRequire } from 'node:module'; const require = __serviceCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
