#!/usr/bin/env node
// How long a frozen lock holder keeps the lock (SPEC §4.5, README "Dead runners"). See
// bench/README.md, "Frozen holder".
//
//   node bench/frozen-holder.mjs [--trials 6]
//
// Each trial: a runner takes the lock and works on the client inside a code migration (its
// session idle in transaction, kept alive by berth's heartbeat); at a random moment of the
// heartbeat's cycle it is SIGSTOPped, and a second runner (--lock-timeout 90s) is started. The
// figure is the time from SIGSTOP to the second runner's lock.acquired. Trials run at once, each
// on a fresh database: the wait is the server's timeouts, not CPU.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ADMIN_URL, admin, endTrial, startBerth as start } from './support/runner.mjs';

const argv = process.argv.slice(2);
const trialsAt = argv.indexOf('--trials');
const TRIALS = trialsAt >= 0 ? Number(argv[trialsAt + 1]) : 6;
if (!Number.isInteger(TRIALS) || TRIALS < 1) {
  console.error('usage: node bench/frozen-holder.mjs [--trials 6]');
  process.exit(2);
}

const CODE = `export async function up(ctx) {
  await ctx.sql('CREATE TABLE started_work (id int)');
  if (process.env.HOLD) { ctx.log('working on the client'); await new Promise((r) => setTimeout(r, 120000)); }
  await ctx.sql('CREATE TABLE finished_work (id int)');
}
`;



async function trial(i) {
  const name = `berth_bench_frozen_${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(os.tmpdir(), 'berth-frozen-'));
  writeFileSync(join(dir, '1_work.js'), CODE.replace('export async function up', 'exports.up = async function up'));
  writeFileSync(join(dir, '2_after.up.sql'), 'CREATE TABLE after_work (id int);');
  await admin(`CREATE DATABASE ${name}`);
  const url = ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  let holder;
  try {
    holder = start(['migrate', '--dir', dir, '--log-format', 'json'], { DATABASE_URL: url, HOLD: '1' });
    await holder.waitFor(/"event":"migration.log"/);
    // Anywhere in the heartbeat's cycle (it speaks after 5 s of silence, checked every second).
    await new Promise((r) => setTimeout(r, Math.random() * 7_000));
    holder.child.kill('SIGSTOP');
    const stopped = performance.now();
    const second = start(['migrate', '--dir', dir, '--log-format', 'json', '--lock-timeout', '90s'], { DATABASE_URL: url });
    const acquired = await second.waitFor(/"event":"lock.acquired"/);
    const code = await second.exited;
    if (code !== 0) throw new Error(`second runner exited ${code}:\n${second.stderr.slice(-2000)}`);
    const ms = acquired - stopped;
    console.error(`trial ${i + 1}: lock taken over ${(ms / 1000).toFixed(1)} s after SIGSTOP`);
    return ms;
  } finally {
    await endTrial(holder, name, dir);
  }
}

const results = (await Promise.all(Array.from({ length: TRIALS }, (_, i) => trial(i)))).sort((a, b) => a - b);
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
console.log(`frozen holder, ${TRIALS} trials: SIGSTOP -> second runner holds the lock: ` +
  `min ${s(results[0])}, median ${s(results[Math.floor(results.length / 2)])}, max ${s(results.at(-1))}`);
