/**
 * The mistakes of a first hour with berth, each answered with what went wrong and what to do.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, makeTempDir, runBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

const summaryOf = (stderr: string) => jsonLines(stderr).find((e) => e.event === 'run.summary');

describe('the first five minutes', () => {
  const db = useTestDatabase('first_minutes');
  const env = () => ({ DATABASE_URL: db().url });

  it('a migrations directory that does not exist: exit 2 naming the path, for every command that reads it', async () => {
    const missing = path.join(makeTempDir(), 'migrations');
    for (const command of [['migrate'], ['check'], ['status'], ['await', '--timeout', '1s'], ['validate']]) {
      const result = await runBerth([...command, '--dir', missing], { env: env() });
      expect(result.code, `${command[0]}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain(`migrations directory ${missing} does not exist`);
    }
  });

  it('an empty migrations directory: exit 5 unless --allow-empty, for migrate, check, await and status', async () => {
    const empty = makeTempDir();
    mkdirSync(path.join(empty, 'notes'));
    for (const command of [['migrate'], ['check'], ['status'], ['await', '--timeout', '1s']]) {
      const result = await runBerth([...command, '--dir', empty, '--log-format', 'json'], { env: env() });
      expect(result.code, `${command[0]}: ${result.stderr}`).toBe(5);
      expect(summaryOf(result.stderr)).toMatchObject({ code: 'ERR_SOURCE_EMPTY' });
      expect(result.stderr).toContain('--allow-empty');
    }
    const allowed = await runBerth(['migrate', '--dir', empty, '--allow-empty'], { env: env() });
    expect(allowed.code, allowed.stderr).toBe(0);
    const fromEnv = await runBerth(['check', '--dir', empty], { env: { ...env(), BERTH_ALLOW_EMPTY: 'true' } });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
  });

  it('berth with no command prints the usage and exits 2', async () => {
    const result = await runBerth([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: berth <command> [options]');
    expect(result.stderr).toContain('migrate');
    expect(result.stderr).not.toContain("unknown command ''");
  });

  it('a FIFO named like a migration is refused (exit 5) without being opened, and names it', async () => {
    const dir = writeMigrations({ '1_ok.up.sql': 'SELECT 1;' });
    execFileSync('mkfifo', [path.join(dir, '2_pipe.up.sql')]);
    // A blocked read would hang until the harness kills it at the timeout.
    const result = await runBerth(['migrate', '--dir', dir], { env: env(), timeoutMs: 20_000 });
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toContain('2_pipe.up.sql: it is a FIFO (named pipe), not a regular file');
  });

  it('a symbolic link to a migration file is read like the file; a broken one is named', async () => {
    const dir = writeMigrations({ 'shared/1_t.sql': 'CREATE TABLE linked (id int);' });
    execFileSync('ln', ['-s', path.join(dir, 'shared', '1_t.sql'), path.join(dir, '1_t.up.sql')]);
    const ok = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(ok.code, ok.stderr).toBe(0);
    execFileSync('ln', ['-s', path.join(dir, 'nowhere.sql'), path.join(dir, '2_gone.up.sql')]);
    const broken = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(broken.code, broken.stderr).toBe(5);
    expect(broken.stderr).toContain('2_gone.up.sql: it is a symbolic link to something that does not exist');
  });
});
