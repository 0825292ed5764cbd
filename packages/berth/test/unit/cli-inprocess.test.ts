/**
 * The CLI run in-process (`runCli(argv, io)`) with captured stdout/stderr and an injected
 * environment: exit codes, messages, help, log lines. Nothing here needs a server; the happy path
 * uses embedded PGlite (WASM, a second or two per run), so those runs are few.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { SETTINGS, type SettingSpec } from '../../src/config/settings.js';
import { BERTH_VERSION } from '../../src/index.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface IoOptions {
  readonly env?: Record<string, string | undefined>;
  readonly stderrIsTTY?: boolean;
  readonly cwd?: string;
}

async function berth(argv: string[], options: IoOptions = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: options.env ?? {},
    cwd: options.cwd ?? tempDir('berth-cwd-'),
    stdoutIsTTY: false,
    stderrIsTTY: options.stderrIsTTY ?? false,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/** Every stderr line must be one JSON object with level, time and msg. */
function jsonLog(text: string): Record<string, unknown>[] {
  const lines = text.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(0);
  return lines.map((line) => {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toEqual(expect.objectContaining({ level: expect.stringMatching(/^(debug|info|warn|error)$/), msg: expect.any(String) }));
    expect(Number.isNaN(Date.parse(String(parsed.time)))).toBe(false);
    return parsed;
  });
}

const COMMAND_NAMES = COMMANDS.map((c) => c.name);

/** The common settings a command uses (and lists in its help); all of them unless it says otherwise. */
const settingsOf = (name: string): SettingSpec[] => {
  const spec = COMMANDS.find((c) => c.name === name);
  const keys = spec?.settings;
  // Fleet flags are listed by the commands that run over a fleet only.
  return SETTINGS.filter((s) => (keys === undefined || keys.includes(s.key)) && (!s.fleet || spec?.fleet === true));
};
/** Commands that talk to a database (`new` only writes files). */
const DATABASE_COMMANDS = COMMAND_NAMES.filter((name) => settingsOf(name).some((s) => s.key === 'databaseUrl'));

/** The smallest valid invocation of each command, so that only the missing URL is wrong. */
const VALID_ARGS: Record<string, string[]> = {
  down: ['--steps', '1'],
  resolve: ['3', '--applied'],
  baseline: ['3'],
  await: ['--version', '3', '--timeout', '1s'],
};
const invocation = (command: string): string[] => [command, ...(VALID_ARGS[command] ?? [])];

describe('runCli: configuration errors exit 2', () => {
  it('every command but new needs a database', () => {
    expect(DATABASE_COMMANDS).toEqual(expect.arrayContaining(['migrate', 'status', 'check', 'wait']));
    expect(DATABASE_COMMANDS).not.toContain('new');
  });

  it.each(DATABASE_COMMANDS)('%s without any database URL → exit 2 naming DATABASE_URL', async (command) => {
    const r = await berth([...invocation(command), '--log-format', 'json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const log = jsonLog(r.stderr);
    expect(log.some((l) => l.code === 'ERR_CONFIG_NO_URL' && String(l.msg).includes('DATABASE_URL'))).toBe(true);
    expect(log.at(-1)).toMatchObject({ event: 'run.summary', ok: false, exitCode: 2, code: 'ERR_CONFIG_NO_URL', command });
  });

  const SECRET = 'Tr0ub4dor-and-3';
  const malformed = [
    `postgres://app:${SECRET}@db:99999/app`,
    `postgres://app:${SECRET}@[::1/app`,
    `postgres://app:${SECRET}%zz@db/app`,
    `postgres://app:${SECRET}@db/app?sslmode=prefer`,
    `mysql://app:${SECRET}@tcp(db:3306)/app`,
    `app:${SECRET}@db/app`,
  ];

  it.each(malformed)('a malformed URL with a password, as a flag → exit 2, password never printed: %s', async (url) => {
    const r = await berth(['migrate', '-d', url]);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stderr).toContain('ERR_CONFIG_URL_INVALID');
  });

  it.each(malformed)('a malformed URL with a password, in DATABASE_URL → exit 2, password never printed: %s', async (url) => {
    const r = await berth(['status', '--json'], { env: { DATABASE_URL: url } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain(SECRET);
    expect(r.stderr).toContain('DATABASE_URL');
  });

  it('a malformed URL in a secret file → exit 2, names the variable, password never printed', async () => {
    const secrets = tempDir('berth-secrets-', { db_url: `postgres://app:${SECRET}@db:99999/app\n` });
    const r = await berth(['check', '--log-format', 'pretty'], { env: { BERTH_DATABASE_URL_FILE: path.join(secrets, 'db_url') } });
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stderr).toContain('BERTH_DATABASE_URL_FILE');
  });

  it('a valid URL with a password and some other invalid setting → exit 2, password never printed', async () => {
    const r = await berth(['migrate', '--wait', 'abc', '--table', 'bad-name'], { env: { DATABASE_URL: `postgres://app:${SECRET}@db/app` } });
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it.each([
    `postgres://app:${SECRET}@127.0.0.1:1/app`,
    `postgres://app@127.0.0.1:1/app?password=${encodeURIComponent(SECRET)}`,
  ])('a valid URL whose server refuses the connection → exit 3, password never printed: %s', async (url) => {
    // Port 1 on the loopback refuses at once: no server is involved, only a refused TCP connect.
    const r = await berth(['wait', '--log-format', 'json'], { env: { DATABASE_URL: url, BERTH_DEBUG: '1' } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    const log = jsonLog(r.stderr);
    expect(log.find((l) => l.event === 'run.error')).toMatchObject({ code: 'ERR_DB_UNREACHABLE', exitCode: 3 });
    expect(r.stderr).toContain('127.0.0.1:1');
    expect(log.at(-1)).toMatchObject({ event: 'run.summary', exitCode: 3 });
  });

  it('--wait abc → exit 2 naming --wait and the value', async () => {
    const r = await berth(['migrate', '-d', 'pglite://memory', '--wait', 'abc', '--log-format', 'json']);
    expect(r.code).toBe(2);
    const log = jsonLog(r.stderr);
    const error = log.find((l) => l.event === 'run.error')!;
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.msg).toContain('--wait (flag)');
    expect(error.msg).toContain('"abc"');
  });

  it('BERTH_WAIT=abc → exit 2 naming BERTH_WAIT (environment)', async () => {
    const r = await berth(['wait', '-d', 'pglite://memory'], { env: { BERTH_WAIT: 'abc' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('BERTH_WAIT (environment)');
  });

  it('every configuration problem is reported in one run', async () => {
    const r = await berth(['migrate', '--lock-timeout', 'later', '--log-format', 'json'], {
      env: { BERTH_WAIT: 'abc', BERTH_TABLE: 'bad-name', DATABASE_URL: 'pglite://memory', DATABASE_URL_FILE: '/nonexistent' },
    });
    expect(r.code).toBe(2);
    const msg = String(jsonLog(r.stderr).find((l) => l.event === 'run.error')!.msg);
    for (const part of ['--lock-timeout (flag)', 'BERTH_WAIT (environment)', 'BERTH_TABLE (environment)', 'DATABASE_URL_FILE']) {
      expect(msg).toContain(part);
    }
  });

  it.each([
    [['migrate', '--to', 'abc'], '--to'],
    [['migrate', '--to', '-1'], '--to'],
    [['check', '--expect', '-1'], '--expect'],
  ])('%j → exit 2 (ERR_USAGE) naming %s, before any connection', async (argv, flag) => {
    const r = await berth([...argv, '--log-format', 'json']);
    expect(r.code).toBe(2);
    const error = jsonLog(r.stderr).find((l) => l.event === 'run.error')!;
    expect(error.code).toBe('ERR_USAGE');
    expect(error.msg).toContain(flag);
  });
});

describe('runCli: usage', () => {
  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['migrate', '--frobnicate'], /unknown option '--frobnicate'/],
    [['status', '--jsn'], /unknown option '--jsn'/],
    [['migrate', '--to'], /argument missing/],
    [['migrate', 'extra-argument'], /too many arguments|unknown/],
  ])('%j → exit 2 with a message on stderr and nothing on stdout', async (argv, message) => {
    const r = await berth(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('--help');
  });

  it('no command at all → exit 2 with the usage on stderr', async () => {
    const r = await berth([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: berth');
  });

  it.each([['--version'], ['-V']])('%s prints the version and exits 0', async (flag) => {
    const r = await berth([flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${BERTH_VERSION}\n`);
    expect(r.stderr).toBe('');
  });

  /** Help text with line wrapping undone, so a wrapped description reads as one line. */
  const flat = (help: string) => help.replace(/\s+/g, ' ');

  /** The part of the help that describes one option: from its flags to the next option. */
  function optionText(help: string, flags: string, allFlags: readonly string[]): string {
    const text = flat(help);
    const start = text.indexOf(` ${flags} `);
    expect(start, `help lists ${flags}`).toBeGreaterThanOrEqual(0);
    const ends = allFlags.filter((f) => f !== flags).map((f) => text.indexOf(` ${f} `, start + 1)).filter((i) => i > start);
    return text.slice(start, Math.min(...ends, text.length));
  }

  function expectEverySetting(help: string, settings: readonly SettingSpec[] = SETTINGS): void {
    const allFlags = [...SETTINGS.map((s) => s.flag), ...COMMANDS.flatMap((c) => c.options.map((o) => o.flags)), '-h, --help', '--config <file>'];
    expect(settings.length).toBeGreaterThan(0);
    for (const s of settings) {
      const text = optionText(help, s.flag, allFlags);
      for (const env of s.env) expect(text, `${s.flag} names ${env}`).toContain(env);
      if (s.defaultText) expect(text, `${s.flag} shows its default`).toContain(`(default: ${s.defaultText})`);
    }
    expect(flat(help)).toMatch(/X_FILE/);
  }

  it.each(COMMAND_NAMES)('berth %s --help: exit 0, every flag with its env variable and default, and examples', async (name) => {
    const r = await berth([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const spec = COMMANDS.find((c) => c.name === name)!;
    expect(r.stdout).toContain(`Usage: berth ${name}`);
    for (const o of spec.options) expect(r.stdout).toContain(o.flags);
    expectEverySetting(r.stdout, settingsOf(name));
    expect(r.stdout).toContain('Examples:');
    for (const example of spec.examples) expect(r.stdout).toContain(example);
  });

  it('berth help migrate is the same as berth migrate --help', async () => {
    const a = await berth(['help', 'migrate']);
    const b = await berth(['migrate', '--help']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });

  it('berth --help: exit 0, every command, the exit codes, examples', async () => {
    const r = await berth(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const name of COMMAND_NAMES) expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    for (const code of ['0 ok', '1 migration failed', '2 usage/config', '3 database unreachable', '4 lock timeout', '5 validation', '6 target rejected', '7 outcome unknown', '130/143']) {
      expect(flat(r.stdout)).toContain(code);
    }
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toMatch(/^ {2}berth migrate /m);
  });

  it('berth --help also lists every common flag with its env variable and default', async () => {
    const r = await berth(['--help']);
    expect(r.code).toBe(0);
    expectEverySetting(r.stdout);
  });
});

describe('runCli: log lines', () => {
  it('--log-format json: every stderr line is a JSON object with level, time, msg; the last is run.summary', async () => {
    const r = await berth(['migrate', '--log-format', 'json', '--wait', 'nope']);
    const log = jsonLog(r.stderr);
    expect(log.at(-1)).toMatchObject({ event: 'run.summary', level: 'error', ok: false, exitCode: 2, command: 'migrate' });
    expect(typeof log.at(-1)!.durationMs).toBe('number');
  });

  it('BERTH_LOG_FORMAT=json works like the flag', async () => {
    const r = await berth(['status'], { env: { BERTH_LOG_FORMAT: 'json' }, stderrIsTTY: true });
    expect(jsonLog(r.stderr).at(-1)).toMatchObject({ event: 'run.summary' });
  });

  it('defaults to JSON when stderr is not a terminal and to readable lines on a terminal', async () => {
    const piped = await berth(['status']);
    expect(jsonLog(piped.stderr).at(-1)).toMatchObject({ event: 'run.summary' });
    const tty = await berth(['status'], { env: { NO_COLOR: '1' } , stderrIsTTY: true });
    expect(tty.code).toBe(2);
    const lines = tty.stderr.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.startsWith('{')).toBe(false);
    expect(tty.stderr).toMatch(/ERROR +no database URL/);
    expect(tty.stderr).not.toMatch(/\u001b\[/);
  });

  it('leaves no signal handlers behind', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    await berth(['migrate']);
    await berth(['status', '--wait', 'x']);
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });
});

describe('runCli: migrate, status --json and check on embedded PGlite', () => {
  // pglite://memory is a new, empty database for every run, so runs that must see each other's
  // work share a data directory instead.
  it('pglite://memory: migrate applies everything and ends with a summary line', { timeout: 60_000 }, async () => {
    const dir = tempDir('berth-migrations-', {
      '1_create_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY);\n',
      '2_add_email.up.sql': 'ALTER TABLE users ADD COLUMN email text;\n',
    });
    const r = await berth(['migrate', '-d', 'pglite://memory', '--dir', dir, '--log-format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const log = jsonLog(r.stderr);
    expect(log.filter((l) => l.event === 'migration.applied').map((l) => l.version)).toEqual([1, 2]);
    expect(log.at(-1)).toMatchObject({ event: 'run.summary', level: 'info', ok: true, exitCode: 0, applied: 2, current: 2, pending: 0 });
  });

  it('pglite://<dir>: migrate, then status --json and check see it; a new file makes check fail', { timeout: 120_000 }, async () => {
    const dir = tempDir('berth-migrations-', {
      '1_create_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY);\n',
      '2_add_email.up.sql': 'ALTER TABLE users ADD COLUMN email text;\n',
    });
    const data = tempDir('berth-pglite-');
    const url = `pglite://${data}`;
    const env = { BERTH_DATABASE_URL: url, BERTH_DIR: dir, BERTH_LOG_FORMAT: 'json' };

    const migrated = await berth(['migrate'], { env });
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(jsonLog(migrated.stderr).at(-1)).toMatchObject({ event: 'run.summary', ok: true, applied: 2, current: 2 });

    const status = await berth(['status', '--json'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout.trim().split('\n')).toHaveLength(1);
    const report = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(expect.arrayContaining(['current', 'applied', 'pending', 'failed', 'drifted', 'missing']));
    expect(report).toMatchObject({ current: 2, pending: [], failed: [], drifted: [], missing: [] });
    const applied = report.applied as Record<string, unknown>[];
    expect(applied.map((a) => [a.version, a.name])).toEqual([[1, 'create_users'], [2, 'add_email']]);
    for (const a of applied) {
      expect(Number.isNaN(Date.parse(String(a.appliedAt)))).toBe(false);
      expect(typeof a.durationMs).toBe('number');
      expect(a.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(jsonLog(status.stderr).at(-1)).toMatchObject({ event: 'run.summary', ok: true, current: 2, pending: 0 });

    const checked = await berth(['check'], { env });
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toContain('schema is current at version 2');

    writeFileSync(path.join(dir, '3_add_name.up.sql'), 'ALTER TABLE users ADD COLUMN name text;\n');
    const behind = await berth(['check', '--expect', '3'], { env });
    expect(behind.code).toBe(5);
    const error = jsonLog(behind.stderr).find((l) => l.event === 'run.error')!;
    expect(error.code).toBe('ERR_SCHEMA_NOT_CURRENT');
    expect(error.msg).toContain('pending');
  });
});
