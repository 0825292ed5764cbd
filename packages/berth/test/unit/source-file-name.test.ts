import { describe, expect, it } from 'vitest';

import { EXPECTED_PATTERNS, parseMigrationFileName } from '../../src/source/file-name.js';

describe('parseMigrationFileName', () => {
  it.each([
    ['1_init.up.sql', 1, 'init', 'up', 'sql', 'sql'],
    ['1_init.down.sql', 1, 'init', 'down', 'sql', 'sql'],
    ['0001_init.up.sql', 1, 'init', 'up', 'sql', 'sql'],
    ['20240131120000_add_users.up.sql', 20240131120000, 'add_users', 'up', 'sql', 'sql'],
    ['3_add-index.v2.up.sql', 3, 'add-index.v2', 'up', 'sql', 'sql'],
    ['4_Mixed_Case.down.sql', 4, 'Mixed_Case', 'down', 'sql', 'sql'],
    ['5_with_underscores_and__double.up.sql', 5, 'with_underscores_and__double', 'up', 'sql', 'sql'],
    ['6_.up.sql', 6, '', 'up', 'sql', 'sql'],
    ['7_x.up.up.sql', 7, 'x.up', 'up', 'sql', 'sql'],
    ['8_données.up.sql', 8, 'données', 'up', 'sql', 'sql'],
    ['10_seed.ts', 10, 'seed', 'up', 'code', 'ts'],
    ['11_seed.js', 11, 'seed', 'up', 'code', 'js'],
    ['12_seed.mjs', 12, 'seed', 'up', 'code', 'mjs'],
    ['0013_backfill.orders.ts', 13, 'backfill.orders', 'up', 'code', 'ts'],
    ['9007199254740991_max.up.sql', Number.MAX_SAFE_INTEGER, 'max', 'up', 'sql', 'sql'],
    // golang-migrate allows version 0; real sets start at 0_initial.
    ['0_initial.up.sql', 0, 'initial', 'up', 'sql', 'sql'],
    ['000_x.down.sql', 0, 'x', 'down', 'sql', 'sql'],
    ['0_x.ts', 0, 'x', 'up', 'code', 'ts'],
  ])('%s is a migration', (fileName, version, name, direction, type, ext) => {
    expect(parseMigrationFileName(fileName)).toEqual({ kind: 'migration', version, name, direction, type, ext });
  });

  it.each([
    'README.md',
    '.gitkeep',
    '.DS_Store',
    'archive',
    'notes.txt',
    'schema.sql',
    'seed.ts',
    'init',
    '_1_x.up.sql.swp',
    '.1_x.up.sql.swp',
    '._1_init.up.sql',
    '#1_x.up.sql#',
    'v1_x.up.sql.txt',
    '1_x.d.ts',
    '1_x.d.mts',
    '1_x.js.map',
    '1_x.ts.map',
    '1_x.up.sql.map',
    'x1_init.sql',
    '1.sql',
  ])('%s is ignored', (fileName) => {
    expect(parseMigrationFileName(fileName)).toMatchObject({ kind: 'ignored' });
  });

  it.each([
    ['1_x.up.sq', 'an SQL migration ends in .up.sql or .down.sql'],
    ['1_x.sql', 'an SQL migration ends in .up.sql or .down.sql'],
    ['1_x.up', 'the name matches no migration pattern'],
    ['1_x.UP.sql', '".up", ".down" and the extension must be lower-case'],
    ['1_x.up.SQL', '".up", ".down" and the extension must be lower-case'],
    ['1_x.Down.sql', '".up", ".down" and the extension must be lower-case'],
    ['1_x.TS', '".up", ".down" and the extension must be lower-case'],
    ['1_x.cjs', 'code migrations end in .ts, .js or .mjs'],
    ['1_x.mts', 'code migrations end in .ts, .js or .mjs'],
    ['1_x.up.ts', 'a code migration is one file that exports up() and optionally down(), not separate .up/.down files'],
    ['1_x.down.js', 'a code migration is one file that exports up() and optionally down(), not separate .up/.down files'],
    ['1_x.up.sql.bak', 'it looks like a backup or editor file; move it out of the migrations directory'],
    ['1_x.up.sql~', 'it looks like a backup or editor file; move it out of the migrations directory'],
    ['1_x.up.sql.orig', 'it looks like a backup or editor file; move it out of the migrations directory'],
    ['1_x.up.txt', 'an SQL migration ends in .up.sql or .down.sql'],
    ['001_README.md', 'the name matches no migration pattern'],
    ['9007199254740992_x.up.sql', 'the version 9007199254740992 is larger than 9007199254740991'],
    ['99999999999999999999_x.ts', 'the version 99999999999999999999 is larger than 9007199254740991'],
    ['1-init.up.sql', 'it does not start with <version>_'],
    ['init.up.sql', 'it does not start with <version>_'],
    ['V1__init.down.sql', 'it does not start with <version>_'],
    ['1_init.UP.SQL', '".up", ".down" and the extension must be lower-case'],
  ])('%s is invalid: %s', (fileName, why) => {
    expect(parseMigrationFileName(fileName)).toEqual({
      kind: 'invalid',
      message: `not a migration file name: ${why}; ${EXPECTED_PATTERNS}`,
    });
  });

  it('names the expected patterns in every invalid message', () => {
    const result = parseMigrationFileName('1_x.up.sq');
    expect(result.kind).toBe('invalid');
    expect(result.kind === 'invalid' && result.message).toContain(
      'expected <version>_<name>.up.sql, <version>_<name>.down.sql, or <version>_<name>.ts|.js|.mjs',
    );
  });

  it('gives ignored files a reason', () => {
    expect(parseMigrationFileName('README.md')).toEqual({
      kind: 'ignored',
      reason: 'the name does not start with <version>_',
    });
    expect(parseMigrationFileName('1_x.d.ts')).toEqual({ kind: 'ignored', reason: 'build artifact (.d.ts or .map)' });
  });
});
