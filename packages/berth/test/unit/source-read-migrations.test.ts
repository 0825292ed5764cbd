import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError, ValidationError } from '../../src/core/errors.js';
import { checkBodies, readDownSql, readMigrations, type SourceFs } from '../../src/source/read-migrations.js';
import type { Migration, SourceProblem } from '../../src/source/types.js';

const DIR = '/srv/migrations';
const BOM = [0xef, 0xbb, 0xbf];

type Tree = Record<string, string | number[] | Uint8Array | 'DIR'>;

/** An in-memory migrations directory that records which files were read. */
function memoryFs(tree: Tree, dir = DIR): SourceFs & { reads: string[] } {
  const reads: string[] = [];
  const fail = (code: string, message: string): never => {
    throw Object.assign(new Error(`${code}: ${message}`), { code });
  };
  return {
    reads,
    async readdir(p) {
      if (p !== dir) fail('ENOENT', `no such file or directory, scandir '${p}'`);
      return Object.keys(tree);
    },
    async readFile(p) {
      reads.push(path.basename(p));
      const content = path.dirname(p) === dir ? tree[path.basename(p)] : undefined;
      if (content === undefined) return fail('ENOENT', `no such file or directory, open '${p}'`);
      if (content === 'DIR') return fail('EISDIR', 'illegal operation on a directory, read');
      if (typeof content === 'string') return new Uint8Array(Buffer.from(content, 'utf8'));
      return Uint8Array.from(content);
    },
  };
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

async function problemsOf(promise: Promise<unknown>): Promise<{ error: ValidationError; problems: SourceProblem[] }> {
  const error = await promise.then(
    () => {
      throw new Error('expected readMigrations to fail');
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ValidationError);
  const validation = error as ValidationError;
  expect(validation.code).toBe('ERR_SOURCE_INVALID');
  expect(validation.exitCode).toBe(5);
  return { error: validation, problems: validation.details['problems'] as SourceProblem[] };
}

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('readMigrations', () => {
  it('returns SQL and code migrations in numeric version order', async () => {
    const fs = memoryFs({
      '10_add_orders.up.sql': '-- berth:lock-timeout 5s\nCREATE TABLE orders (id int);\nCREATE INDEX o ON orders (id);\n',
      '10_add_orders.down.sql': 'DROP TABLE orders;',
      '2_users.up.sql': 'CREATE TABLE users (id int)',
      '0003_seed.ts': 'export async function up(ctx) { await ctx.sql("select 1"); }\n',
      'README.md': '# migrations',
    });
    const migrations = await readMigrations(DIR, { fs });

    expect(migrations.map((m) => [m.version, m.name, m.kind])).toEqual([
      [2, 'users', 'sql'],
      [3, 'seed', 'code'],
      [10, 'add_orders', 'sql'],
    ]);
    // The parsed body is read through getters: compare what a reader of each field sees.
    const fields = (m: Migration | undefined) => m && { ...m, sql: m.sql, statements: m.statements, directives: m.directives };
    expect(fields(migrations[0])).toEqual({
      version: 2,
      name: 'users',
      kind: 'sql',
      up: { fileName: '2_users.up.sql', path: '/srv/migrations/2_users.up.sql' },
      checksum: sha256('CREATE TABLE users (id int)'),
      sql: 'CREATE TABLE users (id int)',
      statements: [{ sql: 'CREATE TABLE users (id int)', offset: 0, line: 1, column: 1 }],
      directives: { noTransaction: false },
    });
    expect(fields(migrations[1])).toEqual({
      version: 3,
      name: 'seed',
      kind: 'code',
      up: { fileName: '0003_seed.ts', path: '/srv/migrations/0003_seed.ts' },
      checksum: sha256('export async function up(ctx) { await ctx.sql("select 1"); }\n'),
      statements: [],
      directives: { noTransaction: false },
    });
    expect(migrations[2]).toMatchObject({
      version: 10,
      up: { fileName: '10_add_orders.up.sql' },
      down: { fileName: '10_add_orders.down.sql', path: '/srv/migrations/10_add_orders.down.sql' },
      directives: { noTransaction: false, lockTimeoutMs: 5_000 },
      statements: [
        { sql: 'CREATE TABLE orders (id int)', line: 2, column: 1 },
        { sql: 'CREATE INDEX o ON orders (id)', line: 3, column: 1 },
      ],
    });
    // Down files are read when `down` runs, not before.
    expect(fs.reads.sort()).toEqual(['0003_seed.ts', '10_add_orders.up.sql', '2_users.up.sql']);
    expect(Object.isFrozen(migrations[0])).toBe(true);
  });

  it('checksums the bytes as stored, BOM included, and strips the BOM from the text', async () => {
    const raw = [...BOM, ...Buffer.from('SELECT 1;')];
    const [migration] = await readMigrations(DIR, { fs: memoryFs({ '1_bom.up.sql': raw }) });
    expect(migration?.checksum).toBe(sha256(Uint8Array.from(raw)));
    expect(migration?.checksum).not.toBe(sha256('SELECT 1;'));
    expect(migration?.sql).toBe('SELECT 1;');
    expect(migration?.statements).toEqual([{ sql: 'SELECT 1', offset: 0, line: 1, column: 1 }]);
  });

  it('returns nothing for an empty directory and tells about ignored files', async () => {
    const ignored: [string, string][] = [];
    const migrations = await readMigrations(DIR, {
      fs: memoryFs({ '.gitkeep': '', 'README.md': '', '1_x.d.ts': '' }),
      onFileIgnored: (fileName, reason) => ignored.push([fileName, reason]),
    });
    expect(migrations).toEqual([]);
    expect(ignored).toEqual([
      ['.gitkeep', 'the name does not start with <version>_'],
      ['1_x.d.ts', 'build artifact (.d.ts or .map)'],
      ['README.md', 'the name does not start with <version>_'],
    ]);
  });

  it('allows transaction control and CREATE INDEX CONCURRENTLY in a no-transaction file', async () => {
    const sql = '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\nBEGIN;\nUPDATE t SET a = 1;\nCOMMIT;\n';
    const [migration] = await readMigrations(DIR, { fs: memoryFs({ '1_cic.up.sql': sql }) });
    expect(migration?.directives).toEqual({ noTransaction: true });
    expect(migration?.statements.map((s) => s.sql)).toEqual([
      'CREATE INDEX CONCURRENTLY i ON t (a)',
      'BEGIN',
      'UPDATE t SET a = 1',
      'COMMIT',
    ]);
  });

  it('reports every problem of the directory in one error', async () => {
    const fs = memoryFs({
      '1_init.up.sql': 'CREATE TABLE a (id int);',
      '1_init.ts': 'export async function up() {}',
      '2_x.up.sq': 'SELECT 1',
      '3_gone.down.sql': 'DROP TABLE gone;',
      '4_two.up.sql': 'SELECT 1',
      '4_two.down.sql': 'SELECT 1',
      '04_two.down.sql': 'SELECT 1',
      '5_nul.up.sql': [...Buffer.from('SELECT 1;\nSELECT '), 0, ...Buffer.from('2;')],
      '6_latin1.up.sql': [...Buffer.from("INSERT INTO t VALUES ('caf"), 0xe9, ...Buffer.from("');")],
      '7_big.up.sql': `SELECT '${'x'.repeat(200)}';`,
      '8_typo.up.sql': '-- berth:no-transacton\nCREATE INDEX CONCURRENTLY i ON t (a);',
      '9_tx.up.sql': 'CREATE TABLE t (id int);\nCOMMIT;\nINSERT INTO t VALUES (1);\nROLLBACK;\n',
      '10_code.js': 'export async function up() {}',
      '10_code.down.sql': 'SELECT 1',
      '11_dir.up.sql': 'DIR',
      '0_zero.up.sql': 'SELECT 1',
      'README.md': 'not a problem',
    });
    const { error, problems } = await problemsOf(readMigrations(DIR, { fs, maxFileBytes: 100 }));

    expect(error.message).toBe(
      [
        'migrations directory /srv/migrations has 13 problems:',
        '  0_zero.up.sql: not a migration file name: the version must be a positive integer, not 0; expected <version>_<name>.up.sql, <version>_<name>.down.sql, or <version>_<name>.ts|.js|.mjs with a positive integer <version>',
        '  1_init.ts, 1_init.up.sql: version 1 is claimed by 2 migrations (1_init.ts, 1_init.up.sql); give all but one a new, unused version',
        '  2_x.up.sq: not a migration file name: an SQL migration ends in .up.sql or .down.sql; expected <version>_<name>.up.sql, <version>_<name>.down.sql, or <version>_<name>.ts|.js|.mjs with a positive integer <version>',
        '  3_gone.down.sql: down file without an up file; add 3_gone.up.sql or remove the down file',
        '  04_two.down.sql, 4_two.down.sql: version 4 has 2 down files (04_two.down.sql, 4_two.down.sql); keep one',
        '  5_nul.up.sql:2: NUL byte (0x00) at byte offset 17 (line 2, column 8); a migration must be text (a NUL would cut the statement short on the server); save the file as UTF-8 without NUL bytes',
        '  6_latin1.up.sql:1: invalid UTF-8 byte 0xe9 at byte offset 26 (line 1, column 27); save the file as UTF-8 (it may be in Latin-1 or Windows-1252)',
        '  7_big.up.sql: the file is 210 bytes, more than the limit of 100 bytes; split it into smaller migrations',
        '  8_typo.up.sql:1: unknown directive "-- berth:no-transacton"; did you mean "-- berth:no-transaction"? known directives: -- berth:no-transaction, -- berth:lock-timeout <duration>, -- berth:statement-timeout <duration>',
        '  9_tx.up.sql:2: top-level COMMIT would interfere with the transaction berth runs each migration in; remove the COMMIT, or add "-- berth:no-transaction" at the top of the file to manage transactions yourself',
        '  9_tx.up.sql:4: top-level ROLLBACK would interfere with the transaction berth runs each migration in; remove the ROLLBACK, or add "-- berth:no-transaction" at the top of the file to manage transactions yourself',
        '  10_code.down.sql, 10_code.js: 10_code.down.sql is a down file for the code migration 10_code.js, which takes its down() from the same file; move the SQL into down() or remove 10_code.down.sql',
        '  11_dir.up.sql: cannot read the file: it is a directory, not a file; rename or move it out of the migrations directory',
      ].join('\n'),
    );
    expect(problems).toHaveLength(13);
    expect(problems[1]).toEqual({
      files: ['1_init.ts', '1_init.up.sql'],
      message: 'version 1 is claimed by 2 migrations (1_init.ts, 1_init.up.sql); give all but one a new, unused version',
    });
    expect(problems[5]).toMatchObject({ files: ['5_nul.up.sql'], line: 2 });
    expect(error.details['dir']).toBe(DIR);
  });

  it('names every file of a duplicated version, down files included', async () => {
    const fs = memoryFs({
      '20240101000000_a.up.sql': 'SELECT 1',
      '20240101000000_a.down.sql': 'SELECT 1',
      '20240101000000_b.up.sql': 'SELECT 2',
      '020240101000000_c.mjs': 'export function up() {}',
    });
    const { problems } = await problemsOf(readMigrations(DIR, { fs }));
    expect(problems).toEqual([
      {
        files: ['020240101000000_c.mjs', '20240101000000_a.up.sql', '20240101000000_b.up.sql', '20240101000000_a.down.sql'],
        message:
          'version 20240101000000 is claimed by 3 migrations (020240101000000_c.mjs, 20240101000000_a.up.sql, 20240101000000_b.up.sql); give all but one a new, unused version',
      },
    ]);
  });

  it('reports duplicates and the duplicates’ own content problems together', async () => {
    const fs = memoryFs({ '1_a.up.sql': [0xff], '1_b.up.sql': 'COMMIT' });
    const { problems } = await problemsOf(readMigrations(DIR, { fs }));
    expect(problems.map((p) => [p.files.join(', '), p.line])).toEqual([
      ['1_a.up.sql, 1_b.up.sql', undefined],
      ['1_a.up.sql', 1],
      ['1_b.up.sql', 1],
    ]);
  });

  it('explains a file that wraps itself in BEGIN ... COMMIT', async () => {
    const fs = memoryFs({ '1_wrapped.up.sql': '-- golang-migrate style\nBEGIN;\nCREATE TABLE t (id int);\nCOMMIT;\n' });
    const { error } = await problemsOf(readMigrations(DIR, { fs }));
    expect(error.message).toBe(
      'migrations directory /srv/migrations has 1 problem:\n' +
        '  1_wrapped.up.sql:2: the file wraps itself in BEGIN (line 2) ... COMMIT (line 4); berth already runs each migration in its own transaction, so delete those two statements, or add "-- berth:no-transaction" at the top of the file to manage transactions yourself',
    );
  });

  it('with lazy bodies, still checks names, size and encoding of every file at once', async () => {
    const fs = memoryFs({
      '1_ok.up.sql': 'SELECT 1',
      '2_latin1.up.sql': [...Buffer.from("SELECT 'caf"), 0xe9, ...Buffer.from("'")],
      '3_typo.up.sql': '-- berth:no-transacton\nSELECT 1',
      '3_again.up.sql': 'SELECT 1',
    });
    const { problems } = await problemsOf(readMigrations(DIR, { fs, bodies: 'lazy' }));
    // The directive typo waits for the body check: only structure and bytes are judged here.
    expect(problems.map((p) => [p.files.join(', '), p.line])).toEqual([
      ['2_latin1.up.sql', 1],
      ['3_again.up.sql, 3_typo.up.sql', undefined],
    ]);
  });

  it('with lazy bodies, parses a file when asked and reports every problem of a set at once', async () => {
    const fs = memoryFs({
      '1_ok.up.sql': '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\nSELECT 2;',
      '2_typo.up.sql': '-- berth:no-transacton\nSELECT 1',
      '3_tx.up.sql': 'SELECT 1;\nCOMMIT;',
      '4_ok.up.sql': 'SELECT 4',
    });
    const migrations = await readMigrations(DIR, { fs, bodies: 'lazy' });
    expect(migrations.map((m) => m.checksum)).toEqual([
      sha256('-- berth:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\nSELECT 2;'),
      sha256('-- berth:no-transacton\nSELECT 1'),
      sha256('SELECT 1;\nCOMMIT;'),
      sha256('SELECT 4'),
    ]);
    const [ok, typo, tx, last] = migrations;
    expect(ok?.directives).toEqual({ noTransaction: true });
    expect(ok?.statements.map((st) => [st.sql, st.line])).toEqual([['CREATE INDEX CONCURRENTLY i ON t (a)', 2], ['SELECT 2', 3]]);
    expect(() => checkBodies(DIR, [ok!, last!])).not.toThrow();

    const { problems } = await problemsOf(Promise.reject(catchSync(() => checkBodies(DIR, migrations))));
    expect(problems.map((p) => [p.files.join(', '), p.line])).toEqual([
      ['2_typo.up.sql', 1],
      ['3_tx.up.sql', 2],
    ]);
    // Reading a broken body throws the same error for that file alone.
    const single = await problemsOf(Promise.reject(catchSync(() => typo?.statements)));
    expect(single.problems).toHaveLength(1);
    expect(catchSync(() => tx?.sql)).toBeInstanceOf(ValidationError);
  });

  it('does not read or judge down files', async () => {
    const fs = memoryFs({ '1_a.up.sql': 'SELECT 1', '1_a.down.sql': [0xff, 0x00] });
    const [migration] = await readMigrations(DIR, { fs });
    expect(migration?.down?.fileName).toBe('1_a.down.sql');
    expect(fs.reads).toEqual(['1_a.up.sql']);
  });

  it('refuses a missing directory with a configuration error naming --dir and BERTH_DIR', async () => {
    const error = await readMigrations('/srv/nope', { fs: memoryFs({}) }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      exitCode: 2,
      message:
        'migrations directory /srv/nope does not exist; set --dir or BERTH_DIR to the directory that holds the migration files',
    });
  });

  it('shows a relative directory both as given and resolved', async () => {
    const error = await readMigrations('db/migrations', { fs: memoryFs({}) }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      `migrations directory db/migrations (${path.resolve('db/migrations')}) does not exist; set --dir or BERTH_DIR to the directory that holds the migration files`,
    );
  });

  it('reads a real directory with node:fs by default', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-source-'));
    try {
      await writeFile(path.join(dir, '1_init.up.sql'), 'CREATE TABLE t (id int);\n');
      await writeFile(path.join(dir, '1_init.down.sql'), 'DROP TABLE t;\n');
      await mkdir(path.join(dir, 'archive'));
      const migrations = await readMigrations(dir);
      expect(migrations).toHaveLength(1);
      expect(migrations[0]).toMatchObject({
        version: 1,
        up: { path: path.join(dir, '1_init.up.sql') },
        down: { path: path.join(dir, '1_init.down.sql') },
      });
      const down = await readDownSql(migrations[0]!);
      expect(down.statements.map((s) => s.sql)).toEqual(['DROP TABLE t']);

      await expect(readMigrations(path.join(dir, '1_init.up.sql'))).rejects.toThrow(/is not a directory/);
      await expect(readMigrations(path.join(dir, 'missing'))).rejects.toBeInstanceOf(ConfigError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('readDownSql', () => {
  it('reads, decodes and splits the down file on demand', async () => {
    const fs = memoryFs({
      '1_idx.up.sql': '-- berth:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);',
      '1_idx.down.sql': [...BOM, ...Buffer.from('-- berth:no-transaction\nDROP INDEX CONCURRENTLY i;\n')],
    });
    const [migration] = await readMigrations(DIR, { fs });
    const down = await readDownSql(migration!, fs);
    expect(down).toEqual({
      fileName: '1_idx.down.sql',
      checksum: sha256(Uint8Array.from([...BOM, ...Buffer.from('-- berth:no-transaction\nDROP INDEX CONCURRENTLY i;\n')])),
      sql: '-- berth:no-transaction\nDROP INDEX CONCURRENTLY i;\n',
      statements: [{ sql: 'DROP INDEX CONCURRENTLY i', offset: 24, line: 2, column: 1 }],
      directives: { noTransaction: true },
    });
  });

  it('throws a validation error naming the offset of an undecodable down file', async () => {
    const fs = memoryFs({ '1_a.up.sql': 'SELECT 1', '1_a.down.sql': [...Buffer.from('DROP TABLE t;\n--'), 0xc3] });
    const [migration] = await readMigrations(DIR, { fs });
    const { error, problems } = await problemsOf(readDownSql(migration!, fs));
    expect(error.message).toBe(
      'migrations directory /srv/migrations has 1 problem:\n' +
        '  1_a.down.sql:2: invalid UTF-8 byte 0xc3 at byte offset 16 (line 2, column 3); save the file as UTF-8 (it may be in Latin-1 or Windows-1252)',
    );
    expect(problems).toEqual([{ files: ['1_a.down.sql'], line: 2, message: expect.stringContaining('byte offset 16') }]);
  });

  it('refuses transaction control in a transactional down file', async () => {
    const fs = memoryFs({ '1_a.up.sql': 'SELECT 1', '1_a.down.sql': 'DROP TABLE t;\nCOMMIT;' });
    const [migration] = await readMigrations(DIR, { fs });
    const { problems } = await problemsOf(readDownSql(migration!, fs));
    expect(problems).toMatchObject([{ files: ['1_a.down.sql'], line: 2 }]);
  });

  it('throws when there is no down file', async () => {
    const fs = memoryFs({ '1_a.up.sql': 'SELECT 1' });
    const [migration] = await readMigrations(DIR, { fs });
    const { error } = await problemsOf(readDownSql(migration!, fs));
    expect(error.message).toBe(
      'migrations directory /srv/migrations has 1 problem:\n' +
        '  1_a.up.sql: migration 1 has no down file; write 1_a.down.sql to make it reversible',
    );
  });

  it('applies the size limit', async () => {
    const fs = memoryFs({ '1_a.up.sql': 'SELECT 1', '1_a.down.sql': 'x'.repeat(50) });
    const [migration] = await readMigrations(DIR, { fs });
    await expect(readDownSql(migration!, fs, { maxFileBytes: 10 })).rejects.toThrow(
      '1_a.down.sql: the file is 50 bytes, more than the limit of 10 bytes',
    );
  });
});
