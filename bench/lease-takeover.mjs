#!/usr/bin/env node
// How long a dead lease holder keeps the lease (--lock lease|auto, docs/locking.md). See
// bench/README.md, "Lease takeover".
//
//   node bench/lease-takeover.mjs [--trials 4] [--ttl 30s]
//
// Starts a private PgBouncer (Debian's pgbouncer) in pool_mode = transaction in front of the
// server. Each trial: a runner with --lock auto takes the lease through it and works inside a
// code migration (statements every 200 ms, its heartbeat renewing the lease); at a random moment
// of the heartbeat's cycle it is frozen (SIGSTOP, trials 1, 3, ...) or killed (SIGKILL, 2, 4, ...), and
// a second runner starts. The figure is the time from the freeze or kill to the second runner's
// first migration (its migration.start); its lease.takeover and lock.acquired are printed too.
// Trials run at once, each on its own database: the wait is the lease's expiry, not CPU.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { ADMIN_URL, admin, endTrial, startBerth as start } from './support/runner.mjs';

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const TRIALS = Number(option('--trials', '4'));
const TTL = option('--ttl', '30s');
const TTL_MS = /^\d+(\.\d+)?s$/.test(TTL) ? Number(TTL.slice(0, -1)) * 1000 : NaN;
if (!Number.isInteger(TRIALS) || TRIALS < 1 || !(TTL_MS >= 1000)) {
  console.error('usage: node bench/lease-takeover.mjs [--trials 4] [--ttl 30s]   (ttl in seconds, at least 1s)');
  process.exit(2);
}
const HEARTBEAT_MS = Math.max(100, Math.floor(TTL_MS / 6));

const CODE = `exports.up = async function up(ctx) {
  if (process.env.HOLD) {
    ctx.log('working');
    for (let i = 0; i < 3000; i++) { await new Promise((r) => setTimeout(r, 200)); await ctx.sql('SELECT 1'); }
  }
  await ctx.sql('CREATE TABLE finished_work (id int)');
};
`;


function freePort() {
  return new Promise((resolvePort) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** A private PgBouncer in transaction mode; ended by its PID when the bench ends. */
async function startPgBouncer() {
  const binary = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'].find((b) => {
    try {
      accessSync(b);
      return true;
    } catch {
      return false;
    }
  });
  if (!binary) throw new Error('no pgbouncer binary: apt-get install pgbouncer');
  const upstream = new URL(ADMIN_URL);
  const dir = mkdtempSync(join(os.tmpdir(), 'berth-bench-pgbouncer-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  writeFileSync(join(dir, 'users.txt'), `"${decodeURIComponent(upstream.username || 'postgres')}" "${decodeURIComponent(upstream.password)}"\n`, { mode: 0o644 });
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]', `* = host=${upstream.hostname} port=${upstream.port || 5432}`, '[pgbouncer]',
    'listen_addr = 127.0.0.1', `listen_port = ${port}`, 'unix_socket_dir =', 'auth_type = trust', `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = transaction', 'default_pool_size = 10', 'logfile =', 'pidfile =',
  ].join('\n') + '\n', { mode: 0o644 });
  const asRoot = process.getuid?.() === 0;
  const child = spawn(binary, [join(dir, 'pgbouncer.ini')], { stdio: 'ignore', ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((r) => net.connect({ host: '127.0.0.1', port }).once('connect', function () { this.destroy(); r(true); }).once('error', () => r(false)));
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, stop: () => { child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); } };
}


async function trial(i, port) {
  const how = i % 2 === 0 ? 'SIGSTOP' : 'SIGKILL';
  const name = `berth_bench_lease_${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(os.tmpdir(), 'berth-lease-'));
  writeFileSync(join(dir, '1_work.js'), CODE);
  writeFileSync(join(dir, '2_after.up.sql'), 'CREATE TABLE after_work (id int);');
  await admin(`CREATE DATABASE ${name}`);
  const url = `postgres://${new URL(ADMIN_URL).username || 'postgres'}@127.0.0.1:${port}/${name}`;
  const args = ['migrate', '--dir', dir, '--log-format', 'json', '--lock', 'auto', '--lease-ttl', TTL, '--lock-timeout', '5m'];
  let holder;
  try {
    holder = start(args, { DATABASE_URL: url, HOLD: '1', HOSTNAME: `holder-${i}` });
    await holder.waitFor(/"event":"migration.log"/);
    // Anywhere in the heartbeat's cycle.
    await new Promise((r) => setTimeout(r, Math.random() * HEARTBEAT_MS * 1.5));
    holder.child.kill(how);
    const stopped = performance.now();
    const second = start(args, { DATABASE_URL: url, HOSTNAME: `second-${i}`, BERTH_DEBUG: '1' });
    const [takeover, acquired, first] = await Promise.all([
      second.waitFor(/"event":"lease.takeover"/), second.waitFor(/"event":"lock.acquired"/), second.waitFor(/"event":"migration.start"/),
    ]);
    const code = await second.exited;
    if (code !== 0) throw new Error(`second runner exited ${code}:\n${second.stderr.slice(-2000)}`);
    const result = { how, takeover: takeover - stopped, acquired: acquired - stopped, first: first - stopped };
    console.error(`trial ${i + 1} (${how}): takeover ${s(result.takeover)}, lease held ${s(result.acquired)}, first migration ${s(result.first)} after the ${how}`);
    return result;
  } finally {
    await endTrial(holder, name, dir);
  }
}

const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
const bouncer = await startPgBouncer();
try {
  const results = await Promise.all(Array.from({ length: TRIALS }, (_, i) => trial(i, bouncer.port)));
  console.log(`lease through PgBouncer (pool_mode = transaction): --lease-ttl ${TTL}, heartbeat every ${s(HEARTBEAT_MS)}`);
  for (const how of ['SIGSTOP', 'SIGKILL']) {
    const firsts = results.filter((r) => r.how === how).map((r) => r.first).sort((a, b) => a - b);
    if (firsts.length === 0) continue;
    console.log(`  ${how} of the holder -> the next runner's first migration, ${firsts.length} trial(s): ` +
      `min ${s(firsts[0])}, median ${s(firsts[Math.floor(firsts.length / 2)])}, max ${s(firsts.at(-1))}`);
  }
} finally {
  bouncer.stop();
}
