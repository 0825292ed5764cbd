import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { jsonLines, makeTempDir, runBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

/** The messages of a json-mode log. */
const messages = (stderr: string) => jsonLines(stderr).map((e) => String(e.msg));

describe('berth new', () => {
  const db = useTestDatabase('new');

  it('creates the next version in the folder\'s style, twice in order, with no database; the scaffolds migrate', async () => {
    const cwd = makeTempDir('berth-new-');
    // No ./migrations yet: it is created, and an empty folder gets 14-digit UTC timestamps.
    const first = await runBerth(['new', 'Create', 'users!'], { cwd });
    expect(first.code, first.stderr).toBe(0);
    const up = /^migrations\/(\d{14})_create_users\.up\.sql\nmigrations\/\1_create_users\.down\.sql\n$/.exec(first.stdout);
    expect(up, first.stdout).not.toBeNull();
    const second = await runBerth(['new', 'backfill_emails', '--ts'], { cwd });
    expect(second.code, second.stderr).toBe(0);
    const v2 = /^migrations\/(\d{14})_backfill_emails\.ts\n$/.exec(second.stdout)?.[1];
    expect(BigInt(v2 ?? 0)).toBeGreaterThan(BigInt(up![1]!));
    expect(readdirSync(path.join(cwd, 'migrations')).sort()).toEqual([
      `${up![1]}_create_users.down.sql`, `${up![1]}_create_users.up.sql`, `${v2}_backfill_emails.ts`,
    ]);

    // The empty SQL pair and the TypeScript scaffold are valid migrations as written.
    const migrated = await runBerth(['migrate', '--dir', path.join(cwd, 'migrations')], { env: { DATABASE_URL: db().url } });
    expect(migrated.code, migrated.stderr).toBe(0);
    const rows = await db().admin.query('SELECT version FROM berth_migrations ORDER BY version');
    expect(rows.rows.map((r) => String(r.version))).toEqual([up![1], v2]);
  });

  it('continues a zero-padded sequence and refuses a name without letters or digits', async () => {
    const dir = writeMigrations({ '0001_init.up.sql': 'SELECT 1;', '0002_more.up.sql': 'SELECT 1;', 'README.md': '' });
    const third = await runBerth(['new', '--dir', dir, 'add index']);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toBe(`${dir}/0003_add_index.up.sql\n${dir}/0003_add_index.down.sql\n`);
    expect((await runBerth(['new', '--dir', dir, 'next'])).stdout).toBe(`${dir}/0004_next.up.sql\n${dir}/0004_next.down.sql\n`);

    const bad = await runBerth(['new', '--dir', dir, '--log-format', 'json', '!!!']);
    expect(bad.code).toBe(2);
    expect(messages(bad.stderr)).toContain('the migration name "!!!" has no letters or digits; e.g. berth new add_users_table');
    expect(readdirSync(dir)).toHaveLength(7);
  });
});

describe('config files', () => {
  const db = useTestDatabase('config');

  it('an invalid value exits 2 naming the key and the file; an unknown key gets a suggestion; a missing --config is named', async () => {
    const cwd = writeMigrations({ 'berth.config.yaml': 'lockTimeout: soon\nlock_timeout: 5m\n' });
    const result = await runBerth(['migrate', '-d', 'pglite://memory', '--log-format', 'json'], { cwd });
    expect(result.code).toBe(2);
    const error = messages(result.stderr).find((m) => m.startsWith('invalid configuration'));
    expect(error).toContain('lockTimeout in berth.config.yaml: "soon" is not a duration');
    expect(error).toContain('lock_timeout in berth.config.yaml: unknown key; did you mean lockTimeout?');

    const missing = await runBerth(['status', '--config', 'deploy/berth.yaml', '--log-format', 'json'], { cwd });
    expect(missing.code).toBe(2);
    expect(messages(missing.stderr)[0]).toBe(`--config deploy/berth.yaml: the file does not exist (resolved to ${path.join(cwd, 'deploy/berth.yaml')})`);
  });

  it('flags beat the environment, which beats the file; the file\'s dir is relative to its folder', async () => {
    const project = writeMigrations({
      'config/berth.config.json': JSON.stringify({ dir: '../db', table: 'file_history', lockTimeout: 30 }),
      'db/0001_a.up.sql': 'SELECT 1;',
      'other/0001_x.up.sql': 'SELECT 1;',
      'other/0002_y.up.sql': 'SELECT 1;',
    });
    const run = (args: string[], env: Record<string, string> = {}) =>
      runBerth(['migrate', '--dry-run', '--config', 'config/berth.config.json', '--log-format', 'json', ...args], {
        cwd: project, env: { DATABASE_URL: db().url, ...env },
      });
    const table = (stderr: string) => jsonLines(stderr).find((e) => e.event === 'plan.ready')?.table;

    const fromFile = await run([]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toBe('would apply 1 a (0001_a.up.sql)\n');
    expect(table(fromFile.stderr)).toBe('public.file_history');

    const fromEnv = await run(['--dir', 'other'], { BERTH_TABLE: 'env_history' });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(fromEnv.stdout).toBe('would apply 1 x (0001_x.up.sql)\nwould apply 2 y (0002_y.up.sql)\n');
    expect(table(fromEnv.stderr)).toBe('public.env_history');

    const fromFlag = await run(['--table', 'flag_history'], { BERTH_TABLE: 'env_history' });
    expect(fromFlag.code, fromFlag.stderr).toBe(0);
    expect(table(fromFlag.stderr)).toBe('public.flag_history');
  });

  it('a typed berth.config.ts loads from the bundle as a non-root UID, with no HOME, a read-only working directory and TMPDIR', async () => {
    const target = makeTempDir('berth-new-target-', 0o777);
    const project = makeTempDir('berth-ro-project-');
    writeFileSync(path.join(project, 'berth.config.ts'), [
      "import type { NotExported } from 'berth';  // type-only: erased, never resolved",
      'interface Layout { readonly dir: string }',
      `const layout: Layout = { dir: ${JSON.stringify(target)} };`,
      'export default async (): Promise<Layout & { lockTimeout: number }> => ({ ...layout, lockTimeout: 90 });',
      '',
    ].join('\n'));
    chmodSync(project, 0o555);
    const tmp = makeTempDir('berth-ro-tmp-', 0o555);
    const result = await runBerth(['new', 'from_ts_config'], { cwd: project, uid: 54321, gid: 54321, env: { HOME: undefined, TMPDIR: tmp } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${target}/\\d{14}_from_ts_config\\.up\\.sql\\n`));
    expect(readdirSync(project)).toEqual(['berth.config.ts']);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
