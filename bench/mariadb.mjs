// The MariaDB column of the benchmark: figures (a) and (c) on MySQL / MariaDB, berth against
// dbmate (the peer that migrates MySQL) and a floor of the `mariadb` client. Run by run.mjs when
// a server answers at BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306/). See README.md.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';

export const MYSQL_ADMIN_URL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';
const HISTORY = 'bench_history';

/** Migration i on MySQL: the PostgreSQL workload's table and index, in MySQL's types. */
export function mysqlMigrationSql(i, n) {
  const t = `bench_t${String(i).padStart(Math.max(4, String(n).length), '0')}`;
  return (
    `CREATE TABLE ${t} (id bigint primary key, name varchar(100) not null, created_at timestamp(6) not null default current_timestamp(6));\n` +
    `CREATE INDEX ${t}_name_idx ON ${t} (name);\n`
  );
}

/** berth's and dbmate's layouts and the client floor (each statement, then one history row per migration). */
export function ensureMysqlWorkload({ n, outDir }) {
  outDir = resolve(outDir);
  const paths = { root: outDir, berth: join(outDir, 'berth'), dbmate: join(outDir, 'dbmate', 'db', 'migrations'), floor: join(outDir, 'client', 'floor.sql') };
  const sha = createHash('sha256');
  for (let i = 1; i <= n; i++) sha.update(mysqlMigrationSql(i, n));
  const sha256 = sha.digest('hex');
  const manifest = join(outDir, 'manifest.json');
  if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).sha256 === sha256) return { ...paths, n, sha256 };
  rmSync(outDir, { recursive: true, force: true });
  for (const d of [paths.berth, paths.dbmate, join(outDir, 'client')]) mkdirSync(d, { recursive: true });
  const floor = [`CREATE TABLE ${HISTORY} (version bigint primary key, applied_at timestamp(6) not null default current_timestamp(6));\n`];
  const w = Math.max(4, String(n).length);
  for (let i = 1; i <= n; i++) {
    const v = String(i).padStart(w, '0');
    const sql = mysqlMigrationSql(i, n);
    writeFileSync(join(paths.berth, `${v}_t${v}.up.sql`), sql);
    writeFileSync(join(paths.dbmate, `${v}_t${v}.sql`), `-- migrate:up\n${sql}\n-- migrate:down\n`);
    // DDL commits implicitly: there is no transaction to wrap the migration in.
    floor.push(`${sql}INSERT INTO ${HISTORY} (version) VALUES (${i});\n`);
  }
  writeFileSync(paths.floor, floor.join(''));
  writeFileSync(manifest, JSON.stringify({ n, sha256 }) + '\n');
  return { ...paths, n, sha256 };
}

/**
 * Runs the MariaDB figures with run.mjs's helpers; returns { server, tools, a, c } or, when no
 * server answers, { unavailable }.
 */
export async function mariadbFigures({ P, only, work, runChild, log, median, berthBin, dbmateBin, node }) {
  let admin;
  try {
    admin = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 3_000 });
  } catch (err) {
    return { unavailable: `no MySQL/MariaDB at ${MYSQL_ADMIN_URL} (${err.message})` };
  }
  cleanupHook = async () => {
    for (const db of [...created]) await dropDb(db).catch(() => undefined);
    await admin.end().catch(() => undefined);
  };
  const url = (db) => {
    const u = new URL(MYSQL_ADMIN_URL);
    u.pathname = `/${db}`;
    return u.toString();
  };
  const createDb = async (label) => {
    const name = `berth_bench_my_${label}_${randomBytes(4).toString('hex')}`;
    created.add(name);
    await admin.query(`CREATE DATABASE \`${name}\``);
    return name;
  };
  const dropDb = async (name) => {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    created.delete(name);
  };
  const tablesIn = async (db) => {
    const [rows] = await admin.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'bench\\_t%'", [db]);
    return Number(rows[0].n);
  };
  const u = new URL(MYSQL_ADMIN_URL);
  const clientArgs = ['-h', u.hostname, '-P', u.port || '3306', '-u', decodeURIComponent(u.username || 'root'), ...(u.password ? [`-p${decodeURIComponent(u.password)}`] : [])];
  const tools = [
    { id: 'client', label: 'mariadb client floor', concurrent: false, apply: (db, wl) => ({ cmd: 'sh', args: ['-c', `exec mariadb "$@" < ${wl.floor}`, 'mariadb', ...clientArgs, db], cwd: wl.root }) },
    { id: 'dbmate', label: 'dbmate', concurrent: true, apply: (db, wl) => ({ cmd: dbmateBin, args: ['--url', url(db), '--migrations-dir', wl.dbmate, '--no-dump-schema', 'migrate'], cwd: wl.root }) },
    { id: 'berth', label: 'berth', concurrent: true, apply: (db, wl) => ({ cmd: node, args: [berthBin, 'migrate', '--database-url', url(db), '--dir', wl.berth, '--log-format', 'json'], cwd: wl.root }) },
  ];
  const [[{ v: version }]] = await admin.query('SELECT VERSION() AS v');
  const [[flush]] = await admin.query('SELECT @@innodb_flush_log_at_trx_commit AS f, @@sync_binlog AS s, @@log_bin AS b');
  const result = { server: { version, innodb_flush_log_at_trx_commit: flush.f, sync_binlog: flush.s, log_bin: flush.b }, tools: tools.map((t) => t.id) };
  const applyOnce = async (tool, wl, tag) => {
    const db = await createDb(tool.id);
    const r = await runChild(tool.apply(db, wl), { rss: true, timeoutMs: 600_000, tag });
    const tables = await tablesIn(db);
    await dropDb(db);
    return { ms: r.ms, code: r.code, ok: r.code === 0 && tables === wl.n, tables, rssKiB: r.rssKiB, err: r.code === 0 ? undefined : r.err };
  };
  try {
    if (only.has('a')) {
      const wl = ensureMysqlWorkload({ n: P.nA, outDir: join(work, `mysql-migrations-${P.nA}`) });
      log(`(a, MariaDB) apply ${wl.n} migrations from empty, ${P.repsA} reps`);
      const fig = { n: wl.n, reps: P.repsA, tools: {} };
      for (const t of tools) fig.tools[t.id] = { runs: [] };
      for (let rep = 0; rep < P.repsA; rep++) {
        for (const t of tools.map((_, i) => tools[(i + rep) % tools.length])) {
          const r = await applyOnce(t, wl, `my-${t.id}-apply`);
          fig.tools[t.id].runs.push(r);
          log(`(a, MariaDB) rep ${rep + 1}/${P.repsA} ${t.id}: ${Math.round(r.ms)} ms${r.ok ? '' : ` FAILED exit ${r.code}, ${r.tables}/${wl.n} tables: ${r.err}`}`);
        }
      }
      for (const f of Object.values(fig.tools)) {
        const ok = f.runs.filter((r) => r.ok);
        f.failures = f.runs.length - ok.length;
        f.medianMs = median(ok.map((r) => r.ms));
        f.medianRssKiB = median(ok.map((r) => r.rssKiB));
      }
      for (const f of Object.values(fig.tools)) {
        f.ratioToFloor = f.medianMs / fig.tools.client.medianMs;
        f.pairedRatioToFloor = median(f.runs.map((r, i) => (r.ok && fig.tools.client.runs[i]?.ok ? r.ms / fig.tools.client.runs[i].ms : NaN)));
      }
      result.a = fig;
    }
    if (only.has('c')) {
      const wl = ensureMysqlWorkload({ n: P.nC, outDir: join(work, `mysql-migrations-${P.nC}`) });
      log(`(c, MariaDB) ${P.runners} runners at once on an empty database, ${wl.n} migrations, ${P.repsC} reps`);
      const fig = { n: wl.n, runners: P.runners, reps: P.repsC, tools: {} };
      for (const t of tools.filter((x) => x.concurrent)) {
        fig.tools[t.id] = { single: [], rounds: [] };
        for (let rep = 0; rep < P.repsC; rep++) {
          const one = await applyOnce(t, wl, `my-${t.id}-c-single`);
          fig.tools[t.id].single.push(one);
          const db = await createDb(t.id);
          const t0 = performance.now();
          const runs = await Promise.all(Array.from({ length: P.runners }, (_, k) => runChild(t.apply(db, wl), { timeoutMs: 300_000, tag: `my-${t.id}-c-${k}` })));
          const wallMs = performance.now() - t0;
          const tables = await tablesIn(db);
          const [hist] = await admin.query(`SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME NOT LIKE 'bench\\_t%'`, [db]);
          const history = {};
          for (const { t: name } of hist) history[name] = Number((await admin.query(`SELECT COUNT(*) AS n FROM \`${db}\`.\`${name}\``))[0][0].n);
          await dropDb(db);
          const failed = runs.filter((r) => r.code !== 0);
          fig.tools[t.id].rounds.push({ wallMs, nonZero: failed.length, tables, history, reasons: [...new Set(failed.map((r) => String(r.err).slice(0, 200)))].slice(0, 2) });
          log(`(c, MariaDB) rep ${rep + 1}/${P.repsC} ${t.id}: ${failed.length}/${P.runners} non-zero, wall ${Math.round(wallMs)} ms (one runner ${Math.round(one.ms)} ms), ${tables}/${wl.n} tables, history ${JSON.stringify(history)}`);
        }
        const f = fig.tools[t.id];
        f.totalNonZero = f.rounds.reduce((s, r) => s + r.nonZero, 0);
        f.medianWallMs = median(f.rounds.map((r) => r.wallMs));
        f.medianSingleMs = median(f.single.filter((r) => r.ok).map((r) => r.ms));
        f.wallRatio = f.medianWallMs / f.medianSingleMs;
        f.incompleteRounds = f.rounds.filter((r) => r.tables !== wl.n).length;
      }
      result.c = fig;
    }
    return result;
  } finally {
    await cleanupMariadb();
  }
}

const created = new Set();
let cleanupHook;

/** Drops every database the MariaDB figures created and ends their connection; for an interrupted run too. */
export async function cleanupMariadb() {
  const hook = cleanupHook;
  cleanupHook = undefined;
  await hook?.();
}

/** The MariaDB table of the report. */
export function mariadbReport(M, { table, fmtMs, fmtRatio, fmtMiB }) {
  if (!M) return [];
  if (M.unavailable) return [`MariaDB figures skipped: ${M.unavailable}`, ''];
  const labels = { client: 'mariadb client floor', dbmate: 'dbmate', berth: 'berth' };
  const rows = [['MariaDB', ...M.tools.map((id) => labels[id])]];
  if (M.a) {
    rows.push([`(a) apply ${M.a.n} from empty, median wall`, ...M.tools.map((id) => `${fmtMs(M.a.tools[id].medianMs)}${M.a.tools[id].failures ? ` (${M.a.tools[id].failures} failed)` : ''}`)]);
    rows.push(['(a) ratio to the client floor (paired)', ...M.tools.map((id) => `${fmtRatio(M.a.tools[id].ratioToFloor)} (${fmtRatio(M.a.tools[id].pairedRatioToFloor)})`)]);
    rows.push([`peak RSS while applying ${M.a.n}, median`, ...M.tools.map((id) => fmtMiB(M.a.tools[id].medianRssKiB))]);
  }
  if (M.c) {
    rows.push([`(c) ${M.c.runners} runners at once, ${M.c.n} migrations: non-zero exits`, ...M.tools.map((id) => {
      const f = M.c.tools[id];
      return f ? `${f.totalNonZero}/${M.c.runners * M.c.reps}${f.incompleteRounds ? `, ${f.incompleteRounds}/${f.rounds.length} rounds left DB incomplete` : ''}` : '—';
    })]);
    rows.push([`(c) wall of ${M.c.runners} / wall of one runner`, ...M.tools.map((id) => {
      const f = M.c.tools[id];
      return f ? `${fmtRatio(f.wallRatio)} (${fmtMs(f.medianWallMs)} / ${fmtMs(f.medianSingleMs)})` : '—';
    })]);
  }
  const s = M.server;
  const out = [`MariaDB: ${s.version}; innodb_flush_log_at_trx_commit=${s.innodb_flush_log_at_trx_commit}, log_bin=${s.log_bin}, sync_binlog=${s.sync_binlog}`, table(rows), ''];
  if (M.c) {
    for (const id of Object.keys(M.c.tools)) {
      const reasons = [...new Set(M.c.tools[id].rounds.flatMap((r) => r.reasons))];
      out.push(`  (c, MariaDB) ${id}: ${reasons.length ? reasons.join(' || ') : 'none'}; history rows after last round: ${JSON.stringify(M.c.tools[id].rounds.at(-1)?.history)}`);
    }
    out.push('');
  }
  return out;
}
