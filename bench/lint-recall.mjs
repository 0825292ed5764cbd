#!/usr/bin/env node
// Recall and false positives of berth lint, and of squawk side by side, on a corpus written from
// the peers' own docs (bench/lint-recall/corpus.sql: squawk, strong_migrations, eugene, Atlas):
// an unsafe case is caught when the tool reports anything on it, a safe case is a false positive
// when the tool reports anything on it. Lock- and statement-timeout advice is left out of both
// counts, except for the cases about a missing lock timeout, because the examples set a timeout or
// not as their docs happen to; squawk's re-runnability rule (prefer-robust-stmts) too.
//
//   node bench/lint-recall.mjs [--verbose]
//
// Each case's migrations are linted as a directory, in order, by the built CLI
// (`berth lint <dir> --format json --no-cache`); squawk gets each file on its own
// (`--assume-in-transaction` unless the file says -- berth:no-transaction, `--pg-version` when the
// case names one). Needs `npm run build -w berth`; squawk-cli from the bench workspace is optional.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
const BIN = join(ROOT, 'packages/berth/bin/berth.js');
const VERBOSE = process.argv.includes('--verbose');
if (!existsSync(join(ROOT, 'packages/berth/dist/cli.cjs'))) {
  console.error('berth is not built: run `npm run build -w berth` first');
  process.exit(2);
}

export function readCorpus(text) {
  const cases = [];
  let current;
  for (const line of text.split('\n')) {
    const header = /^-- case (\S+): (unsafe|safe)\s*$/.exec(line);
    if (header) {
      current = { name: header[1], kind: header[2], migrations: [''], pg: undefined };
      cases.push(current);
      continue;
    }
    if (current === undefined) continue;
    if (line === '-- next') {
      current.migrations.push('');
      continue;
    }
    const pg = /^-- pg-version (\S+)$/.exec(line);
    if (pg) {
      current.pg = pg[1];
      continue;
    }
    current.migrations[current.migrations.length - 1] += `${line}\n`;
  }
  for (const c of cases) c.migrations = c.migrations.map((m) => m.replace(/\n+$/, '\n'));
  return cases;
}

const LOCK_TIMEOUT_RULES = new Set(['missing-lock-timeout', 'require-lock-timeout', 'require-timeout-settings']);
const TIMEOUT_RULES = new Set([...LOCK_TIMEOUT_RULES, 'require-statement-timeout', 'prefer-robust-stmts']);
const SQUAWK_STYLE = new Set(['prefer-bigint-over-int', 'prefer-bigint-over-smallint', 'prefer-identity', 'prefer-text-field', 'prefer-timestamp-tz', 'ban-char-field', 'require-table-schema']);
/** The rules that count for a case: lock timeout advice only on the cases about it. */
export const counts = (c, rules) => rules.filter((r) => !TIMEOUT_RULES.has(r) || (c.name.includes('lock-timeout') && LOCK_TIMEOUT_RULES.has(r)));

function squawkBinary() {
  const require = createRequire(join(BENCH, 'package.json'));
  try {
    const bin = join(dirname(require.resolve(`@squawk-cli/${process.platform}-${process.arch}/package.json`)), 'bin', 'squawk');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

function main() {
  const cases = readCorpus(readFileSync(join(BENCH, 'lint-recall', 'corpus.sql'), 'utf8'));
  const work = mkdtempSync(join(os.tmpdir(), 'berth-lint-recall-'));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  const SQUAWK = squawkBinary();
  const squawkJobs = new Map();
  cases.forEach((c, i) => {
    c.dir = join(work, String(i).padStart(3, '0'));
    mkdirSync(c.dir);
    c.files = c.migrations.map((text, k) => {
      const file = join(c.dir, `${String(k + 1).padStart(4, '0')}_m.up.sql`);
      writeFileSync(file, text);
      const job = `${/^-- berth:no-transaction$/m.test(text) ? 'autocommit' : 'tx'} ${c.pg ?? ''}`;
      if (!squawkJobs.has(job)) squawkJobs.set(job, []);
      squawkJobs.get(job).push(file);
      return file;
    });
  });

  for (const c of cases) {
    const child = spawnSync(process.execPath, [BIN, 'lint', c.dir, '--format', 'json', '--fail-on', 'none', '--no-cache', ...(c.pg ? ['--pg-version', c.pg] : [])], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    if (child.status !== 0) throw new Error(`berth failed on ${c.name}: ${child.stderr}`);
    c.berth = JSON.parse(child.stdout).findings.map((f) => f.rule);
  }

  const squawkRules = new Map();
  if (SQUAWK) {
    for (const [job, files] of squawkJobs) {
      const [mode, pg] = job.split(' ');
      const args = ['--reporter', 'json', ...(mode === 'tx' ? ['--assume-in-transaction'] : []), ...(pg ? [`--pg-version=${pg.includes('.') ? pg : `${pg}.0`}`] : []), ...files];
      let out;
      try {
        out = execFileSync(SQUAWK, args, { encoding: 'utf8' });
      } catch (err) {
        out = err.stdout ?? '[]';
      }
      for (const r of JSON.parse(out)) {
        if (!squawkRules.has(r.file)) squawkRules.set(r.file, []);
        squawkRules.get(r.file).push(r.rule_name);
      }
    }
    for (const c of cases) c.squawk = c.files.flatMap((f) => squawkRules.get(f) ?? []);
  }

  const tools = [
    ['berth', (c) => counts(c, c.berth)],
    ...(SQUAWK ? [
      ['squawk (default rules)', (c) => counts(c, c.squawk)],
      ['squawk (without its style rules)', (c) => counts(c, c.squawk).filter((r) => !SQUAWK_STYLE.has(r))],
    ] : []),
  ];
  const unsafe = cases.filter((c) => c.kind === 'unsafe');
  const safe = cases.filter((c) => c.kind === 'safe');
  const pct = (n, d) => `${((100 * n) / d).toFixed(0)} %`;
  const lines = [
    `lint recall and false positives: ${unsafe.length} unsafe and ${safe.length} safe cases from the peers' docs (bench/lint-recall/corpus.sql)`,
    '',
    '| tool | recall (unsafe flagged) | false positives (safe flagged) |',
    '|---|---|---|',
  ];
  const result = { unsafe: unsafe.length, safe: safe.length, tools: {} };
  for (const [name, rules] of tools) {
    const missed = unsafe.filter((c) => rules(c).length === 0).map((c) => c.name);
    const flagged = safe.filter((c) => rules(c).length > 0).map((c) => `${c.name} (${[...new Set(rules(c))].join(', ')})`);
    lines.push(`| ${name} | ${unsafe.length - missed.length}/${unsafe.length} = ${pct(unsafe.length - missed.length, unsafe.length)} | ${flagged.length}/${safe.length} = ${pct(flagged.length, safe.length)} |`);
    result.tools[name] = { caught: unsafe.length - missed.length, missed, falsePositives: flagged };
  }
  lines.push('');
  for (const [name] of tools) {
    const t = result.tools[name];
    if (t.missed.length) lines.push(`${name} misses: ${t.missed.join(', ')}`);
    if (t.falsePositives.length) lines.push(`${name} false positives: ${t.falsePositives.join('; ')}`);
  }
  if (!SQUAWK) lines.push('squawk-cli is not installed (npm ci at the repo root installs the bench\'s dev dependencies): berth only');
  if (VERBOSE) for (const c of cases) lines.push(`${c.kind.padEnd(6)} ${c.name}: berth [${c.berth.join(', ')}]${SQUAWK ? ` squawk [${c.squawk.join(', ')}]` : ''}`);
  console.log(lines.join('\n'));
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  writeFileSync(join(BENCH, 'results', 'lint-recall-latest.json'), `${JSON.stringify({ ...result, at: new Date().toISOString() }, null, 2)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
