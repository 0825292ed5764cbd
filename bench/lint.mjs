#!/usr/bin/env node
// berth lint benchmark: lints N generated migration files with the built CLI
// (`berth lint <dir> --format json`) and reports files per second, end to end
// (process start, loading the WASM parser, reading, parsing, rules, output).
//
//   node bench/lint.mjs [--files 1000] [--runs 5]
//
// Needs `npm run build -w berth` first. No database. Progress on stderr, the
// report on stdout, raw numbers in bench/results/lint-latest.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
const RUNS = opt('--runs', 5);

if (!existsSync(join(ROOT, 'packages/berth/dist/cli.cjs'))) {
  console.error('berth is not built: run `npm run build -w berth` first');
  process.exit(2);
}

// Ten shapes of migration, from a plain CREATE TABLE to files with several findings, cycled so the
// corpus has the statement mix of a real project (about 2 statements, 190 bytes a file).
const SHAPES = [
  (n) => `CREATE TABLE t${n} (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  name text NOT NULL,\n  created_at timestamptz NOT NULL DEFAULT now()\n);\nCREATE INDEX t${n}_name_idx ON t${n} (name);\nCOMMENT ON TABLE t${n} IS 'generated';\n`,
  (n) => `-- berth:lock-timeout 5s\nALTER TABLE t${n - 1} ADD COLUMN email text;\nALTER TABLE t${n - 1} ADD COLUMN status text NOT NULL DEFAULT 'new';\n`,
  (n) => `-- berth:no-transaction\n-- berth:lock-timeout 5s\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t${n - 2}_email_idx ON t${n - 2} (email);\n`,
  (n) => `ALTER TABLE t${n - 3} ADD CONSTRAINT t${n - 3}_email_check CHECK (email LIKE '%@%');\nUPDATE t${n - 3} SET status = 'active';\n`,
  (n) => `-- berth:lock-timeout 5s\nALTER TABLE t${n - 4} ADD CONSTRAINT t${n - 4}_fk FOREIGN KEY (id) REFERENCES t${n - 4} (id) NOT VALID;\nALTER TABLE t${n - 4} VALIDATE CONSTRAINT t${n - 4}_fk;\n`,
  (n) => `INSERT INTO settings (key, value) VALUES\n${Array.from({ length: 20 }, (_, i) => `  ('k${n}_${i}', 'v${i}')`).join(',\n')};\n`,
  (n) => `CREATE OR REPLACE FUNCTION f${n}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND\n$$;\nCREATE TRIGGER tr${n} BEFORE UPDATE ON t${n - 6} FOR EACH ROW EXECUTE FUNCTION f${n}();\n`,
  (n) => `-- berth:allow drop-column contract step: unused since v${n}\n-- berth:lock-timeout 5s\nALTER TABLE t${n - 7} DROP COLUMN email;\nALTER TABLE t${n - 7} RENAME COLUMN name TO full_name;\n`,
  (n) => `CREATE TYPE mood${n} AS ENUM ('a', 'b');\nCREATE TABLE m${n} (id bigint PRIMARY KEY, mood mood${n} NOT NULL, payload jsonb NOT NULL DEFAULT '{}');\nCREATE UNIQUE INDEX m${n}_payload ON m${n} ((payload->>'key'));\n`,
  (n) => `CREATE VIEW v${n} AS\n  SELECT a.id, a.name, count(*) AS n\n  FROM t${n - 9} a JOIN t${n - 8} b ON b.id = a.id\n  WHERE a.created_at > now() - interval '7 days'\n  GROUP BY a.id, a.name;\n`,
];

const work = mkdtempSync(join(os.tmpdir(), 'berth-bench-lint-'));
const cleanup = () => rmSync(work, { recursive: true, force: true });
process.on('exit', cleanup);
const dir = join(work, 'migrations');
mkdirSync(dir);
let bytes = 0;
for (let i = 1; i <= FILES; i++) {
  const text = SHAPES[(i - 1) % SHAPES.length](i);
  bytes += Buffer.byteLength(text);
  writeFileSync(join(dir, `${String(i).padStart(6, '0')}_m${i}.up.sql`), text);
}
const one = join(work, 'one');
mkdirSync(one);
writeFileSync(join(one, '1_one.up.sql'), SHAPES[0](1));

function lint(target) {
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, [BIN, 'lint', target, '--format', 'json', '--fail-on', 'none'], {
    encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { PATH: process.env.PATH ?? '', BERTH_LOG_FORMAT: 'json' },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0) throw new Error(`berth lint exited ${child.status}: ${child.stderr}`);
  return { ms, report: JSON.parse(child.stdout) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.error(`[bench] ${FILES} files (${(bytes / 1024).toFixed(0)} KiB) in ${dir}; warming up`);
const warm = lint(dir);
if (warm.report.files !== FILES) throw new Error(`expected ${FILES} files, berth linted ${warm.report.files}`);
const startup = [];
const full = [];
for (let r = 0; r < RUNS; r++) {
  startup.push(lint(one).ms);
  full.push(lint(dir).ms);
  console.error(`[bench] run ${r + 1}/${RUNS}: ${full.at(-1).toFixed(0)} ms for ${FILES} files, ${startup.at(-1).toFixed(0)} ms for 1 file`);
}
const fullMs = median(full);
const startupMs = median(startup);
const result = {
  files: FILES,
  bytes,
  findings: warm.report.findings.length,
  suppressed: warm.report.suppressed.length,
  runs: RUNS,
  medianMs: Math.round(fullMs),
  oneFileMedianMs: Math.round(startupMs),
  filesPerSecond: Math.round(FILES / (fullMs / 1000)),
  filesPerSecondAfterStartup: Math.round((FILES - 1) / ((fullMs - startupMs) / 1000)),
  machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', platform: `${os.platform()} ${os.arch()}` },
  berth: execFileSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' }).trim(),
  at: new Date().toISOString(),
};

const lines = [
  `berth lint, ${FILES} migration files (${(bytes / 1024).toFixed(0)} KiB, ${result.findings} findings, ${result.suppressed} suppressed), median of ${RUNS} runs`,
  '',
  '| measure | value |',
  '|---|---|',
  `| wall time, ${FILES} files (one process) | ${result.medianMs} ms |`,
  `| wall time, 1 file (process start + WASM parser load) | ${result.oneFileMedianMs} ms |`,
  `| files/second, end to end | ${result.filesPerSecond} |`,
  `| files/second, excluding start-up | ${result.filesPerSecondAfterStartup} |`,
  '',
  `${result.machine.cpu}, ${result.machine.cpus} cores, Node ${process.version}`,
];
console.log(lines.join('\n'));
mkdirSync(join(BENCH, 'results'), { recursive: true });
writeFileSync(join(BENCH, 'results', 'lint-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
