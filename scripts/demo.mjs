// The main job on the embedded default: migrate examples/migrations into an embedded PostgreSQL
// (PGlite, in a temporary directory) with the berth CLI, then print `berth status`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bin = path.join(root, 'packages/berth/bin/berth.js');
const data = mkdtempSync(path.join(tmpdir(), 'berth-demo-'));
const common = ['-d', `pglite://${data}`, '--dir', path.join(root, 'examples/migrations'), '--log-format', 'pretty'];

function berth(...args) {
  console.log(`\n$ berth ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [bin, ...args, ...common], { stdio: 'inherit' });
  if (result.status !== 0) {
    rmSync(data, { recursive: true, force: true });
    process.exit(result.status ?? 1);
  }
}

berth('migrate');
berth('migrate'); // a second run finds nothing to do: what every pod start pays
berth('status');
rmSync(data, { recursive: true, force: true });
