/**
 * `berth migrate --lint` with the built CLI against a real PostgreSQL: `warn` (the default) logs
 * findings and applies, `error` refuses before applying anything, an allowed statement passes
 * `error`, and `off` does not lint; dry runs lint too.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runBerth, writeMigrations } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

const INIT = {
  '0001_users.up.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text, legacy text);\nCREATE INDEX users_email_idx ON users (email);\n',
};

describe('migrate --lint', () => {
  const db = useTestDatabase('lint');
  const env = () => ({ DATABASE_URL: db().url, BERTH_LOG_FORMAT: 'json' });
  const versions = async () => (await db().admin.query('SELECT version FROM berth_migrations ORDER BY version')).rows.map((r) => Number(r.version));

  it('warn (default) logs each finding with its place and applies; error refuses with exit 5 and applies nothing', async () => {
    // A first install reports only what fails on an empty database (lint-migrate-pending.test.ts):
    // install the table first, so that the later migrations run against existing rows.
    const first = await runBerth(['migrate', '--dir', writeMigrations(INIT)], { env: env() });
    expect(first.code, first.stderr).toBe(0);
    const dir = writeMigrations({
      ...INIT,
      '0002_drop.up.sql': '-- berth:lock-timeout 5s\nALTER TABLE users DROP COLUMN legacy;\n',
    });
    const warned = await runBerth(['migrate', '--dir', dir], { env: env() });
    expect(warned.code, warned.stderr).toBe(0);
    const findings = jsonLines(warned.stderr).filter((l) => l.event === 'lint.finding');
    expect(findings).toEqual([expect.objectContaining({
      level: 'warn', rule: 'drop-column', severity: 'error', file: expect.stringMatching(/0002_drop\.up\.sql$/), line: 2, column: 19,
      why: expect.any(String), fix: expect.any(String),
    })]);
    expect(await versions()).toEqual([1, 2]);

    const unsafe = writeMigrations({
      ...INIT,
      '0002_drop.up.sql': '-- berth:lock-timeout 5s\nALTER TABLE users DROP COLUMN legacy;\n',
      '0003_not_null.up.sql': 'ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n',
    });
    const refused = await runBerth(['migrate', '--dir', unsafe, '--lint', 'error'], { env: env() });
    expect(refused.code, refused.stderr).toBe(5);
    const lines = jsonLines(refused.stderr);
    expect(lines.filter((l) => l.event === 'lint.finding').map((l) => [l.rule, l.line, l.column, l.level])).toEqual([
      ['missing-lock-timeout', 1, 1, 'warn'],
      ['set-not-null', 1, 19, 'error'],
    ]);
    expect(lines.find((l) => l.event === 'run.error')).toMatchObject({ code: 'ERR_LINT_FAILED', exitCode: 5 });
    expect(await versions()).toEqual([1, 2]);
  });

  it('error applies a migration whose unsafe statement is allowed with a reason; off does not lint', async () => {
    const dir = writeMigrations({
      ...INIT,
      '0002_drop.up.sql': '-- berth:lock-timeout 5s\nALTER TABLE users DROP COLUMN legacy;\n',
      '0003_not_null.up.sql': [
        '-- berth:lock-timeout 5s',
        '-- berth:allow set-not-null users has 12 rows; the scan takes microseconds',
        'ALTER TABLE users ALTER COLUMN email SET NOT NULL;',
        'ALTER TABLE users ADD COLUMN nickname text;',
        '-- berth:allow drop-column added above in this same migration by mistake',
        'ALTER TABLE users DROP COLUMN nickname;',
        '',
      ].join('\n'),
      '0004_index.up.sql': '-- berth:no-transaction\n-- berth:lock-timeout 5s\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_id_email ON users (id, email);\n',
    });
    const allowed = await runBerth(['migrate', '--dir', dir, '--lint', 'error'], { env: env() });
    expect(allowed.code, allowed.stderr).toBe(0);
    const lines = jsonLines(allowed.stderr);
    // The allow on line 5 covers a column the file itself added: nothing to silence, so it is reported.
    expect(lines.filter((l) => l.event === 'lint.finding').map((l) => [l.rule, l.file, l.line])).toEqual([
      ['allow-unused', expect.stringMatching(/0003_not_null\.up\.sql$/), 5],
    ]);
    expect(lines.find((l) => l.event === 'lint.summary')).toMatchObject({ errors: 0, warnings: 1, suppressed: 1 });
    expect(await versions()).toEqual([1, 2, 3, 4]);

    writeFileSync(path.join(dir, '0005_lock.up.sql'), 'LOCK TABLE users;\n');
    const dry = await runBerth(['migrate', '--dir', dir, '--dry-run'], { env: env() });
    expect(dry.code, dry.stderr).toBe(0);
    expect(jsonLines(dry.stderr).filter((l) => l.event === 'lint.finding').map((l) => l.rule)).toEqual(['lock-table', 'missing-lock-timeout']);
    const off = await runBerth(['migrate', '--dir', dir, '--dry-run'], { env: { ...env(), BERTH_LINT: 'off' } });
    expect(off.code, off.stderr).toBe(0);
    expect(jsonLines(off.stderr).some((l) => String(l.event).startsWith('lint.'))).toBe(false);
  });
});
