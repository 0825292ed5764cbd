// What the lock-timing benchmarks (frozen-holder.mjs, lease-takeover.mjs) share: the admin
// connection and a berth child process whose stderr can be waited on.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BERTH = join(ROOT, 'packages/berth/bin/berth.js');
export const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs one statement as the admin role on a fresh connection. */
export async function admin(sql) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Starts berth with only PATH and `env` in its environment. `waitFor(pattern)` resolves with
 * performance.now() when its stderr first matches, and rejects if it exits before.
 */
export function startBerth(args, env) {
  const child = spawn(process.execPath, [BERTH, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const listeners = new Set();
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    err += chunk;
    for (const l of listeners) l();
  });
  const exited = new Promise((r) => child.once('close', (code) => r(code)));
  const waitFor = (pattern) => new Promise((resolveWait, reject) => {
    const check = () => {
      if (pattern.test(err)) {
        listeners.delete(check);
        resolveWait(performance.now());
      }
    };
    listeners.add(check);
    exited.then(() => reject(new Error(`exited before ${pattern}:\n${err.slice(-2000)}`)));
    check();
  });
  return { child, exited, waitFor, get stderr() { return err; } };
}

/** Ends a trial: the holder (frozen or not) killed and reaped, its database and folder removed. */
export async function endTrial(holder, database, dir) {
  holder?.child.kill('SIGKILL');
  holder?.child.kill('SIGCONT');
  await holder?.exited;
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
