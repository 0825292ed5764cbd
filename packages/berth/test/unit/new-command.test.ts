import { describe, expect, it } from 'vitest';

import { newMigrationFiles, nextVersion, slugifyMigrationName } from '../../src/cli/commands/new.js';
import { parseMigrationFileName } from '../../src/source/file-name.js';

const NOW = new Date('2026-03-04T05:06:07.890Z');

describe('nextVersion', () => {
  it.each([
    ['an empty folder: a UTC timestamp', [], '20260304050607'],
    ['only non-migration files: a timestamp', ['README.md', '.gitkeep'], '20260304050607'],
    ['timestamps: a timestamp', ['20250101000000_init.up.sql', '20250101000000_init.down.sql'], '20260304050607'],
    ['a timestamp in the future (clock behind): one second after it', ['20270101000000_x.up.sql'], '20270101000001'],
    ['the same second (two `new` at once): one second after', ['20260304050607_a.up.sql'], '20260304050608'],
    ['rolls over minutes and days', ['20261231235959_a.up.sql'], '20270101000000'],
    ['zero-padded integers keep their width', ['0001_a.up.sql', '0002_b.up.sql', '0003_c.ts'], '0004'],
    ['golang-migrate -seq width 6', ['000009_a.up.sql', '000009_a.down.sql'], '000010'],
    ['plain integers', ['1_a.up.sql', '2_b.up.sql', '10_c.up.sql'], '11'],
    ['the newest decides the style (integers, then a timestamp)', ['0001_a.up.sql', '20250101000000_b.up.sql'], '20260304050607'],
    ['a 14-digit version that is not a date: next integer', ['99999999999999_x.up.sql'], '100000000000000'],
    ['invalid names are ignored', ['0001_a.up.sql', '5_x.up.sq', 'notes.txt'], '0002'],
  ])('%s', (_what, files, expected) => {
    expect(nextVersion(files, NOW)).toBe(expected);
  });

  it('a past 14-digit non-date version is still below the clock: the timestamp wins', () => {
    expect(nextVersion(['20251399000000_x.up.sql'], NOW)).toBe('20260304050607');
  });
});

describe('slugifyMigrationName', () => {
  it.each([
    [['add', 'users', 'table'], 'add_users_table'],
    [['Add-Users Table!'], 'add_users_table'],
    [['  __café__crème  '], 'cafe_creme'],
    [['v2.orders'], 'v2_orders'],
    [['x'.repeat(150)], 'x'.repeat(100)],
  ])('%j → %s', (words, expected) => {
    expect(slugifyMigrationName(words)).toBe(expected);
  });

  it.each([[['']], [['!!!']], [['---', '___']], [[]]])('%j has no letters or digits', (words) => {
    expect(slugifyMigrationName(words)).toBeUndefined();
  });
});

describe('newMigrationFiles', () => {
  it('an SQL pair of empty files that parse as one migration', () => {
    const files = newMigrationFiles('0004', 'add_users', false);
    expect(files).toEqual([
      { fileName: '0004_add_users.up.sql', content: '' },
      { fileName: '0004_add_users.down.sql', content: '' },
    ]);
    expect(files.map((f) => parseMigrationFileName(f.fileName))).toMatchObject([
      { kind: 'migration', version: 4, name: 'add_users', direction: 'up', type: 'sql' },
      { kind: 'migration', version: 4, name: 'add_users', direction: 'down', type: 'sql' },
    ]);
  });

  it('one TypeScript file with typed up and down', () => {
    const [file, ...rest] = newMigrationFiles('20260304050607', 'backfill', true);
    expect(rest).toEqual([]);
    expect(parseMigrationFileName(file!.fileName)).toMatchObject({ kind: 'migration', version: 20260304050607, type: 'code', ext: 'ts' });
    expect(file!.content).toContain('export async function up(ctx: MigrationContext): Promise<void> {');
    expect(file!.content).toContain('export async function down(ctx: MigrationContext): Promise<void> {');
  });
});
