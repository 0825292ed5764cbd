#!/usr/bin/env node
// Fleet benchmark (docs/fleets.md): N tenant schemas (default 1,000) in one database, each given
// the same 10 small migrations, three ways, in one run on the same server:
//   0. the floor: the bare SQL (and a history row) through P pg clients, no lock, no checks;
//   1. berth's fan-out: one `berth migrate --targets - --schema-per-target --parallel P`;
//   2. a shell loop of one `berth migrate` per tenant (PGOPTIONS sets its search_path);
//   3. a shell loop of one `dbmate migrate` per tenant (?search_path=<tenant>).
// It prints wall time, peak RSS (of the one process, or of the largest process of a loop) and the
// most connections the tool's database had at once (pg_stat_activity, sampled every 50 ms).
// A figure, not a test: nothing is asserted.
//
//   npm run build -w berth && node bench/fleet.mjs [--tenants 1000] [--parallel 8] [--skip-loops]
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BERTH = join(ROOT, 'packages/berth/bin/berth.js');
const require = createRequire(import.meta.url);
const DBMATE = join(dirname(require.resolve(`@dbmate/${process.platform}-${process.arch}/package.json`)), 'bin/dbmate');
const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : process.argv[at + 1];
};
const TENANTS = Number(arg('tenants', 1000));
const PARALLEL = Number(arg('parallel', 8));
const SKIP_LOOPS = process.argv.includes('--skip-loops');
const ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MIGRATIONS = 10;
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

const withDb = (url, db, params = {}) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
};
const names = Array.from({ length: TENANTS }, (_, i) => `tenant_${String(i + 1).padStart(5, '0')}`);
const work = mkdtempSync(join(os.tmpdir(), 'berth-bench-fleet-'));
const berthDir = join(work, 'berth');
const dbmateDir = join(work, 'dbmate');
mkdirSync(berthDir);
mkdirSync(dbmateDir);
for (let v = 1; v <= MIGRATIONS; v++) {
  const sql = `CREATE TABLE t${v} (id bigint PRIMARY KEY, v text NOT NULL DEFAULT '');\nCREATE INDEX t${v}_v ON t${v} (v);`;
  writeFileSync(join(berthDir, `${String(v).padStart(4, '0')}_t${v}.up.sql`), sql);
  writeFileSync(join(dbmateDir, `${String(v).padStart(4, '0')}_t${v}.sql`), `-- migrate:up\n${sql}\n-- migrate:down\n`);
}

async function admin(sql) {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Runs `cmd`, returning its exit code and peak RSS (KiB) by /usr/bin/time. */
function run(cmd, args, { env = {}, input } = {}) {
  return new Promise((resolveRun) => {
    const rssFile = join(work, `rss-${Math.random().toString(36).slice(2)}`);
    const [c, a] = TIME ? [TIME, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
    const child = spawn(c, a, { env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.stdin.end(input ?? '');
    child.on('close', (code) => {
      let rss = null;
      try {
        rss = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
        rmSync(rssFile);
      } catch { /* no figure */ }
      resolveRun({ code, rss, stderr });
    });
  });
}

/** Samples the connections to `db` until stopped; resolves with the maximum. */
function sampleConnections(db) {
  const c = new pg.Client({ connectionString: ADMIN });
  let max = 0;
  let stop = false;
  const done = (async () => {
    await c.connect();
    while (!stop) {
      const { rows } = await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [db]);
      max = Math.max(max, rows[0].n);
      await new Promise((r) => setTimeout(r, 50));
    }
    await c.end();
    return max;
  })();
  return { stop: () => { stop = true; return done; } };
}

async function figure(label, db, body) {
  await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${db}`);
  const sampler = sampleConnections(db);
  const started = performance.now();
  const { rss, failures } = await body(withDb(ADMIN, db));
  const wallMs = performance.now() - started;
  const connections = await sampler.stop();
  const { rows } = await admin(`SELECT 1`).then(async () => {
    const c = new pg.Client({ connectionString: withDb(ADMIN, db) });
    await c.connect();
    try {
      return await c.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema LIKE 'tenant\\_%' AND table_name = 't${MIGRATIONS}'`);
    } finally {
      await c.end();
    }
  });
  await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  const result = { label, wallMs: Math.round(wallMs), peakRssMiB: rss ? Math.round(rss / 1024) : null, maxConnections: connections, tenantsDone: rows[0].n, failures };
  process.stderr.write(`${label}: ${(wallMs / 1000).toFixed(1)} s, ${result.tenantsDone}/${TENANTS} tenants, peak RSS ${result.peakRssMiB} MiB, ${connections} connections\n`);
  return result;
}

/** One process per tenant, one after another, as a shell loop does. */
async function loop(command) {
  let rss = 0;
  let failures = 0;
  for (const name of names) {
    const r = await command(name);
    if (r.code !== 0) {
      failures++;
      if (failures === 1) process.stderr.write(`first failure (${name}): ${r.stderr}\n`);
    }
    rss = Math.max(rss, r.rss ?? 0);
  }
  return { rss, failures };
}

/**
 * The server's own cost, berth's floor: the same SQL sent straight through PARALLEL pg clients
 * (CREATE SCHEMA, then per migration BEGIN; the SQL; a history row; COMMIT), no lock, no checks.
 */
async function floor(url) {
  const queue = [...names];
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (let name = queue.shift(); name; name = queue.shift()) {
        await c.query(`CREATE SCHEMA ${name}; SET search_path = ${name}; CREATE TABLE history (version int PRIMARY KEY)`);
        for (let v = 1; v <= MIGRATIONS; v++) {
          await c.query(`BEGIN; ${readFileSync(join(berthDir, `${String(v).padStart(4, '0')}_t${v}.up.sql`), 'utf8')} INSERT INTO history VALUES (${v}); COMMIT;`);
        }
      }
    } finally {
      await c.end();
    }
  }));
  return { rss: null, failures: 0 };
}

const results = [];
results.push(await figure(`berth fan-out (--parallel ${PARALLEL})`, 'bench_fleet_fanout', async (url) => {
  const r = await run(process.execPath, [BERTH, 'migrate', '-d', url, '--targets', '-', '--schema-per-target', '--parallel', String(PARALLEL), '--dir', berthDir, '--log-format', 'json', '--quiet'],
    { input: JSON.stringify(names) });
  if (r.code !== 0) process.stderr.write(r.stderr);
  return { rss: r.rss, failures: r.code === 0 ? 0 : 1 };
}));
results.push(await figure(`floor: the bare SQL through ${PARALLEL} clients`, 'bench_fleet_floor', floor));
if (!SKIP_LOOPS) {
  results.push(await figure('loop of berth migrate', 'bench_fleet_berthloop', (url) => loop((name) =>
    run(process.execPath, [BERTH, 'migrate', '-d', url, '--schema', name, '--dir', berthDir, '--log-format', 'json', '--quiet'], { env: { PGOPTIONS: `-c search_path=${name}` } }))));
  results.push(await figure('loop of dbmate migrate', 'bench_fleet_dbmate', (url) => loop((name) =>
    run(DBMATE, ['--url', `${url}?sslmode=disable&search_path=${name}`, '--migrations-dir', dbmateDir, '--no-dump-schema', 'migrate']))));
}
rmSync(work, { recursive: true, force: true });

const fanout = results[0];
console.log(`\nFleet: ${TENANTS} tenant schemas x ${MIGRATIONS} migrations, PostgreSQL ${(await admin('SHOW server_version')).rows[0].server_version}, ${os.availableParallelism()} CPUs, node ${process.version}\n`);
console.log('| run | wall | vs fan-out | peak RSS | connections (max) | tenants migrated |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.label} | ${(r.wallMs / 1000).toFixed(1)} s | ${(r.wallMs / fanout.wallMs).toFixed(1)}x | ${r.peakRssMiB === null ? '—' : `${r.peakRssMiB} MiB${r.label.startsWith('loop') ? ' (largest process)' : ''}`} | ${r.maxConnections} | ${r.tenantsDone}/${TENANTS} |`);
}
