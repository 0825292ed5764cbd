/**
 * What `berth migrate` prints of the pending migrations' lint, with the built CLI against a real
 * PostgreSQL: on a database where nothing was applied only what fails there too, judged for the
 * server's own version; and never more than a screenful, then the count and the `berth lint`
 * command that lists everything.
 */
import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

const INIT = {
  '0001_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text, legacy text);\nCREATE INDEX users_email_idx ON users (email);\n',
};

describe('migrate --lint on the pending migrations', () => {
  const db = useTestDatabase('lint_pending');
  const env = () => ({ DATABASE_URL: db().url, BERTH_LOG_FORMAT: 'json' });

  it('on a first install reports only what fails on an empty database, for the server\'s version', async () => {
    const dir = writeMigrations({
      ...INIT,
      // Locks and the running release cannot matter on an empty database: not reported.
      '0002_drop.up.sql': 'ALTER TABLE users DROP COLUMN legacy;\n',
      // A statement the parser rejects fails everywhere: reported.
      '0003_typo.up.sql': 'ALTER TABLE users ADD COLUMN bio text NOT NUL;\n',
    });
    const run = await runBerth(['migrate', '--dir', dir, '--dry-run'], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    const lines = jsonLines(run.stderr);
    const findings = lines.filter((l) => l.event === 'lint.finding');
    expect(findings.map((l) => [l.rule, l.line])).toEqual([['syntax-error', 1]]);
    const server = Number((await db().admin.query('SHOW server_version_num')).rows[0]?.server_version_num);
    const message = String(findings[0]?.msg);
    expect(message).toContain("PostgreSQL 18's parser");
    if (server < 180000) expect(message).toMatch(/the server is PostgreSQL \d+/);
    // drop-column and missing-lock-timeout of 0002 do not apply to a first install.
    expect(lines.find((l) => l.event === 'lint.summary')).toMatchObject({ errors: 1, notApplicable: 2 });
    expect(String(lines.find((l) => l.event === 'lint.summary')?.msg)).toMatch(/first install: 2 findings about existing rows, locks or the running release do not apply/);
  });

  it('logs at most 20 findings, then how many more and the berth lint command that lists them', async () => {
    const installed = await runBerth(['migrate', '--dir', writeMigrations(INIT)], { env: env() });
    expect(installed.code, installed.stderr).toBe(0);
    const files: Record<string, string> = { ...INIT };
    for (let i = 10; i < 35; i++) files[`00${i}_add.up.sql`] = `-- berth:lock-timeout 5s\nALTER TABLE users ADD COLUMN c${i} text NOT NULL;\n`;
    const dir = writeMigrations(files);
    const run = await runBerth(['migrate', '--dir', dir, '--dry-run'], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    const lines = jsonLines(run.stderr);
    expect(lines.filter((l) => l.event === 'lint.finding')).toHaveLength(20);
    const more = lines.find((l) => l.event === 'lint.more');
    expect(more).toMatchObject({ count: 5, command: expect.stringMatching(/^berth lint \S+ --pg-version \d+(\.\d+)?$/) });
    expect(lines.find((l) => l.event === 'lint.summary')).toMatchObject({ errors: 25, notShown: 5 });

    // The command it gives lists all of them.
    const command = String(more?.command).split(' ').slice(1);
    const all = await runBerth([...command, '--format', 'json'], { env: { BERTH_LINT_CACHE: 'off' } });
    expect(all.code).toBe(5);
    expect(JSON.parse(all.stdout).findings).toHaveLength(25);
  });
});
