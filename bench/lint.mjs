#!/usr/bin/env node
// berth lint against squawk: both lint the same N generated migration files, one process each,
// paired run by run (the order alternates), and the report gives both medians, the ratio
// berth/squawk and each one's peak RSS, from one run. Ratios only mean something within a run.
//
//   node bench/lint.mjs [--files 1000] [--runs 7] [--workload small|typical]
//
// Two workloads, both run unless --workload picks one: `small` (12 shapes of ~180 bytes, so
// start-up weighs most) and `typical` (12 shapes of ~500 bytes: tables with a dozen columns,
// functions, seed data, views, partitions, policies; the size of real projects' migrations).
//
// berth runs as a user runs it: `node packages/berth/bin/berth.js lint <dir> --format json`.
// squawk runs as its raw binary (the one squawk-cli ships for this platform, not its Node
// wrapper): `squawk --reporter json --assume-in-transaction <dir>/*.sql`. Both write their
// findings to a pipe that the bench drains. Needs `npm run build -w berth` first and the bench
// workspace's dev dependencies (npm ci at the repo root); GNU time at /usr/bin/time for peak RSS.
// No database. Progress on stderr, the report on stdout, raw numbers in
// bench/results/lint-latest.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
const BIN = join(ROOT, 'packages/berth/bin/berth.js');
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i < 0 ? fallback : Number(argv[i + 1]);
};
const FILES = opt('--files', 1000);
if (!argv.includes('--workload')) {
  for (const workload of ['small', 'typical']) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...argv, '--workload', workload], { stdio: 'inherit' });
    if (child.status !== 0) process.exit(child.status ?? 1);
    console.log('');
  }
  process.exit(0);
}
const WORKLOAD = argv[argv.indexOf('--workload') + 1];
if (WORKLOAD !== 'small' && WORKLOAD !== 'typical') {
  console.error('--workload: small or typical');
  process.exit(2);
}
const RUNS = opt('--runs', 7);
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

if (!existsSync(join(ROOT, 'packages/berth/dist/cli.cjs'))) {
  console.error('berth is not built: run `npm run build -w berth` first');
  process.exit(2);
}

/** squawk-cli's binary for this platform, from the bench workspace's dev dependency. */
function squawkBinary() {
  const require = createRequire(join(BENCH, 'package.json'));
  try {
    const pkg = require.resolve(`@squawk-cli/${process.platform}-${process.arch}/package.json`);
    const bin = join(dirname(pkg), 'bin', process.platform === 'win32' ? 'squawk.exe' : 'squawk');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}
const SQUAWK = squawkBinary();

// Twelve shapes of migration, from a plain CREATE TABLE to files with several findings, cycled
// so the corpus has the statement mix of a real project (about 2 statements, 200 bytes a file).
const SHAPES = [
  (n) => `CREATE TABLE t${n} (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  name text NOT NULL,\n  created_at timestamptz NOT NULL DEFAULT now()\n);\nCREATE INDEX t${n}_name_idx ON t${n} (name);\nCOMMENT ON TABLE t${n} IS 'generated';\n`,
  (n) => `-- berth:lock-timeout 5s\nALTER TABLE t${n - 1} ADD COLUMN email text;\nALTER TABLE t${n - 1} ADD COLUMN status text NOT NULL DEFAULT 'new';\n`,
  (n) => `CREATE INDEX CONCURRENTLY IF NOT EXISTS t${n - 2}_email_idx ON t${n - 2} (email);\n`,
  (n) => `ALTER TABLE t${n - 3} ADD CONSTRAINT t${n - 3}_email_check CHECK (email LIKE '%@%');\nUPDATE t${n - 3} SET status = 'active';\n`,
  (n) => `-- berth:lock-timeout 5s\nALTER TABLE t${n - 4} ADD CONSTRAINT t${n - 4}_fk FOREIGN KEY (id) REFERENCES t${n - 4} (id) NOT VALID;\n`,
  (n) => `INSERT INTO settings (key, value) VALUES\n${Array.from({ length: 20 }, (_, i) => `  ('k${n}_${i}', 'v${i}')`).join(',\n')};\n`,
  (n) => `CREATE OR REPLACE FUNCTION f${n}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND\n$$;\nCREATE TRIGGER tr${n} BEFORE UPDATE ON t${n - 6} FOR EACH ROW EXECUTE FUNCTION f${n}();\n`,
  (n) => `-- berth:allow drop-column contract step: unused since v${n}\n-- berth:lock-timeout 5s\nALTER TABLE t${n - 7} DROP COLUMN email;\nALTER TABLE t${n - 7} RENAME COLUMN name TO full_name;\n`,
  (n) => `CREATE TYPE mood${n} AS ENUM ('a', 'b');\nCREATE TABLE m${n} (id bigint PRIMARY KEY, mood mood${n} NOT NULL, payload jsonb NOT NULL DEFAULT '{}');\nCREATE UNIQUE INDEX m${n}_payload ON m${n} ((payload->>'key'));\n`,
  (n) => `CREATE VIEW v${n} AS\n  SELECT a.id, a.name, count(*) AS n\n  FROM t${n - 9} a JOIN t${n - 8} b ON b.id = a.id\n  WHERE a.created_at > now() - interval '7 days'\n  GROUP BY a.id, a.name;\n`,
  (n) => `BEGIN;\nALTER TABLE t${n - 10} VALIDATE CONSTRAINT t${n - 10}_fk;\nALTER TABLE t${n - 10} ALTER COLUMN status SET NOT NULL;\nCOMMIT;\n`,
  (n) => `SET lock_timeout = '5s';\nALTER TABLE t${n - 11} ADD COLUMN settings json, ADD COLUMN kind text;\nALTER TYPE mood${n - 3} ADD VALUE 'c';\nREINDEX INDEX t${n - 11}_name_idx;\n`,
];

const cols = (n) => Array.from({ length: 10 }, (_, i) => `  c${i} ${['text', 'bigint', 'timestamptz', 'boolean', 'numeric(12,2)'][i % 5]}${i % 3 === 0 ? ' NOT NULL' : ''}${i % 4 === 1 ? ` DEFAULT ${['0', "'x'", 'now()', 'false', '0'][i % 5]}` : ''}`).join(',\n');
// Migrations of the size real projects have (about 500 bytes each).
const TYPICAL = [
  (n) => `CREATE TABLE accounts_${n} (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  owner_id bigint NOT NULL REFERENCES users (id),\n  email text NOT NULL,\n${cols(n)},\n  created_at timestamptz NOT NULL DEFAULT now(),\n  CONSTRAINT accounts_${n}_email_check CHECK (email LIKE '%@%')\n);\nCREATE UNIQUE INDEX accounts_${n}_email_key ON accounts_${n} (lower(email));\nCREATE INDEX accounts_${n}_owner_idx ON accounts_${n} (owner_id, created_at DESC);\nCOMMENT ON TABLE accounts_${n} IS 'accounts of batch ${n}';\n`,
  (n) => `-- berth:lock-timeout 5s\n-- Expand: new nullable columns the running release ignores.\nALTER TABLE accounts_${n - 1}\n  ADD COLUMN display_name text,\n  ADD COLUMN locale text DEFAULT 'en',\n  ADD COLUMN last_seen_at timestamptz,\n  ADD COLUMN flags integer NOT NULL DEFAULT 0;\nCOMMENT ON COLUMN accounts_${n - 1}.display_name IS 'shown in the UI';\nCOMMENT ON COLUMN accounts_${n - 1}.flags IS 'bit set, see docs/flags.md';\n`,
  (n) => `CREATE OR REPLACE FUNCTION touch_${n}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  IF TG_OP = 'UPDATE' AND NEW.* IS NOT DISTINCT FROM OLD.* THEN\n    RETURN NEW;\n  END IF;\n  NEW.updated_at := now();\n  IF NEW.email IS DISTINCT FROM OLD.email THEN\n    NEW.email := lower(trim(NEW.email));\n  END IF;\n  INSERT INTO audit_log (table_name, row_id, op, at) VALUES (TG_TABLE_NAME, NEW.id, TG_OP, now());\n  RETURN NEW;\nEND\n$$;\nCREATE TRIGGER touch_${n} BEFORE UPDATE ON accounts_${n - 2} FOR EACH ROW EXECUTE FUNCTION touch_${n}();\n`,
  (n) => `INSERT INTO settings (key, value, description) VALUES\n${Array.from({ length: 16 }, (_, i) => `  ('feature_${n}_${i}', '${i % 2 === 0 ? 'true' : 'false'}', 'toggle ${i} of release ${n}')`).join(',\n')}\nON CONFLICT (key) DO NOTHING;\n`,
  (n) => `CREATE OR REPLACE VIEW account_summary_${n} AS\n  SELECT a.id, a.email, a.created_at,\n         count(o.id) AS orders,\n         coalesce(sum(o.total), 0) AS spent,\n         CASE WHEN count(o.id) > 10 THEN 'gold' WHEN count(o.id) > 3 THEN 'silver' ELSE 'bronze' END AS tier\n  FROM accounts_${n - 4} a\n  LEFT JOIN orders o ON o.account_id = a.id AND o.status <> 'cancelled'\n  WHERE a.created_at > now() - interval '2 years'\n  GROUP BY a.id, a.email, a.created_at;\nCOMMENT ON VIEW account_summary_${n} IS 'read by the reporting service';\n`,
  (n) => `-- Built concurrently so that writes to accounts_${n - 5} go on while it builds.\nCREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_${n - 5}_last_seen_idx ON accounts_${n - 5} (last_seen_at) WHERE last_seen_at IS NOT NULL;\n`,
  (n) => `CREATE TYPE plan_${n} AS ENUM ('free', 'team', 'business', 'enterprise');\nCREATE TABLE subscriptions_${n} (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  account_id bigint NOT NULL,\n  plan plan_${n} NOT NULL DEFAULT 'free',\n  seats integer NOT NULL DEFAULT 1 CHECK (seats > 0),\n  started_at timestamptz NOT NULL DEFAULT now(),\n  ends_at timestamptz,\n  CONSTRAINT subscriptions_${n}_period CHECK (ends_at IS NULL OR ends_at > started_at)\n);\nCREATE INDEX subscriptions_${n}_account_idx ON subscriptions_${n} (account_id);\n`,
  (n) => `-- berth:no-transaction\n-- Backfill in batches, outside a transaction, after the expand migration.\nUPDATE accounts_${n - 7} SET locale = 'en' WHERE locale IS NULL AND id BETWEEN 1 AND 50000;\nUPDATE accounts_${n - 7} SET locale = 'en' WHERE locale IS NULL AND id BETWEEN 50001 AND 100000;\nUPDATE accounts_${n - 7} SET locale = 'en' WHERE locale IS NULL AND id BETWEEN 100001 AND 150000;\nANALYZE accounts_${n - 7};\n`,
  (n) => `-- berth:lock-timeout 5s\nALTER TABLE subscriptions_${n - 2}\n  ADD CONSTRAINT subscriptions_${n - 2}_account_fk FOREIGN KEY (account_id) REFERENCES accounts_${n - 8} (id) ON DELETE CASCADE NOT VALID;\nCOMMENT ON CONSTRAINT subscriptions_${n - 2}_account_fk ON subscriptions_${n - 2} IS 'validated by the next migration';\n`,
  (n) => `CREATE TABLE events_${n} (\n  id bigint GENERATED ALWAYS AS IDENTITY,\n  account_id bigint NOT NULL,\n  kind text NOT NULL,\n  payload jsonb NOT NULL DEFAULT '{}',\n  at timestamptz NOT NULL DEFAULT now(),\n  PRIMARY KEY (id, at)\n) PARTITION BY RANGE (at);\nCREATE TABLE events_${n}_2026 PARTITION OF events_${n} FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');\nCREATE TABLE events_${n}_2027 PARTITION OF events_${n} FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');\nCREATE INDEX events_${n}_account_idx ON events_${n} (account_id, at);\n`,
  (n) => `ALTER TABLE subscriptions_${n - 4} ENABLE ROW LEVEL SECURITY;\nCREATE POLICY subscriptions_${n - 4}_owner ON subscriptions_${n - 4}\n  USING (account_id = current_setting('app.account_id')::bigint)\n  WITH CHECK (account_id = current_setting('app.account_id')::bigint);\nGRANT SELECT, INSERT, UPDATE ON subscriptions_${n - 4} TO app;\nGRANT USAGE ON SCHEMA public TO reporting;\nGRANT SELECT ON account_summary_${n - 6} TO reporting;\n`,
  (n) => `BEGIN;\nALTER TABLE subscriptions_${n - 5} VALIDATE CONSTRAINT subscriptions_${n - 5}_account_fk;\nCREATE TABLE invoices_${n} (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  subscription_id bigint NOT NULL REFERENCES subscriptions_${n - 5} (id),\n  amount numeric(12,2) NOT NULL CHECK (amount >= 0),\n  issued_at timestamptz NOT NULL DEFAULT now(),\n  paid_at timestamptz\n);\nCREATE INDEX invoices_${n}_subscription_idx ON invoices_${n} (subscription_id);\nCOMMIT;\n`,
];

const work = mkdtempSync(join(os.tmpdir(), 'berth-bench-lint-'));
const cleanup = () => rmSync(work, { recursive: true, force: true });
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
const dir = join(work, 'migrations');
mkdirSync(dir);
let bytes = 0;
for (let i = 1; i <= FILES; i++) {
  const shapes = WORKLOAD === 'typical' ? TYPICAL : SHAPES;
  const text = shapes[(i - 1) % shapes.length](i);
  bytes += Buffer.byteLength(text);
  writeFileSync(join(dir, `${String(i).padStart(6, '0')}_m${i}.up.sql`), text);
}
const sqlFiles = readdirSync(dir).sort().map((f) => join(dir, f));
const one = join(work, 'one');
mkdirSync(one);
writeFileSync(join(one, '1_one.up.sql'), SHAPES[0](1));

// berth cold: no cache, every file parsed (as in a fresh CI container); berth warm: a second run
// over the same unchanged files, reusing the reports its cache kept (src/lint/cache.ts).
const CACHE = join(work, 'cache');
const TOOLS = {
  berth: (target) => [process.execPath, [BIN, 'lint', target, '--format', 'json', '--fail-on', 'none'], { BERTH_LINT_CACHE: 'off' }],
  'berth (warm cache)': (target) => [process.execPath, [BIN, 'lint', target, '--format', 'json', '--fail-on', 'none'], { BERTH_LINT_CACHE: CACHE }],
  squawk: (target) => [SQUAWK, ['--reporter', 'json', '--assume-in-transaction', ...(target === dir ? sqlFiles : readdirSync(target).map((f) => join(target, f)))]],
};

/** One run: wall time from spawn to exit, peak RSS from GNU time, and the report it printed. */
function run(tool, target) {
  const [cmd, args, extra] = TOOLS[tool](target);
  const env = { PATH: process.env.PATH ?? '', BERTH_LOG_FORMAT: 'json', ...extra };
  const started = process.hrtime.bigint();
  const child = TIME
    ? spawnSync(TIME, ['-f', '%M', '-o', join(work, 'rss'), cmd, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env })
    : spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // squawk exits 1 when it reports something.
  if (child.status !== 0 && !(tool === 'squawk' && child.status === 1)) throw new Error(`${tool} exited ${child.status}: ${child.stderr}`);
  const rssKiB = TIME ? Number(execFileSync('cat', [join(work, 'rss')], { encoding: 'utf8' }).trim().split('\n').at(-1)) : undefined;
  return { ms, rssKiB, report: JSON.parse(child.stdout) };
}

const median = (xs) => {
  const s = [...xs].filter((x) => x !== undefined).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const tools = SQUAWK ? ['berth', 'berth (warm cache)', 'squawk'] : ['berth', 'berth (warm cache)'];
if (!SQUAWK) console.error('[bench] squawk-cli is not installed (npm ci at the repo root installs the bench\'s dev dependencies): berth only');
console.error(`[bench] ${FILES} files (${(bytes / 1024).toFixed(0)} KiB) in ${dir}; warming up`);
const warm = Object.fromEntries(tools.map((t) => [t, run(t, dir)]));
if (JSON.stringify(warm['berth (warm cache)'].report) !== JSON.stringify(run('berth (warm cache)', dir).report)) throw new Error('berth reported differently from its cache');
if (warm.berth.report.files !== FILES) throw new Error(`expected ${FILES} files, berth linted ${warm.berth.report.files}`);
const full = Object.fromEntries(tools.map((t) => [t, []]));
const startup = Object.fromEntries(tools.map((t) => [t, []]));
for (let r = 0; r < RUNS; r++) {
  // Alternate who goes first, so neither always runs on a warmer machine.
  const order = r % 2 === 0 ? tools : [...tools].reverse();
  for (const t of order) full[t].push(run(t, dir));
  for (const t of order) startup[t].push(run(t, one));
  console.error(`[bench] run ${r + 1}/${RUNS}: ${order.map((t) => `${t} ${full[t].at(-1).ms.toFixed(0)} ms (1 file ${startup[t].at(-1).ms.toFixed(0)} ms)`).join(', ')}`);
}

const summary = Object.fromEntries(tools.map((t) => [t, {
  medianMs: median(full[t].map((x) => x.ms)),
  oneFileMedianMs: median(startup[t].map((x) => x.ms)),
  peakRssKiB: median(full[t].map((x) => x.rssKiB)),
  findings: t === 'squawk' ? warm.squawk.report.length : warm[t].report.findings.length,
}]));
const paired = (t) => (SQUAWK ? median(full[t].map((b, i) => b.ms / full.squawk[i].ms)) : undefined);
const result = {
  workload: WORKLOAD,
  files: FILES,
  bytes,
  runs: RUNS,
  tools: summary,
  ratio: SQUAWK ? summary.berth.medianMs / summary.squawk.medianMs : undefined,
  pairedRatioMedian: paired('berth'),
  warmRatio: SQUAWK ? summary['berth (warm cache)'].medianMs / summary.squawk.medianMs : undefined,
  warmPairedRatioMedian: paired('berth (warm cache)'),
  regressionSql: 'not shipped in the installed libpg-query or squawk-cli packages',
  machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', platform: `${os.platform()} ${os.arch()}`, loadavg: os.loadavg() },
  berth: execFileSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' }).trim(),
  squawk: SQUAWK ? execFileSync(SQUAWK, ['--version'], { encoding: 'utf8' }).trim() : undefined,
  raw: Object.fromEntries(tools.map((t) => [t, { ms: full[t].map((x) => Math.round(x.ms)), rssKiB: full[t].map((x) => x.rssKiB), oneFileMs: startup[t].map((x) => Math.round(x.ms)) }])),
  at: new Date().toISOString(),
};

const ms = (x) => (x === undefined ? '—' : `${Math.round(x)} ms`);
const mib = (k) => (k === undefined ? '— (no /usr/bin/time)' : `${(k / 1024).toFixed(1)} MiB`);
const lines = [
  `berth lint${SQUAWK ? ' and squawk' : ''}, ${FILES} migration files (${WORKLOAD} workload, ${(bytes / 1024).toFixed(0)} KiB), median of ${RUNS} paired runs`,
  '',
  `| measure | ${tools.join(' | ')} |`,
  `|---|${tools.map(() => '---').join('|')}|`,
  `| wall time, ${FILES} files (one process) | ${tools.map((t) => ms(summary[t].medianMs)).join(' | ')} |`,
  `| wall time, 1 file (start-up) | ${tools.map((t) => ms(summary[t].oneFileMedianMs)).join(' | ')} |`,
  `| peak RSS, ${FILES} files | ${tools.map((t) => mib(summary[t].peakRssKiB)).join(' | ')} |`,
  `| findings | ${tools.map((t) => summary[t].findings).join(' | ')} |`,
  '',
  ...(SQUAWK ? [
    `ratio berth/squawk, ${FILES} files, no cache: ${result.ratio.toFixed(2)} (median of the paired ratios: ${result.pairedRatioMedian.toFixed(2)})`,
    `ratio berth/squawk, ${FILES} files, warm cache: ${result.warmRatio.toFixed(2)} (median of the paired ratios: ${result.warmPairedRatioMedian.toFixed(2)})`,
  ] : []),
  `PostgreSQL regression SQL: ${result.regressionSql}, so not benchmarked.`,
  '',
  `${result.berth}${result.squawk ? `, ${result.squawk}` : ''}; ${result.machine.cpu}, ${result.machine.cpus} cores, Node ${process.version}, load ${result.machine.loadavg.map((l) => l.toFixed(1)).join(' ')}`,
];
console.log(lines.join('\n'));
mkdirSync(join(BENCH, 'results'), { recursive: true });
writeFileSync(join(BENCH, 'results', WORKLOAD === 'small' ? 'lint-latest.json' : `lint-${WORKLOAD}-latest.json`), `${JSON.stringify(result, null, 2)}\n`);
