#!/usr/bin/env node
// berth benchmark: berth and peer migration tools side by side on the same
// local PostgreSQL, medians and ratios taken in one run. See bench/README.md.
//
//   node bench/run.mjs [--quick] [--only a,b,c] [--tools berth,dbmate,...]
//
// Progress goes to stderr, the report to stdout, the raw numbers to
// bench/results/latest.json (latest-quick.json for --quick).
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import pg from 'pg';
import { ensureGenerated } from './generate.mjs';
import { MYSQL_ADMIN_URL, cleanupMariadb, mariadbFigures, mariadbReport } from './mariadb.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
const WORK = join(BENCH, '.work');
const LOGS = join(WORK, 'logs');
const RESULTS = join(BENCH, 'results');
const require = createRequire(import.meta.url);
const NODE = process.execPath;

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const opt = (name) => {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
};
if (flag('--help') || flag('-h')) {
  console.log('usage: node bench/run.mjs [--quick] [--only a,b,c] [--db postgres,mariadb] [--tools psql,dbmate,node-pg-migrate,postgrator,berth]\n' +
    '                         [--n-a 1000] [--reps-a 5] [--reps-b 20] [--n-c 200] [--reps-c 5] [--runners 16]');
  process.exit(0);
}
const QUICK = flag('--quick');
const P = QUICK
  ? { nA: 100, repsA: 2, repsB: 5, nC: 50, repsC: 1, runners: 16 }
  : { nA: 1000, repsA: 5, repsB: 20, nC: 200, repsC: 5, runners: 16 };
// Overrides: --n-a 1000 --reps-a 5 --reps-b 20 --n-c 200 --reps-c 5 --runners 16
for (const [k, f] of Object.entries({ nA: '--n-a', repsA: '--reps-a', repsB: '--reps-b', nC: '--n-c', repsC: '--reps-c', runners: '--runners' })) {
  const v = opt(f);
  if (v === undefined) continue;
  if (!/^[1-9]\d*$/.test(v)) {
    console.error(`${f} needs a positive integer, got ${v}`);
    process.exit(2);
  }
  P[k] = Number(v);
}
// Per-child time limits. A tool that hits one is not run again in that figure.
const TIMEOUT = { apply: QUICK ? 60_000 : 180_000, noop: 30_000, concurrent: QUICK ? 60_000 : 120_000 };
const ONLY = new Set((opt('--only') ?? 'a,b,c').split(',').map((s) => s.trim().toLowerCase()));
// Which servers: PostgreSQL (figures a, b, c with every peer) and MariaDB (figures a and c, berth and dbmate).
const DBS = new Set((opt('--db') ?? 'postgres,mariadb').split(',').map((s) => s.trim().toLowerCase()));
const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// ---------------------------------------------------------------- helpers
const log = (...a) => console.error('[bench]', ...a);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length]);
const fmtMs = (ms) => (!Number.isFinite(ms) ? '—' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const fmtRatio = (r) => (Number.isFinite(r) ? r.toFixed(2) : '—');
const fmtMiB = (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(0)} MiB` : '—');
/** URL of database `db` on the admin URL's server, with extra query parameters. */
const dbUrl = (db, params = {}) => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${db}`;
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
};
const NO_SSL = { sslmode: 'disable' };

// A clean environment for the children: no PG*/DATABASE_URL leaking in from the caller.
const BASE_ENV = Object.fromEntries(
  ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'USER'].filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]),
);

// ---------------------------------------------------------------- peak RSS
// GNU time (-f %M) reports the largest max-RSS of the command and of the
// descendants it waited for (wait4 rusage). Fallback: poll VmHWM in /proc.
const GNU_TIME = (() => {
  try {
    if (!existsSync('/usr/bin/time')) return null;
    const f = join(os.tmpdir(), `bench-time-probe-${process.pid}`);
    execFileSync('/usr/bin/time', ['-f', '%M', '-o', f, 'true']);
    const ok = /^\d+\s*$/m.test(readFileSync(f, 'utf8'));
    rmSync(f, { force: true });
    return ok ? '/usr/bin/time' : null;
  } catch {
    return null;
  }
})();

function treePids(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of readdirSync(`/proc/${out[i]}/task`)) {
        const c = readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim();
        if (c) out.push(...c.split(/\s+/).map(Number));
      }
    } catch {
      // process gone
    }
  }
  return out;
}
function vmHwmKiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- children
const running = new Set();
let logSeq = 0;

/**
 * Run one command. Resolves with wall time (ms, from just before spawn to the
 * exit event), exit code, peak RSS (KiB, when rss is set), the tail of stderr.
 */
function runChild({ cmd, args, env, cwd }, { rss = false, timeoutMs = 600_000, tag = 'run' } = {}) {
  const base = join(LOGS, `${String(++logSeq).padStart(5, '0')}-${tag}`);
  const outFd = openSync(`${base}.out`, 'w');
  const errFd = openSync(`${base}.err`, 'w');
  const rssFile = `${base}.rss`;
  let file = cmd;
  let fileArgs = args;
  if (rss && GNU_TIME) {
    file = GNU_TIME;
    fileArgs = ['-f', '%M', '-o', rssFile, cmd, ...args];
  }
  return new Promise((resolvePromise) => {
    const t0 = performance.now();
    let child;
    try {
      child = spawn(file, fileArgs, { cwd, env: { ...BASE_ENV, ...env }, stdio: ['ignore', outFd, errFd], detached: true });
    } catch (err) {
      closeSync(outFd);
      closeSync(errFd);
      resolvePromise({ code: -1, signal: null, ms: NaN, rssKiB: NaN, timedOut: false, err: String(err), log: base });
      return;
    }
    closeSync(outFd);
    closeSync(errFd);
    running.add(child);
    let timedOut = false;
    let polledKiB = 0;
    let poller = null;
    if (rss && !GNU_TIME) {
      const poll = () => {
        for (const p of treePids(child.pid)) polledKiB = Math.max(polledKiB, vmHwmKiB(p));
      };
      poll();
      poller = setInterval(poll, 5);
    }
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    child.on('error', (err) => {
      // spawn failure (ENOENT...): no 'exit' follows, only 'close'
      child.spawnError = String(err);
    });
    let exitedAt = null;
    child.on('exit', () => {
      exitedAt = performance.now();
    });
    // stdio are plain files, so 'close' comes right after 'exit'; wall time is taken at 'exit'.
    child.on('close', (code, signal) => {
      const ms = (exitedAt ?? performance.now()) - t0;
      clearTimeout(timer);
      if (poller) clearInterval(poller);
      running.delete(child);
      let rssKiB = NaN;
      if (rss && GNU_TIME) {
        try {
          const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
          rssKiB = Number(lines[lines.length - 1]);
        } catch { /* no file */ }
      } else if (rss) {
        rssKiB = polledKiB || NaN;
      }
      let err = child.spawnError ?? '';
      try {
        const e = readFileSync(`${base}.err`, 'utf8').trim().split('\n').filter((l) => l.trim() && !/^Command exited with non-zero status/.test(l));
        // The first line that names an error, else one that says fatal/failed, else the last line.
        err = err || (e.find((l) => /error/i.test(l)) ?? e.find((l) => /fatal|fail/i.test(l)) ?? e.at(-1) ?? '').trim().slice(0, 300);
      } catch { /* ignore */ }
      resolvePromise({ code: code ?? -1, signal, ms, rssKiB, timedOut, err, log: base });
    });
  });
}

// ---------------------------------------------------------------- databases
const admin = new pg.Client({ connectionString: ADMIN_URL });
const created = new Set();
let stopping = false;

async function createDb(label) {
  if (stopping) throw new Error('stopping');
  const name = `berth_bench_${label.replace(/[^a-z0-9]/g, '')}_${randomBytes(4).toString('hex')}`;
  created.add(name); // before CREATE: an interrupt mid-query must still drop it
  await admin.query(`CREATE DATABASE "${name}"`);
  // Flush what earlier runs (and CREATE DATABASE's WAL) left dirty, so no run
  // pays for another's writes and a timed checkpoint is unlikely mid-run.
  await admin.query('CHECKPOINT');
  return name;
}
async function dropDb(name) {
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  created.delete(name);
}
/** Count the workload's tables, and the rows of every other user table (the tools' history tables). */
async function inspectDb(name) {
  const c = new pg.Client({ connectionString: dbUrl(name) });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`,
    );
    let tables = 0;
    const history = {};
    for (const r of rows) {
      if (r.schema === 'public' && /^bench_t\d+$/.test(r.name)) tables++;
      else {
        const q = `"${r.schema.replace(/"/g, '""')}"."${r.name.replace(/"/g, '""')}"`;
        history[`${r.schema}.${r.name}`] = Number((await c.query(`SELECT count(*) AS n FROM ${q}`)).rows[0].n);
      }
    }
    return { tables, history };
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------- tools
const pkgVersion = (name) => {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return null;
  }
};
const resolveBin = (name, rel) => {
  try {
    return join(dirname(require.resolve(`${name}/package.json`)), rel);
  } catch {
    return null;
  }
};

const DBMATE_BIN = resolveBin(`@dbmate/${process.platform}-${process.arch === 'x64' ? 'x64' : process.arch}`, 'bin/dbmate');
const NPM_BIN = resolveBin('node-pg-migrate', 'bin/node-pg-migrate.js');
const BERTH_BIN = join(ROOT, 'packages/berth/bin/berth.js');
// Debian's /usr/bin/psql is pg_wrapper, a Perl script that picks a cluster and
// then execs the real psql: ~25 ms of Perl on every start. The floor is the
// real binary, so PSQL is resolved past the wrapper (set at startup, see main).
let PSQL = 'psql';
function resolvePsql(serverMajor) {
  const onPath = which('psql');
  if (!onPath) return null;
  let real = onPath;
  try { real = realpathSync(onPath); } catch { /* keep */ }
  if (!/pg_wrapper$/.test(real)) return onPath;
  const candidates = [`/usr/lib/postgresql/${serverMajor}/bin/psql`];
  try {
    for (const v of readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))) candidates.push(`/usr/lib/postgresql/${v}/bin/psql`);
  } catch { /* none */ }
  return candidates.find((c) => existsSync(c)) ?? onPath;
}
const BERTH_DIST = join(ROOT, 'packages/berth/dist');

/**
 * Each tool: how to apply the workload (figures a and c), how to do a no-op
 * migrate on an up-to-date database (figure b). `wl` is the generated
 * workload (see generate.mjs). Every tool runs with its defaults.
 */
const TOOLS = [
  {
    id: 'psql',
    label: 'psql floor',
    concurrent: false,
    available: () => (PSQL ? null : 'psql not installed'),
    apply: (db, wl) => ({ cmd: PSQL, args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', dbUrl(db, NO_SSL), '-f', wl.psqlFloor], cwd: wl.root }),
    noop: (db, wl) => ({ cmd: PSQL, args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', dbUrl(db, NO_SSL), '-f', wl.psqlNoop], cwd: wl.root }),
    version: () => safeExec(PSQL, ['--version']),
  },
  {
    id: 'dbmate',
    label: 'dbmate',
    concurrent: true,
    available: () => (DBMATE_BIN && existsSync(DBMATE_BIN) ? null : 'dbmate binary not installed (npm i -D -w bench dbmate)'),
    // The Go binary that the dbmate npm package ships, run directly (the npm
    // bin is a node wrapper that spawns it). sslmode=disable: lib/pq's default
    // sslmode=require fails against a server without SSL, as dbmate's docs say.
    apply: (db, wl) => ({
      cmd: DBMATE_BIN,
      args: ['--url', dbUrl(db, NO_SSL), '--migrations-dir', wl.dbmate, '--no-dump-schema', 'migrate'],
      cwd: join(wl.root, 'dbmate'),
    }),
    version: () => safeExec(DBMATE_BIN, ['--version']),
  },
  {
    id: 'node-pg-migrate',
    label: 'node-pg-migrate',
    concurrent: true,
    available: () => (NPM_BIN && existsSync(NPM_BIN) ? null : 'node-pg-migrate not installed (npm i -D -w bench node-pg-migrate)'),
    apply: (db, wl) => ({
      cmd: NODE,
      args: [NPM_BIN, 'up', '-m', wl.nodePgMigrate],
      env: { DATABASE_URL: dbUrl(db) },
      cwd: join(wl.root, 'node-pg-migrate'),
    }),
    version: () => pkgVersion('node-pg-migrate'),
  },
  {
    id: 'postgrator',
    label: 'postgrator',
    concurrent: true,
    available: () => (pkgVersion('postgrator') ? null : 'postgrator not installed (npm i -D -w bench postgrator)'),
    apply: (db, wl) => ({
      cmd: NODE,
      args: [join(BENCH, 'runners/postgrator.mjs'), dbUrl(db), wl.postgrator],
      cwd: join(wl.root, 'postgrator'),
    }),
    version: () => pkgVersion('postgrator'),
  },
  {
    id: 'berth',
    label: 'berth',
    concurrent: true,
    available: () => {
      if (!existsSync(BERTH_DIST)) return 'not built';
      if (!existsSync(BERTH_BIN)) return 'not built (no bin/berth.js)';
      return null;
    },
    apply: (db, wl) => ({
      cmd: NODE,
      args: [BERTH_BIN, 'migrate', '--database-url', dbUrl(db), '--dir', wl.berth, '--log-format', 'json'],
      cwd: wl.root,
    }),
    version: () => pkgVersion('berth'),
  },
];
for (const t of TOOLS) t.noop ??= t.apply;

const NODE0 = { id: 'node -e 0', label: 'node -e 0', noop: () => ({ cmd: NODE, args: ['-e', '0'], cwd: ROOT }) };
// Node start-up depends on the environment: NODE_EXTRA_CA_CERTS alone (set on
// this workplace's machines) makes every node process parse the whole CA
// bundle, ~50 ms. Children get a clean environment; when the caller's has
// such variables, figure (b) also times node -e 0 under them, for reference.
const CALLER_NODE_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => /^NODE_(OPTIONS|EXTRA_CA_CERTS|PATH|ICU_DATA|COMPILE_CACHE)$/.test(k) || k === 'UV_THREADPOOL_SIZE'),
);
const NODE0_CALLER = Object.keys(CALLER_NODE_ENV).length
  ? { id: 'node -e 0 (caller env)', label: 'node -e 0 (caller env)', noop: () => ({ cmd: NODE, args: ['-e', '0'], cwd: ROOT, env: CALLER_NODE_ENV }) }
  : null;

// The same no-op berth run under the caller's NODE_* variables, for the ratio to `node -e 0
// (caller env)`: the issue's reference figure (node -e 0 at 74 ms) was taken that way.
const BERTH_CALLER = NODE0_CALLER
  ? {
    id: 'berth (caller env)', label: 'berth (caller env)', dbOf: 'berth',
    noop: (db, wl) => {
      const command = TOOLS.find((t) => t.id === 'berth').noop(db, wl);
      return { ...command, env: { ...command.env, ...CALLER_NODE_ENV } };
    },
  }
  : null;

// berth's own cost in (a) and peak RSS, apart from the linter that `migrate` runs by default
// (libpg-query, PostgreSQL's parser as WASM: ~15 MiB and ~0.1 s for 1,000 files).
const BERTH_LINT_OFF = {
  id: 'berth (lint off)', label: 'berth (lint off)',
  apply: (db, wl) => {
    const command = TOOLS.find((t) => t.id === 'berth').apply(db, wl);
    return { ...command, args: [...command.args, '--lint', 'off'] };
  },
};

// What no Node.js program can beat in (b): read and checksum the files, one query, nothing else
// (bench/runners/node-floor.cjs). It checks berth's history table, so it runs on berth's database.
const NODE_FLOOR = {
  id: 'node floor', label: 'Node floor', dbOf: 'berth',
  noop: (db, wl) => ({ cmd: NODE, args: [join(ROOT, 'bench/runners/node-floor.cjs'), dbUrl(db), wl.berth], cwd: wl.root }),
};

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
function safeExec(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return null;
  }
}

/** Printable form of a tool's command, with <url> and <dir> placeholders. */
function commandTemplate(spec, db, wl) {
  const show = (s) => String(s)
    .replace(dbUrl(db, NO_SSL), '<url>?sslmode=disable')
    .replace(dbUrl(db), '<url>')
    .replace(wl.root, '<workdir>')
    .replace(ROOT + '/', '');
  const env = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${show(v)} `).join('');
  const cmd = spec.cmd === NODE ? 'node' : show(spec.cmd);
  return `${env}${cmd} ${spec.args.map(show).join(' ')}`;
}

// ---------------------------------------------------------------- figures
const results = {
  startedAt: new Date().toISOString(),
  mode: QUICK ? 'quick' : 'full',
  params: P,
  machine: {},
  tools: {},
  commands: {},
  figures: {},
  loadavg: [],
};

/**
 * Median over repetitions of (tool's run / baseline's run in the same
 * repetition). Runs are interleaved, so this cancels slow drifts of the
 * machine that a ratio of medians does not.
 */
function pairedRatio(runs, baseRuns) {
  if (!runs || !baseRuns) return NaN;
  const ok = (r) => r && (r.ok ?? r.code === 0);
  return median(runs.map((r, i) => (ok(r) && ok(baseRuns[i]) ? r.ms / baseRuns[i].ms : NaN)));
}

/** Apply a workload on a fresh DB and check the result; returns run + db state. */
async function applyOnce(tool, wl, { rss = false, keep = false, tag, timeoutMs = TIMEOUT.apply } = {}) {
  const db = await createDb(tool.id);
  const r = await runChild(tool.apply(db, wl), { rss, timeoutMs, tag: tag ?? `${tool.id.replace(/\W/g, '')}-apply` });
  const state = await inspectDb(db);
  const ok = r.code === 0 && state.tables === wl.n;
  if (!keep) await dropDb(db);
  return { ...r, ok, state, db: keep ? db : undefined };
}

async function preflight(tools) {
  // Smoke-run every tool on 3 migrations: warms the file cache, checks commands.
  const wl = ensureGenerated({ n: 3, outDir: join(WORK, 'migrations-3') });
  for (const t of tools) {
    if (t.unavailable) continue;
    const r = await applyOnce(t, wl, { keep: true, tag: `${t.id.replace(/\W/g, '')}-preflight` });
    let noop = { code: 0 };
    if (r.ok) noop = await runChild(t.noop(r.db, wl), { tag: `${t.id.replace(/\W/g, '')}-preflight-noop` });
    await dropDb(r.db);
    if (!r.ok || noop.code !== 0) {
      t.unavailable = `failed preflight: ${!r.ok ? `apply exit ${r.code}, ${r.state.tables}/3 tables` : `no-op exit ${noop.code}`}; ${(r.ok ? noop : r).err}`.slice(0, 300);
      log(`${t.id}: ${t.unavailable}`);
    }
  }
}

async function figureA(tools) {
  const wl = ensureGenerated({ n: P.nA, outDir: join(WORK, `migrations-${P.nA}`) });
  log(`(a) apply ${wl.n} migrations from empty, ${P.repsA} reps, workload sha256 ${wl.sha256.slice(0, 12)}`);
  const fig = { n: wl.n, reps: P.repsA, sha256: wl.sha256, tools: {} };
  const live = tools.filter((t) => !t.unavailable);
  if (live.some((t) => t.id === 'berth')) live.push(BERTH_LINT_OFF);
  for (const t of live) fig.tools[t.id] = { runs: [] };
  for (let rep = 0; rep < P.repsA; rep++) {
    for (const t of rotate(live, rep)) {
      if (fig.tools[t.id].timedOut) continue;
      const r = await applyOnce(t, wl, { rss: true });
      if (r.timedOut) fig.tools[t.id].timedOut = true;
      fig.tools[t.id].runs.push({ ms: r.ms, code: r.code, ok: r.ok, rssKiB: r.rssKiB, tables: r.state.tables, timedOut: r.timedOut || undefined, err: r.ok ? undefined : r.err });
      log(`(a) rep ${rep + 1}/${P.repsA} ${t.id}: ${fmtMs(r.ms)}, ${fmtMiB(r.rssKiB)}${r.ok ? '' : ` FAILED exit ${r.code}, ${r.state.tables}/${wl.n} tables: ${r.err}`}`);
    }
  }
  for (const f of Object.values(fig.tools)) {
    const okRuns = f.runs.filter((r) => r.ok);
    f.failures = f.runs.length - okRuns.length;
    f.medianMs = median(okRuns.map((r) => r.ms));
    f.minMs = Math.min(...okRuns.map((r) => r.ms));
    f.maxMs = Math.max(...okRuns.map((r) => r.ms));
    f.medianRssKiB = median(okRuns.map((r) => r.rssKiB));
    f.maxRssKiB = Math.max(...okRuns.map((r) => r.rssKiB));
    if (!okRuns.length) f.minMs = f.maxMs = f.maxRssKiB = NaN;
  }
  const floor = fig.tools.psql?.medianMs;
  for (const f of Object.values(fig.tools)) {
    f.ratioToPsql = f.medianMs / floor;
    f.pairedRatioToPsql = pairedRatio(f.runs, fig.tools.psql?.runs);
  }
  results.loadavg.push({ after: 'a', loadavg: os.loadavg() });
  return fig;
}

async function figureB(tools) {
  const wl = ensureGenerated({ n: P.nA, outDir: join(WORK, `migrations-${P.nA}`) });
  log(`(b) no-op migrate on an up-to-date database (${wl.n} applied), ${P.repsB} reps`);
  const fig = { n: wl.n, reps: P.repsB, tools: {} };
  const dbs = new Map();
  const live = [];
  for (const t of tools.filter((x) => !x.unavailable)) {
    const r = await applyOnce(t, wl, { keep: true, tag: `${t.id.replace(/\W/g, '')}-b-setup` });
    if (!r.ok) {
      await dropDb(r.db);
      fig.tools[t.id] = { setupFailed: `exit ${r.code}: ${r.err}` };
      log(`(b) setup for ${t.id} failed: exit ${r.code} ${r.err}`);
      continue;
    }
    dbs.set(t.id, r.db);
    live.push(t);
  }
  const berthLive = live.some((t) => t.id === 'berth');
  const contenders = [NODE0, ...(NODE0_CALLER ? [NODE0_CALLER] : []), ...live, ...(berthLive ? [NODE_FLOOR] : []), ...(BERTH_CALLER && berthLive ? [BERTH_CALLER] : [])];
  for (const t of contenders) fig.tools[t.id] = { runs: [] };
  for (let rep = 0; rep < P.repsB; rep++) {
    for (const t of rotate(contenders, rep)) {
      if (fig.tools[t.id].timedOut) continue;
      const r = await runChild(t.noop(dbs.get(t.dbOf ?? t.id), wl), { timeoutMs: TIMEOUT.noop, tag: `${t.id.replace(/\W/g, '')}-noop` });
      if (r.timedOut) fig.tools[t.id].timedOut = true;
      fig.tools[t.id].runs.push({ ms: r.ms, code: r.code, timedOut: r.timedOut || undefined, err: r.code === 0 ? undefined : r.err });
    }
  }
  for (const [id, db] of dbs) {
    const st = await inspectDb(db);
    fig.tools[id].tablesAfter = st.tables;
    await dropDb(db);
  }
  for (const f of Object.values(fig.tools)) {
    if (!f.runs) continue;
    const ok = f.runs.filter((r) => r.code === 0);
    f.failures = f.runs.length - ok.length;
    f.medianMs = median(ok.map((r) => r.ms));
    f.minMs = ok.length ? Math.min(...ok.map((r) => r.ms)) : NaN;
    f.maxMs = ok.length ? Math.max(...ok.map((r) => r.ms)) : NaN;
  }
  const base = fig.tools[NODE0.id].medianMs;
  for (const f of Object.values(fig.tools)) {
    if (!f.runs) continue;
    f.ratioToNode = f.medianMs / base;
    f.pairedRatioToNode = pairedRatio(f.runs, fig.tools[NODE0.id].runs);
  }
  results.loadavg.push({ after: 'b', loadavg: os.loadavg() });
  for (const [id, f] of Object.entries(fig.tools)) if (f.runs) log(`(b) ${id}: median ${fmtMs(f.medianMs)}${f.failures ? `, ${f.failures} failed` : ''}`);
  return fig;
}

async function figureC(tools) {
  const wl = ensureGenerated({ n: P.nC, outDir: join(WORK, `migrations-${P.nC}`) });
  const live = tools.filter((t) => !t.unavailable && t.concurrent);
  log(`(c) ${P.runners} runners at once on an empty database, ${wl.n} migrations, ${P.repsC} reps`);
  const fig = { n: wl.n, runners: P.runners, reps: P.repsC, tools: {} };
  for (const t of live) fig.tools[t.id] = { single: [], rounds: [] };
  for (let rep = 0; rep < P.repsC; rep++) {
    for (const t of rotate(live, rep)) {
      if (fig.tools[t.id].timedOut) continue;
      const one = await applyOnce(t, wl, { tag: `${t.id.replace(/\W/g, '')}-c-single` });
      fig.tools[t.id].single.push({ ms: one.ms, code: one.code, ok: one.ok });

      const db = await createDb(t.id);
      const spec = t.apply(db, wl);
      const t0 = performance.now();
      const runs = await Promise.all(
        Array.from({ length: P.runners }, (_, k) => runChild(spec, { timeoutMs: TIMEOUT.concurrent, tag: `${t.id.replace(/\W/g, '')}-c-${k}` })
          .then((r) => ({ ...r, end: performance.now() }))),
      );
      const wall = Math.max(...runs.map((r) => r.end)) - t0;
      const state = await inspectDb(db);
      await dropDb(db);
      const failed = runs.filter((r) => r.code !== 0);
      if (runs.some((r) => r.timedOut) || one.timedOut) fig.tools[t.id].timedOut = true;
      const reasons = [...new Set(failed.map((r) => (r.timedOut ? 'timeout' : r.err).slice(0, 200)))];
      fig.tools[t.id].rounds.push({ wallMs: wall, nonZero: failed.length, tables: state.tables, history: state.history, reasons: reasons.slice(0, 3) });
      log(`(c) rep ${rep + 1}/${P.repsC} ${t.id}: ${failed.length}/${P.runners} non-zero, wall ${fmtMs(wall)} (one runner ${fmtMs(one.ms)}), ${state.tables}/${wl.n} tables, history ${JSON.stringify(state.history)}`);
    }
  }
  for (const f of Object.values(fig.tools)) {
    f.medianNonZero = median(f.rounds.map((r) => r.nonZero));
    f.totalNonZero = f.rounds.reduce((s, r) => s + r.nonZero, 0);
    f.medianWallMs = median(f.rounds.map((r) => r.wallMs));
    f.medianSingleMs = median(f.single.filter((r) => r.ok).map((r) => r.ms));
    f.wallRatio = f.medianWallMs / f.medianSingleMs;
    f.incompleteRounds = f.rounds.filter((r) => r.tables !== wl.n).length;
  }
  return fig;
}

// ---------------------------------------------------------------- report
function table(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  return [line(rows[0]), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

function report(tools) {
  const out = [];
  const m = results.machine;
  out.push('', `berth benchmark — ${results.mode} run, ${results.startedAt}`);
  out.push(`machine: ${m.cores} cores (${m.cpu}), ${m.memGiB} GiB RAM, ${m.os}, node ${m.node}, load avg at start ${m.loadavg}`);
  out.push(`postgres: ${m.pg}; fsync=${m.fsync}, synchronous_commit=${m.synchronous_commit}, wal_sync_method=${m.wal_sync_method}, shared_buffers=${m.shared_buffers}`);
  out.push(`psql: ${PSQL}; children run with a clean environment (${Object.keys(BASE_ENV).join(', ')} only)`);
  out.push(`peak RSS via ${GNU_TIME ? 'GNU time -f %M (largest process in the tree)' : 'polling /proc/<pid>/status VmHWM of the process tree'}`);
  out.push(`versions: ${tools.map((t) => `${t.id} ${results.tools[t.id].version ?? '?'}`).join(', ')}`, '');

  const A = results.figures.a;
  const B = results.figures.b;
  const C = results.figures.c;
  const cell = (t, fn) => {
    if (t.unavailable) return t.unavailable.startsWith('not built') ? 'not built' : 'failed';
    try {
      return fn();
    } catch {
      return '—';
    }
  };
  const mark = (t, ok) => (t.id === 'berth' && !t.unavailable && ok !== undefined ? (ok ? ' ok' : ' MISS') : '');
  const header = ['figure', ...tools.map((t) => t.label), 'berth target'];
  const rows = [header];
  if (A) {
    rows.push([`(a) apply ${A.n} from empty, median wall`, ...tools.map((t) => cell(t, () => {
      const f = A.tools[t.id];
      return `${fmtMs(f.medianMs)}${f.failures ? ` (${f.failures}/${f.runs.length} failed)` : ''}`;
    })), '']);
    rows.push(['(a) ratio to psql floor', ...tools.map((t) => cell(t, () => fmtRatio(A.tools[t.id].ratioToPsql) + mark(t, A.tools[t.id].ratioToPsql <= 1.05))), '≤ 1.05']);
    const off = A.tools[BERTH_LINT_OFF.id];
    if (off?.medianMs) {
      rows.push(['(a) same, berth with --lint off', ...tools.map((t) => (t.id !== 'berth' ? '' : `${fmtMs(off.medianMs)}, ratio ${fmtRatio(off.ratioToPsql)} (paired ${fmtRatio(off.pairedRatioToPsql)})`)), '']);
    }
  }
  if (B) {
    const node0 = B.tools[NODE0.id].medianMs;
    rows.push([`(b) no-op migrate (${B.n} applied), median wall`, ...tools.map((t) => cell(t, () => {
      const f = B.tools[t.id];
      if (f.setupFailed) return 'setup failed';
      return `${fmtMs(f.medianMs)}${f.failures ? ` (${f.failures} failed)` : ''}${t.id === 'psql' ? `; node -e 0 ${fmtMs(node0)}` : ''}`;
    })), '']);
    rows.push(['(b) ratio to node -e 0', ...tools.map((t) => cell(t, () => `${fmtRatio(B.tools[t.id].ratioToNode)}${mark(t, B.tools[t.id].ratioToNode <= 1.4)}`)), '≤ 1.40']);
    const floor = B.tools[NODE_FLOOR.id];
    if (floor?.medianMs) {
      rows.push([`(b) ratio to the Node floor (${fmtMs(floor.medianMs)}, ${fmtRatio(floor.ratioToNode)} × node -e 0)`,
        ...tools.map((t) => (t.id !== 'berth' ? '' : fmtRatio(B.tools.berth.medianMs / floor.medianMs))), '']);
    }
    const callerBerth = BERTH_CALLER && B.tools[BERTH_CALLER.id];
    const callerNode = NODE0_CALLER && B.tools[NODE0_CALLER.id];
    if (callerBerth?.medianMs && callerNode?.medianMs) {
      const ratio = callerBerth.medianMs / callerNode.medianMs;
      rows.push([`(b) same, caller's NODE_* env (node -e 0 ${fmtMs(callerNode.medianMs)})`, ...tools.map((t) => (t.id !== 'berth' ? '' : `${fmtMs(callerBerth.medianMs)}, ratio ${fmtRatio(ratio)}${mark(t, ratio <= 1.4)}`)), '≤ 1.40']);
    }
  }
  if (C) {
    rows.push([`(c) ${C.runners} runners at once, ${C.n} migrations: non-zero exits`, ...tools.map((t) => (!t.concurrent ? '—' : cell(t, () => {
      const f = C.tools[t.id];
      const inc = f.incompleteRounds ? `, ${f.incompleteRounds}/${f.rounds.length} rounds left DB incomplete` : '';
      return `${f.medianNonZero}/${C.runners}${C.reps > 1 ? ` (${f.totalNonZero}/${C.runners * C.reps} total)` : ''}${inc}${mark(t, f.totalNonZero === 0 && !f.incompleteRounds)}`;
    }))), `0/${P.runners}`]);
    rows.push([`(c) wall of ${C.runners} / wall of one runner`, ...tools.map((t) => (!t.concurrent ? '—' : cell(t, () => {
      const f = C.tools[t.id];
      return `${fmtRatio(f.wallRatio)} (${fmtMs(f.medianWallMs)} / ${fmtMs(f.medianSingleMs)})${mark(t, f.wallRatio <= 1.3)}`;
    }))), '≤ 1.30']);
  }
  if (A) {
    rows.push([`peak RSS while applying ${A.n}, median`, ...tools.map((t) => cell(t, () => `${fmtMiB(A.tools[t.id].medianRssKiB)}${mark(t, A.tools[t.id].medianRssKiB <= 60 * 1024)}`)), '≤ 60 MiB']);
    const off = A.tools[BERTH_LINT_OFF.id];
    if (off?.medianRssKiB) rows.push(['peak RSS, berth with --lint off', ...tools.map((t) => (t.id !== 'berth' ? '' : fmtMiB(off.medianRssKiB))), '']);
  }
  const hasBerth = tools.some((t) => t.id === 'berth');
  out.push(table(hasBerth ? rows : rows.map((r) => r.slice(0, -1))), '');

  // Spread, so a reader can judge the noise.
  const spread = [['spread (min – max)', ...tools.map((t) => t.label)]];
  if (A) {
    spread.push(['(a) wall', ...tools.map((t) => cell(t, () => `${fmtMs(A.tools[t.id].minMs)} – ${fmtMs(A.tools[t.id].maxMs)}`))]);
    spread.push(['(a) ratio to psql, paired per rep', ...tools.map((t) => cell(t, () => fmtRatio(A.tools[t.id].pairedRatioToPsql)))]);
  }
  if (B) {
    spread.push(['(b) wall', ...tools.map((t) => cell(t, () => `${fmtMs(B.tools[t.id].minMs)} – ${fmtMs(B.tools[t.id].maxMs)}`))]);
    spread.push(['(b) ratio to node -e 0, paired per rep', ...tools.map((t) => cell(t, () => fmtRatio(B.tools[t.id].pairedRatioToNode)))]);
    const n0 = B.tools[NODE0.id];
    spread.push(['(b) node -e 0', `median ${fmtMs(n0.medianMs)}: ${fmtMs(n0.minMs)} – ${fmtMs(n0.maxMs)}`, ...tools.slice(1).map(() => '')]);
    const nc = NODE0_CALLER && B.tools[NODE0_CALLER.id];
    const floor = B.tools[NODE_FLOOR.id];
    if (floor?.medianMs) {
      spread.push(['(b) Node floor', `median ${fmtMs(floor.medianMs)}: ${fmtMs(floor.minMs)} – ${fmtMs(floor.maxMs)}`, ...tools.slice(1).map((t) => (t.id !== 'berth' ? '' : `berth / floor, paired: ${fmtRatio(pairedRatio(B.tools.berth.runs, floor.runs))}`))]);
    }
    if (nc) spread.push([`(b) node -e 0 with caller's ${Object.keys(CALLER_NODE_ENV).join(', ')}`, `median ${fmtMs(nc.medianMs)}: ${fmtMs(nc.minMs)} – ${fmtMs(nc.maxMs)}`, ...tools.slice(1).map(() => '')]);
  }
  if (C) spread.push([`(c) non-zero per round`, ...tools.map((t) => (!t.concurrent ? '—' : cell(t, () => C.tools[t.id].rounds.map((r) => r.nonZero).join(', '))))]);
  if (A) spread.push(['peak RSS', ...tools.map((t) => cell(t, () => `${fmtMiB(Math.min(...A.tools[t.id].runs.filter((r) => r.ok).map((r) => r.rssKiB)))} – ${fmtMiB(A.tools[t.id].maxRssKiB)}`))]);
  if (spread.length > 1) out.push(table(spread), '');

  if (C) {
    out.push('(c) why runners exited non-zero (first distinct messages):');
    for (const t of tools.filter((x) => x.concurrent && !x.unavailable)) {
      const rs = [...new Set(C.tools[t.id].rounds.flatMap((r) => r.reasons))];
      const hist = C.tools[t.id].rounds.map((r) => JSON.stringify(r.history)).at(-1);
      out.push(`  ${t.id}: ${rs.length ? rs.slice(0, 2).join(' || ') : 'none'}; history rows after last round: ${hist}`);
    }
    out.push('');
  }
  out.push(...mariadbReport(results.figures.mariadb, { table, fmtMs, fmtRatio, fmtMiB }));
  out.push('commands (<url> = postgres://postgres@127.0.0.1:5432/<fresh random db>, <workdir> = bench/.work/migrations-<n>):');
  for (const t of tools) {
    out.push(`  ${t.id}: ${results.commands[t.id]?.apply ?? t.unavailable}`);
    if (results.commands[t.id]?.noop && results.commands[t.id].noop !== results.commands[t.id].apply) out.push(`  ${t.id} (b): ${results.commands[t.id].noop}`);
  }
  out.push(`  node -e 0 (b baseline): node -e 0`);
  if (results.figures.mariadb && !results.figures.mariadb.unavailable) {
    out.push(`  MariaDB (<my> = ${MYSQL_ADMIN_URL}<fresh random db>, <workdir> = bench/.work/mysql-migrations-<n>): mariadb client floor: mariadb -h <host> -P <port> -u <user> <db> < <workdir>/client/floor.sql;` +
      ' dbmate: dbmate --url <my> --migrations-dir <workdir>/dbmate/db/migrations --no-dump-schema migrate; berth: node packages/berth/bin/berth.js migrate --database-url <my> --dir <workdir>/berth --log-format json');
  }
  if (B?.tools[NODE_FLOOR.id]) out.push('  Node floor (b): node bench/runners/node-floor.cjs <url> <workdir>/berth');
  if (A?.tools[BERTH_LINT_OFF.id]) out.push(`  ${BERTH_LINT_OFF.id} (a): berth's command with --lint off`);
  // Noise: this machine may be shared (builds, test suites, other benchmarks).
  const cores = os.cpus().length;
  const busy = results.loadavg.filter((l) => l.loadavg[0] > cores);
  if (busy.length) {
    out.push(`warning: the machine was busy (1-min load ${busy.map((l) => `${l.loadavg[0].toFixed(1)} ${l.after === 'start' ? 'at start' : `after (${l.after})`}`).join(', ')} on ${cores} cores): figures are noisy, compare the paired ratios or run again on a quiet machine`);
  }
  const floorSpread = A?.tools.psql && A.tools.psql.maxMs / A.tools.psql.minMs;
  if (floorSpread > 1.3) out.push(`warning: the psql floor varied ${floorSpread.toFixed(1)}x between reps in (a): disk or CPU contention`);
  const unavailable = tools.filter((t) => t.unavailable);
  for (const t of unavailable) out.push(`note: ${t.id}: ${t.unavailable}`);
  return out.join('\n');
}

// ---------------------------------------------------------------- main
let cleaning = null;
/** Kill running children, drop every database this run created. Idempotent. */
function cleanup() {
  cleaning ??= doCleanup();
  return cleaning;
}
async function doCleanup() {
  stopping = true;
  for (const c of running) {
    try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  // The admin connection runs queries in order: a CREATE in flight finishes
  // before these DROPs run.
  for (const db of [...created]) {
    try { await dropDb(db); } catch (err) { log(`could not drop ${db}: ${err.message}`); }
  }
  await cleanupMariadb();
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    log(`${sig}: cleaning up`);
    await cleanup();
    await admin.end().catch(() => {});
    process.exit(130);
  });
}

async function main() {
  const began = performance.now();
  rmSync(LOGS, { recursive: true, force: true });
  mkdirSync(LOGS, { recursive: true });
  await admin.connect();

  const only = opt('--tools')?.split(',').map((s) => s.trim());
  const serverMajor = Math.floor(Number((await admin.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v) / 10000);
  PSQL = resolvePsql(serverMajor);

  const tools = TOOLS.filter((t) => !only || only.includes(t.id) || t.id === 'psql');
  for (const t of tools) {
    t.unavailable = t.available();
    results.tools[t.id] = { version: t.unavailable ? null : t.version(), unavailable: t.unavailable ?? undefined };
  }
  const setting = async (k) => (await admin.query(`SELECT current_setting($1) AS v`, [k])).rows[0].v;
  results.loadavg.push({ after: 'start', loadavg: os.loadavg() });
  results.machine = {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model?.trim(),
    memGiB: (os.totalmem() / 2 ** 30).toFixed(0),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    pg: (await admin.query('SELECT version() AS v')).rows[0].v.split(' on ')[0],
    fsync: await setting('fsync'),
    synchronous_commit: await setting('synchronous_commit'),
    wal_sync_method: await setting('wal_sync_method'),
    shared_buffers: await setting('shared_buffers'),
    rssMethod: GNU_TIME ? 'gnu-time' : 'proc-vmhwm',
  };
  log(`machine: ${results.machine.cores} cores, ${results.machine.pg}, mode ${results.mode}`);
  if (!GNU_TIME) log('GNU time not found at /usr/bin/time (apt-get install -y time); polling /proc VmHWM instead');

  // Record the exact commands, with placeholders.
  const wlDemo = ensureGenerated({ n: 3, outDir: join(WORK, 'migrations-3') });
  for (const t of tools) {
    const a = t.apply('DB', wlDemo);
    const n = t.noop('DB', wlDemo);
    results.commands[t.id] = { apply: commandTemplate(a, 'DB', wlDemo), noop: commandTemplate(n, 'DB', wlDemo) };
  }

  if (DBS.has('postgres')) await preflight(tools);
  const figures = { a: figureA, b: figureB, c: figureC };
  results.elapsedByFigureS = {};
  for (const [k, fn] of Object.entries(figures)) {
    if (!ONLY.has(k) || !DBS.has('postgres')) continue;
    const t0 = performance.now();
    results.figures[k] = await fn(tools);
    results.elapsedByFigureS[k] = Math.round((performance.now() - t0) / 1000);
    log(`(${k}) took ${results.elapsedByFigureS[k]} s`);
  }

  if (DBS.has('mariadb') && (ONLY.has('a') || ONLY.has('c'))) {
    const t0 = performance.now();
    results.figures.mariadb = await mariadbFigures({
      P, only: ONLY, work: WORK, runChild, log, median, berthBin: BERTH_BIN, dbmateBin: DBMATE_BIN, node: NODE,
    });
    results.elapsedByFigureS.mariadb = Math.round((performance.now() - t0) / 1000);
    if (results.figures.mariadb.unavailable) log(`MariaDB figures skipped: ${results.figures.mariadb.unavailable}`);
  }

  results.finishedAt = new Date().toISOString();
  results.elapsedS = Math.round((performance.now() - began) / 1000);
  console.log(report(tools));
  console.log(`\nelapsed ${results.elapsedS} s (${Object.entries(results.elapsedByFigureS).map(([k, v]) => `(${k}) ${v} s`).join(', ')})`);
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, QUICK ? 'latest-quick.json' : 'latest.json');
  writeFileSync(file, JSON.stringify(results, (k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  console.log(`results written to ${file.slice(ROOT.length + 1)}`);
}

try {
  await main();
} catch (err) {
  if (!stopping) console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
  await admin.end().catch(() => {});
}
