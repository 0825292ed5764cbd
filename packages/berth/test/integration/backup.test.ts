/**
 * The backup before migrating (--backup-command, --backup-dir, --backup-when) against the real
 * PostgreSQL server, through the real CLI and the real pg_dump / pg_restore: under the lock, before
 * the first write, a failure stops everything with exit 8, and the dump restores what was there.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, makeTempDir, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { createTestDatabase, query, useTestDatabase, type TestDatabase } from '../helpers/db.js';

const has = (program: string) => {
  try {
    execFileSync(program, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const pgClient = has('pg_dump') && has('pg_restore');
if (!pgClient && process.env.CI === 'true') throw new Error('pg_dump and pg_restore must be installed in CI (postgresql-client)');

const FIRST = { '0001_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\nINSERT INTO users VALUES (1, \'a@example.com\');' };
const SECOND = { '0002_orders.up.sql': 'CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\nALTER TABLE users ADD COLUMN name text;' };
const CONCURRENT = { '0003_index.up.sql': '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY orders_user ON orders (user_id);' };

/** The schema as information_schema shows it: every column of every table of public, in order. */
async function columns(url: string): Promise<string[]> {
  const { rows } = await query<{ c: string }>(url,
    `SELECT table_name || '.' || column_name || ' ' || data_type AS c FROM information_schema.columns
      WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`);
  return rows.map((r) => r.c);
}

async function historyTableExists(db: TestDatabase): Promise<boolean> {
  return (await db.admin.query<{ t: string | null }>("SELECT to_regclass('public.berth_migrations')::text AS t")).rows[0]?.t !== null;
}

describe('--backup-command', () => {
  const db = useTestDatabase('backup_cmd');

  it('a failing command stops the run before any write: no history table, exit 8, its last lines quoted', async () => {
    const dir = writeMigrations(FIRST);
    const run = await runBerth(['migrate', '--dir', dir, '--log-format', 'json',
      '--backup-command', 'echo "dumping $BERTH_TO_VERSION"; echo "upload: access denied for bucket" >&2; exit 3'], { env: { DATABASE_URL: db().url } });
    expect(run.code, run.stderr).toBe(8);
    const error = jsonLines(run.stderr).find((e) => e.event === 'run.error');
    expect(error).toMatchObject({ code: 'ERR_BACKUP_FAILED', exitCode: 8 });
    expect(String(error?.msg)).toMatch(/--backup-command exited with code 3/);
    expect(String(error?.msg)).toContain('| dumping 1');
    expect(String(error?.msg)).toContain('| upload: access denied for bucket');
    expect(String(error?.msg)).toMatch(/Nothing was migrated and nothing was written/);
    expect(await historyTableExists(db())).toBe(false);
    expect(await columns(db().url)).toEqual([]);
  });

  it('on an existing history: the rows, the columns and the schema are left exactly as they were', async () => {
    const dir = writeMigrations(FIRST);
    expect((await runBerth(['migrate', '--dir', dir, '-d', db().url])).code).toBe(0);
    // As an older berth left it: the first write of this one would add the columns.
    await db().admin.query('ALTER TABLE berth_migrations DROP COLUMN release, DROP COLUMN backup');
    const before = (await db().admin.query('SELECT * FROM berth_migrations ORDER BY version')).rows;
    const schema = await columns(db().url);
    writeFileSync(path.join(dir, '0002_orders.up.sql'), SECOND['0002_orders.up.sql']);
    const run = await runBerth(['migrate', '--dir', dir, '-d', db().url, '--backup-command', 'kill -9 $$']);
    expect(run.code, run.stderr).toBe(8);
    expect(run.stderr).toMatch(/was killed by SIGKILL/);
    expect((await db().admin.query('SELECT * FROM berth_migrations ORDER BY version')).rows).toEqual(before);
    expect(await columns(db().url)).toEqual(schema);
  });

  it('SIGTERM during the backup ends the whole command (its process group), exit 143, nothing written', async () => {
    const fresh = await createTestDatabase('backup_term');
    try {
      const out = makeTempDir('berth-backup-term-');
      const dir = writeMigrations(FIRST);
      const child = spawnBerth(['migrate', '--dir', dir, '-d', fresh.url, '--log-format', 'json',
        '--backup-command', `echo $$ > ${out}/pgid; sleep 30 | cat; echo finished > ${out}/done`]);
      await child.waitForOutput(/"event":"backup.start"/);
      await waitFor(() => readFileSafe(`${out}/pgid`) !== '');
      child.kill('SIGTERM');
      const result = await child.exited;
      expect(result.code, result.stderr).toBe(143);
      expect(result.stderr).toMatch(/interrupted by SIGTERM during the backup before migrating; nothing was migrated/);
      // No live process of the command's group is left (an exited one may linger as a zombie until its new parent reaps it).
      const group = Number(readFileSafe(`${out}/pgid`));
      await waitFor(() => liveMembers(group).length === 0, 5_000);
      expect(readFileSafe(`${out}/done`)).toBe('');
      expect((await fresh.admin.query("SELECT to_regclass('public.berth_migrations')::text AS t")).rows[0]?.t).toBeNull();
    } finally {
      await fresh.drop();
    }
  });
});

/** Processes of process group `group` that are not zombies, from /proc/<pid>/stat. */
function liveMembers(group: number): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
    const stat = readFileSafe(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && Number(fields[2]) === group ? [Number(pid)] : [];
  });
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('what the backup command receives', () => {
  const db = useTestDatabase('backup_env');
  const password = 'Pw-not:on\\the-command-line';
  let url: string;
  beforeAll(async () => {
    // A server that trusts local connections ignores it; the harness's embedded one checks it.
    await db().admin.query(`CREATE ROLE backup_env_${db().name.slice(-8)} LOGIN SUPERUSER PASSWORD '${password}'`);
    const u = new URL(db().url);
    u.username = `backup_env_${db().name.slice(-8)}`;
    u.password = encodeURIComponent(password);
    url = u.toString();
  });
  afterAll(async () => {
    // The role owns the tables it migrated: those go first (this database only; it is dropped next).
    await db().admin.query(`DROP OWNED BY backup_env_${db().name.slice(-8)}`).catch(() => undefined);
    await db().admin.query(`DROP ROLE IF EXISTS backup_env_${db().name.slice(-8)}`).catch(() => undefined);
  });

  it('the versions, the run id, the masked target; credentials only in private files, never on its command line or in its environment', async () => {
    const out = makeTempDir('berth-backup-env-');
    const dir = writeMigrations({ ...FIRST, ...SECOND });
    expect((await runBerth(['migrate', '--dir', dir, '--to', '1', '-d', url])).code).toBe(0);
    const command = [
      `env > ${out}/env`,
      `tr '\\0' ' ' < /proc/$$/cmdline > ${out}/cmdline`,
      `cp "$PGPASSFILE" ${out}/pgpass`,
      `cp "$BERTH_DATABASE_URL_FILE" ${out}/url`,
      `stat -c %a "$PGPASSFILE" "$(dirname "$PGPASSFILE")" > ${out}/modes`,
      `echo "$PGPASSFILE" > ${out}/path`,
      // What the command can do with them: connect as libpq does.
      `psql -XAtc 'SELECT current_user' > ${out}/psql`,
      'echo "s3://bucket/backups/$BERTH_RUN_ID.dump"',
    ].join(' && ');
    const run = await runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--backup-command', command],
      { env: { DATABASE_URL: url, PGPASSWORD: password } });
    expect(run.code, run.stderr).toBe(0);
    const env = Object.fromEntries(readFileSync(`${out}/env`, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const done = jsonLines(run.stderr).find((e) => e.event === 'backup.done');
    expect(env).toMatchObject({
      BERTH_FROM_VERSION: '1', BERTH_TO_VERSION: '2', BERTH_RUN_ID: done?.runId,
      BERTH_TARGET: expect.stringMatching(/^postgres:\/\/backup_env_\w+:\*\*\*\*@127\.0\.0\.1:\d+\/berth_t_/),
      PGHOST: '127.0.0.1', PGDATABASE: db().name, PGUSER: expect.stringMatching(/^backup_env_/),
    });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.PGPASSWORD).toBeUndefined();
    for (const where of [readFileSync(`${out}/env`, 'utf8'), readFileSync(`${out}/cmdline`, 'utf8'), run.stderr, run.stdout]) {
      expect(where).not.toContain(password);
      expect(where).not.toContain(encodeURIComponent(password));
    }
    expect(readFileSync(`${out}/pgpass`, 'utf8')).toBe('*:*:*:*:Pw-not\\:on\\\\the-command-line\n');
    expect(readFileSync(`${out}/url`, 'utf8').trim()).toBe(url);
    expect(readFileSync(`${out}/modes`, 'utf8').split('\n').slice(0, 2)).toEqual(['600', '700']);
    expect(readFileSync(`${out}/psql`, 'utf8').trim()).toMatch(/^backup_env_/);
    // The files are gone once the backup ended.
    expect(() => statSync(readFileSync(`${out}/path`, 'utf8').trim())).toThrow();
    expect(() => statSync(path.dirname(readFileSync(`${out}/path`, 'utf8').trim()))).toThrow();
    expect(done).toMatchObject({ kind: 'command', location: `s3://bucket/backups/${env.BERTH_RUN_ID}.dump`, durationMs: expect.any(Number) });
    // Recorded with the migration it preceded, and shown by status.
    const status = await runBerth(['status', '--dir', dir, '-d', url]);
    expect(status.stdout).toContain(`last backup: s3://bucket/backups/${env.BERTH_RUN_ID}.dump (taken before version 2`);
    const json = JSON.parse((await runBerth(['status', '--json', '--dir', dir, '-d', url])).stdout);
    expect(json.lastBackup).toMatchObject({ location: `s3://bucket/backups/${env.BERTH_RUN_ID}.dump`, version: 2 });
  });

  it('its duration is in the metrics', async () => {
    const dir = writeMigrations({ ...FIRST, ...SECOND, ...CONCURRENT });
    const metrics = path.join(makeTempDir('berth-backup-metrics-'), 'berth.prom');
    const run = await runBerth(['migrate', '--dir', dir, '-d', url, '--metrics-file', metrics, '--backup-command', 'sleep 0.2']);
    expect(run.code, run.stderr).toBe(0);
    const text = readFileSync(metrics, 'utf8');
    const seconds = Number(/^berth_backup_duration_seconds\{[^}]*\} ([\d.e-]+)$/m.exec(text)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(0.2);
    expect(text).toMatch(/^berth_backup_success\{[^}]*\} 1$/m);
  });
});

describe.skipIf(!pgClient)('--backup-dir', () => {
  const db = useTestDatabase('backup_dir');
  let restored: TestDatabase | undefined;
  afterAll(async () => {
    await restored?.drop();
  });

  it('pg_dump --format=custom into <database>-<from>-to-<to>-<time>.dump, which restores the schema as it was before the migration', async () => {
    const dir = writeMigrations({ ...FIRST, ...SECOND });
    const backups = makeTempDir('berth-backups-');
    expect((await runBerth(['migrate', '--dir', dir, '--to', '1', '-d', db().url])).code).toBe(0);
    const before = await columns(db().url);
    const run = await runBerth(['migrate', '--dir', dir, '-d', db().url, '--backup-dir', path.join(backups, 'nested'), '--log-format', 'json']);
    expect(run.code, run.stderr).toBe(0);
    expect(await columns(db().url)).not.toEqual(before);
    const files = readdirSync(path.join(backups, 'nested'));
    expect(files).toEqual([expect.stringMatching(new RegExp(`^${db().name}-1-to-2-\\d{8}T\\d{6}Z\\.dump$`))]);
    const file = path.join(backups, 'nested', files[0]!);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(backups, 'nested')).mode & 0o777).toBe(0o700);
    const events = jsonLines(run.stderr).map((e) => e.event);
    // Under the lock, after the plan, before the first migration.
    expect(events.indexOf('lock.acquired')).toBeLessThan(events.indexOf('backup.start'));
    expect(events.indexOf('plan.ready')).toBeLessThan(events.indexOf('backup.start'));
    expect(events.indexOf('backup.done')).toBeLessThan(events.indexOf('migration.applied'));
    expect(events.indexOf('backup.done')).toBeGreaterThan(0);

    restored = await createTestDatabase('backup_restored');
    execFileSync('pg_restore', ['--no-owner', '--exit-on-error', '--dbname', restored.url, file]);
    expect(await columns(restored.url)).toEqual(before);
    expect((await restored.admin.query('SELECT version FROM berth_migrations')).rows).toEqual([{ version: '1' }]);
    expect((await restored.admin.query('SELECT email FROM users')).rows).toEqual([{ email: 'a@example.com' }]);
    const status = await runBerth(['status', '--dir', dir, '-d', db().url]);
    expect(status.stdout).toContain(`last backup: ${file} (taken before version 2`);
  });

  it('a pg_dump older than the server: exit 8 naming the client version to install, the partial file removed', async () => {
    // Only one PostgreSQL major is installed here, so the client that is too old is a stand-in that
    // says what pg_dump 15 says to a 16 server (and leaves a half-written file, as a dump cut short does).
    const bin = makeTempDir('berth-fake-pg-dump-');
    writeFileSync(path.join(bin, 'pg_dump'), [
      '#!/bin/sh',
      'for a in "$@"; do case "$a" in --file=*) echo partial > "${a#--file=}";; esac; done',
      'echo "pg_dump: error: aborting because of server version mismatch" >&2',
      'echo "pg_dump: detail: server version: 16.4 (Debian 16.4-1.pgdg120+1); pg_dump version: 15.20 (Debian 15.20-0+deb12u1)" >&2',
      'exit 1',
    ].join('\n'), { mode: 0o755 });
    const folder = makeTempDir('berth-backups-');
    const fresh = await createTestDatabase('backup_mismatch');
    try {
      const run = await runBerth(['migrate', '--dir', writeMigrations(FIRST), '-d', fresh.url, '--backup-dir', folder], { env: { PATH: `${bin}:${process.env.PATH}` } });
      expect(run.code, run.stderr).toBe(8);
      expect(run.stderr).toMatch(/pg_dump 15\.20 cannot dump a PostgreSQL 16\.4 server: install the client of major version 16 or newer/);
      expect(run.stderr).toMatch(/\| pg_dump: detail: server version: 16\.4/);
      expect(readdirSync(folder)).toEqual([]);
      expect((await fresh.admin.query("SELECT to_regclass('public.berth_migrations')::text AS t")).rows[0]?.t).toBeNull();
    } finally {
      await fresh.drop();
    }
  });

  it('without pg_dump on PATH: exit 8 naming what to install, nothing written', async () => {
    const fresh = await createTestDatabase('backup_noclient');
    try {
      const dir = writeMigrations(FIRST);
      const run = await runBerth(['migrate', '--dir', dir, '-d', fresh.url, '--backup-dir', makeTempDir('berth-backups-')], { env: { PATH: '/nonexistent' } });
      expect(run.code, run.stderr).toBe(8);
      expect(run.stderr).toMatch(/ERR_BACKUP_CLIENT_MISSING/);
      expect(run.stderr).toMatch(/needs pg_dump, which is not installed or not on PATH: install the PostgreSQL client \(Debian\/Ubuntu: apt-get install postgresql-client/);
      expect((await fresh.admin.query("SELECT to_regclass('public.berth_migrations')::text AS t")).rows[0]?.t).toBeNull();
    } finally {
      await fresh.drop();
    }
  });
});

describe.skipIf(!pgClient)('--backup-when', () => {
  const db = useTestDatabase('backup_when');
  const count = (folder: string) => readdirSync(folder).length;

  it('pending (default): only when something is applied; always: also with nothing to apply; no-transaction: only before a migration that cannot be rolled back', async () => {
    const folder = makeTempDir('berth-backups-');
    const dir = writeMigrations(FIRST);
    const migrate = (...extra: string[]) => runBerth(['migrate', '--dir', dir, '-d', db().url, '--backup-dir', folder, ...extra]);
    expect((await migrate()).code).toBe(0);
    expect(count(folder)).toBe(1);
    // Nothing to apply: the default takes no backup (and no lock); always does.
    expect((await migrate()).code).toBe(0);
    expect(count(folder)).toBe(1);
    const always = await migrate('--backup-when', 'always', '--log-format', 'json');
    expect(always.code, always.stderr).toBe(0);
    expect(count(folder)).toBe(2);
    expect(jsonLines(always.stderr).find((e) => e.event === 'backup.start')).toMatchObject({ from: 1, to: 1 });
    // A transactional migration rolls back by itself: no-transaction skips it...
    writeFileSync(path.join(dir, '0002_orders.up.sql'), SECOND['0002_orders.up.sql']);
    expect((await migrate('--backup-when', 'no-transaction')).code).toBe(0);
    expect(count(folder)).toBe(2);
    // ...and backs up before one that cannot.
    writeFileSync(path.join(dir, '0003_index.up.sql'), CONCURRENT['0003_index.up.sql']);
    const risky = await runBerth(['migrate', '--dir', dir, '-d', db().url, '--log-format', 'json'],
      { env: { BERTH_BACKUP_DIR: folder, BERTH_BACKUP_WHEN: 'no-transaction' } });
    expect(risky.code, risky.stderr).toBe(0);
    expect(count(folder)).toBe(3);
    expect(readdirSync(folder).filter((f) => f.includes('-2-to-3-'))).toHaveLength(1);
  });

  it('a dry run never backs up; wrong values are usage errors', async () => {
    const folder = makeTempDir('berth-backups-');
    const dir = writeMigrations({ ...FIRST, ...SECOND, ...CONCURRENT, '0004_more.up.sql': 'CREATE TABLE more (id int);' });
    expect((await runBerth(['migrate', '--dry-run', '--dir', dir, '-d', db().url, '--backup-dir', folder, '--backup-when', 'always'])).code).toBe(0);
    expect(count(folder)).toBe(0);
    const bad = await runBerth(['migrate', '--dir', dir, '-d', db().url, '--backup-dir', folder, '--backup-when', 'sometimes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--backup-when: \\?"sometimes\\?" is not one of always, pending, no-transaction/);
    const both = await runBerth(['migrate', '--dir', dir, '-d', db().url, '--backup-dir', folder, '--backup-command', 'true']);
    expect(both.code).toBe(2);
    const alone = await runBerth(['migrate', '--dir', dir, '-d', db().url], { env: { BERTH_BACKUP_WHEN: 'always' } });
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/BERTH_BACKUP_WHEN needs --backup-command or --backup-dir/);
    // The command from a file (BERTH_BACKUP_COMMAND_FILE), like every variable.
    const commandFile = path.join(makeTempDir('berth-backup-file-'), 'command');
    writeFileSync(commandFile, 'echo "from the file" >&2; exit 4\n');
    const fromFile = await runBerth(['migrate', '--dir', dir, '-d', db().url], { env: { BERTH_BACKUP_COMMAND_FILE: commandFile } });
    expect(fromFile.code, fromFile.stderr).toBe(8);
    expect(fromFile.stderr).toContain('| from the file');
    expect((await db().admin.query('SELECT max(version)::int AS v FROM berth_migrations')).rows[0]?.v).toBe(3);
  });
});

describe('the backup over a fleet (--targets)', () => {
  const db = useTestDatabase('backup_fleet');
  const TENANTS = ['tenant_a', 'tenant_b', 'tenant_c'];
  const fleet = (dir: string, ...more: string[]) => runBerth(
    ['migrate', '-d', db().url, '--schema-per-target', '--targets', '-', '--dir', dir, '--log-format', 'json', ...more],
    { input: JSON.stringify(TENANTS) });

  beforeAll(async () => {
    for (const t of TENANTS) await db().admin.query(`CREATE SCHEMA ${t}`);
  });

  it('runs once per target with something pending, under that target\'s lock, with its schema; not at all on a rerun', async () => {
    const log = path.join(makeTempDir('berth-backup-fleet-'), 'backups.log');
    const command = `echo "$BERTH_TARGET_SCHEMA $BERTH_FROM_VERSION-$BERTH_TO_VERSION" >> ${log}`;
    const dir = writeMigrations(FIRST);
    const first = await fleet(dir, '--backup-command', command);
    expect(first.code, first.stderr).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n').sort()).toEqual(TENANTS.map((t) => `${t} -1`));
    // Each target's history row names its backup.
    for (const t of TENANTS) {
      expect((await db().admin.query(`SELECT backup FROM ${t}.berth_migrations`)).rows.map((r) => r.backup)).toEqual([command]);
    }
    const again = await fleet(dir, '--backup-command', command);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(TENANTS.length);
  });

  it.skipIf(!pgClient)('--backup-dir dumps each schema target on its own, into a file named by database and schema', async () => {
    const folder = makeTempDir('berth-backups-');
    const dir = writeMigrations({ ...FIRST, ...SECOND });
    const run = await fleet(dir, '--backup-dir', folder);
    expect(run.code, run.stderr).toBe(0);
    const files = readdirSync(folder).sort();
    expect(files.map((f) => f.replace(/-\d{8}T\d{6}Z\.dump$/, ''))).toEqual(TENANTS.map((t) => `${db().name}.${t}-1-to-2`));
    for (const [i, t] of TENANTS.entries()) {
      // pg_restore --list names each object's schema: only this target's.
      const listing = execFileSync('pg_restore', ['--list', path.join(folder, files[i]!)], { encoding: 'utf8' });
      const schemas = new Set([...listing.matchAll(/^\d+; \d+ \d+ (?:TABLE DATA|TABLE|CONSTRAINT) (\S+) /gm)].map((m) => m[1]));
      expect([...schemas], listing).toEqual([t]);
    }
  });

  it('--http is refused over a fleet, before anything runs', async () => {
    const run = await fleet(writeMigrations(FIRST), '--http', '127.0.0.1:0');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--http \(BERTH_HTTP\) serves the progress of one target's run, not of a fleet/);
  });
});
