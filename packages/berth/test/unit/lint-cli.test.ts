/**
 * `berth lint` through runCli in-process: which files, output on stdout, exit codes, usage
 * errors. No database: lint never connects.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import type { CliIo } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/main.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A working directory holding `migrations/` with these files. */
function project(files: Record<string, string | Uint8Array>): string {
  const cwd = mkdtempSync(path.join(tmpdir(), 'berth-lint-cli-'));
  dirs.push(cwd);
  mkdirSync(path.join(cwd, 'migrations'));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(cwd, 'migrations', name), content);
  return cwd;
}

async function berth(argv: string[], cwd: string, env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env, cwd, stdoutIsTTY: false, stderrIsTTY: false,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

const FILES = {
  '0001_init.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email ON users (email);\n',
  '0001_init.down.sql': 'DROP TABLE users;\n',
  '0002_drop.up.sql': '-- berth:lock-timeout 5s\nALTER TABLE users DROP COLUMN email;\n',
  '0003_code.ts': 'export async function up() {}\n',
  'README.md': '# migrations\n',
};

describe('berth lint', () => {
  it('lints the up SQL migrations of ./migrations in version order; findings on stdout, exit 5 on an error', async () => {
    const cwd = project(FILES);
    const run = await berth(['lint', '--format', 'json'], cwd);
    expect(run.code).toBe(5);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ files: 2, errors: 1, warnings: 0 });
    expect(report.findings.map((f: { file: string; rule: string; line: number; column: number }) => `${f.file}:${f.line}:${f.column} ${f.rule}`))
      .toEqual([`${path.join('migrations', '0002_drop.up.sql')}:2:19 drop-column`]);
    const summary = JSON.parse(run.stderr.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ event: 'run.summary', command: 'lint', exitCode: 5, code: 'ERR_LINT_FAILED', errors: 1, files: 2 });
  });

  it('--fail-on none never fails; --fail-on warning fails on warnings', async () => {
    const cwd = project({ '1_a.up.sql': 'ALTER TABLE users ADD COLUMN bio text;\n' });
    expect((await berth(['lint'], cwd)).code).toBe(0);
    expect((await berth(['lint', '--fail-on', 'warning'], cwd)).code).toBe(5);
    expect((await berth(['lint', '--fail-on', 'none', '--dir', 'migrations'], cwd)).code).toBe(0);
  });

  it('takes files and directories as arguments, and --dir / BERTH_DIR as the default', async () => {
    const cwd = project(FILES);
    writeFileSync(path.join(cwd, 'extra.sql'), 'DROP TABLE t;\n');
    const files = await berth(['lint', 'extra.sql', 'migrations/0001_init.up.sql', '--format', 'json', '--fail-on', 'none'], cwd);
    expect(JSON.parse(files.stdout).findings.map((f: { file: string; rule: string }) => `${f.file} ${f.rule}`))
      .toEqual(['extra.sql drop-table', 'extra.sql missing-lock-timeout']);
    const env = await berth(['lint', '--format', 'json'], path.dirname(cwd), { BERTH_DIR: path.join(cwd, 'migrations') });
    expect(JSON.parse(env.stdout).files).toBe(2);
  });

  it('github format writes workflow commands', async () => {
    const run = await berth(['lint', '--format', 'github'], project(FILES));
    expect(run.stdout.split('\n')[0]).toMatch(/^::error file=migrations\/0002_drop\.up\.sql,line=2,col=19,title=berth lint%3A drop-column::drops column email/);
  });

  it('a file that is not UTF-8 is an invalid-file finding', async () => {
    const run = await berth(['lint', '--format', 'json'], project({ '1_latin1.up.sql': new Uint8Array([0x53, 0x45, 0x4c, 0x0a, 0xe9, 0x0a]) }));
    expect(run.code).toBe(5);
    expect(JSON.parse(run.stdout).findings).toMatchObject([{ rule: 'invalid-file', line: 2, column: 1 }]);
  });

  it('usage errors exit 2: a missing path, an unknown format or --fail-on', async () => {
    const cwd = project(FILES);
    expect((await berth(['lint', 'nope.sql'], cwd)).stderr).toMatch(/lint: nope\.sql does not exist/);
    expect((await berth(['lint', 'nope.sql'], cwd)).code).toBe(2);
    expect((await berth(['lint', '--format', 'xml'], cwd)).code).toBe(2);
    expect((await berth(['lint', '--fail-on', 'info'], cwd)).code).toBe(2);
  });

  it('lists what it skipped: down files and code migrations on the summary line, a misnamed file as an invalid-file finding', async () => {
    const cwd = project({ ...FILES, '3-typo.up.sql': 'SELECT 1;\n' });
    const run = await berth(['lint', '--format', 'json'], cwd);
    expect(run.code).toBe(5);
    const report = JSON.parse(run.stdout);
    expect(report.findings.map((f: { file: string; rule: string; line: number }) => `${f.file} ${f.rule} ${f.line}`)).toEqual([
      `${path.join('migrations', '0002_drop.up.sql')} drop-column 2`,
      `${path.join('migrations', '3-typo.up.sql')} invalid-file 1`,
    ]);
    expect(report.findings[1].message).toMatch(/named like a migration but not one.*does not start with <version>_/);
    expect(report.skipped.map((s: { file: string; kind: string }) => `${path.basename(s.file)} ${s.kind}`)).toEqual([
      '0001_init.down.sql down', '0003_code.ts code', 'README.md other',
    ]);
    const summary = JSON.parse(run.stderr.trim().split('\n').at(-1)!);
    expect(summary.msg).toMatch(/skipped 1 down migration, 1 code migration \(SQL only is linted\), 1 other file \(README\.md\)$/);
    expect(summary).toMatchObject({ skipped: 3 });
  });

  it('--pg-version judges for that server; a version it cannot read is a usage error', async () => {
    const cwd = project({ '1_enum.up.sql': "ALTER TYPE order_status ADD VALUE 'refunded' AFTER 'paid';\n" });
    expect((await berth(['lint'], cwd)).code).toBe(0);
    const old = await berth(['lint', '--pg-version', '11', '--format', 'json'], cwd);
    expect(old.code).toBe(5);
    expect(JSON.parse(old.stdout).findings).toMatchObject([{ rule: 'enum-value-in-transaction', message: expect.stringContaining('PostgreSQL 11') }]);
    const bad = await berth(['lint', '--pg-version', 'sixteen'], cwd);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--pg-version: \\"sixteen\\" is not a version/);
  });

  it('--schema-per-target (or BERTH_SCHEMA_PER_TARGET) lints for a fleet of tenant schemas, without running over one; the cache keeps the two apart', async () => {
    const cwd = project({ '1_accounts.up.sql': 'CREATE TABLE public.accounts (id bigint PRIMARY KEY);\n' });
    const cache = mkdtempSync(path.join(tmpdir(), 'berth-lint-cli-cache-'));
    dirs.push(cache);
    const env = { BERTH_LINT_CACHE: cache };
    expect((await berth(['lint'], cwd, env)).code).toBe(0);
    for (const run of [await berth(['lint', '--schema-per-target', '--format', 'json'], cwd, env), await berth(['lint', '--format', 'json'], cwd, { ...env, BERTH_SCHEMA_PER_TARGET: 'true' })]) {
      expect(run.code, run.stderr).toBe(5);
      expect(JSON.parse(run.stdout).findings).toMatchObject([{ rule: 'outside-tenant-schema', line: 1, message: expect.stringContaining('CREATE TABLE public.accounts names schema public') }]);
    }
    // A fleet's other settings (a config file shared with migrate) do not stop it: lint connects to nothing.
    writeFileSync(path.join(cwd, 'berth.config.yaml'), 'schemaPerTarget: true\ntargets: tenants.yaml\nparallel: 8\n');
    const shared = await berth(['lint', '--format', 'json'], cwd, env);
    expect(shared.code, shared.stderr).toBe(5);
    expect(JSON.parse(shared.stdout).findings.map((f: { rule: string }) => f.rule)).toEqual(['outside-tenant-schema']);
    const created = await berth(['new', 'add_plans'], cwd, env);
    expect(created.code, created.stderr).toBe(0);
    expect(readdirSync(path.join(cwd, 'migrations')).filter((f) => f.includes('add_plans'))).toHaveLength(2);
  });

  it('the example migrations pass berth lint (the README\'s first command runs them)', async () => {
    const examples = fileURLToPath(new URL('../../../../examples/migrations', import.meta.url));
    const run = await berth(['lint', examples, '--format', 'json', '--fail-on', 'warning'], process.cwd());
    expect(run.code, run.stdout).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ files: 3, errors: 0, warnings: 0 });
    // The fleet example (examples/tenants), as its Indexed Job runs it: one schema per tenant.
    const tenants = fileURLToPath(new URL('../../../../examples/tenants/migrations', import.meta.url));
    const fleet = await berth(['lint', tenants, '--schema-per-target', '--format', 'json', '--fail-on', 'warning'], process.cwd());
    expect(fleet.code, fleet.stdout).toBe(0);
    expect(JSON.parse(fleet.stdout)).toMatchObject({ files: 3, errors: 0, warnings: 0 });
  });

  it('reuses its cache (BERTH_LINT_CACHE) for unchanged files, and --no-cache does not touch it', async () => {
    const cwd = project(FILES);
    const cache = mkdtempSync(path.join(tmpdir(), 'berth-lint-cli-cache-'));
    dirs.push(cache);
    const first = await berth(['lint', '--format', 'json'], cwd, { BERTH_LINT_CACHE: cache });
    expect(readdirSync(cache)).toHaveLength(1);
    const second = await berth(['lint', '--format', 'json'], cwd, { BERTH_LINT_CACHE: cache });
    expect([second.code, second.stdout]).toEqual([first.code, first.stdout]);
    const other = mkdtempSync(path.join(tmpdir(), 'berth-lint-cli-cache-'));
    dirs.push(other);
    const uncached = await berth(['lint', '--format', 'json', '--no-cache'], cwd, { BERTH_LINT_CACHE: other });
    expect(uncached.stdout).toBe(first.stdout);
    expect(readdirSync(other)).toEqual([]);
  });

  it('a directory without SQL migrations is no error, and says so', async () => {
    const run = await berth(['lint'], project({ 'notes.txt': 'hi' }));
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('no findings in 0 files\n');
    expect(run.stderr).toMatch(/no SQL migrations/);
  });
});

describe('berth migrate --lint', () => {
  it('refuses an unknown mode before connecting (exit 2), from the flag or BERTH_LINT', async () => {
    const cwd = project(FILES);
    const flag = await berth(['migrate', '--lint', 'strict', '-d', 'postgres://u@127.0.0.1:1/db'], cwd);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--lint: \\"strict\\" is not one of off, warn, error/);
    const env = await berth(['migrate', '-d', 'postgres://u@127.0.0.1:1/db'], cwd, { BERTH_LINT: 'loud' });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/BERTH_LINT: \\"loud\\"/);
  });
});
