import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError, ValidationError } from '../../src/errors.js';
import { postgresDialect as dialect } from '../../src/drivers/postgres/dialect.js';
import { checkBodies, readMigrations as readWith, type ReadMigrationsOptions, type SourceEntry, type SourceFs } from '../../src/source/read-migrations.js';

/** Reads as berth reads a PostgreSQL target's files. */
const readMigrations = (dir: string, options: Omit<ReadMigrationsOptions, 'dialect'> = {}) => readWith(dir, { dialect, ...options });
import type { Migration, SourceProblem } from '../../src/source/types.js';

const DIR = '/srv/migrations';
const BOM = [0xef, 0xbb, 0xbf];

type Tree = Record<string, string | number[] | Uint8Array | 'DIR' | 'FIFO'>;

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
      return Object.entries(tree).map(([name, content]): SourceEntry => ({
        name, kind: content === 'DIR' ? 'directory' : content === 'FIFO' ? 'fifo' : 'file',
      }));
    },
    async readFile(p) {
      reads.push(path.basename(p));
      const content = path.dirname(p) === dir ? tree[path.basename(p)] : undefined;
      if (content === undefined) return fail('ENOENT', `no such file or directory, open '${p}'`);
      if (content === 'DIR' || content === 'FIFO') throw new Error(`${p} is not a regular file and must never be opened`);
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
    // Down files are read and validated with the up files.
    expect(fs.reads.sort()).toEqual(['0003_seed.ts', '10_add_orders.down.sql', '10_add_orders.up.sql', '2_users.up.sql']);
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
      '12_pipe.up.sql': 'FIFO',
      'README.md': 'not a problem',
    });
    const { error, problems } = await problemsOf(readMigrations(DIR, { fs, maxFileBytes: 100 }));

    expect(error.message).toBe(
      [
        'migrations directory /srv/migrations has 13 problems:',
        '  1_init.ts, 1_init.up.sql: version 1 is claimed by 2 migrations (1_init.ts, 1_init.up.sql); give all but one a new, unused version',
        '  2_x.up.sq: not a migration file name: an SQL migration ends in .up.sql or .down.sql; expected <version>_<name>.up.sql, <version>_<name>.down.sql, or <version>_<name>.ts|.js|.mjs with a non-negative integer <version>',
        '  3_gone.down.sql: down file without an up file; add 3_gone.up.sql or remove the down file',
        '  04_two.down.sql, 4_two.down.sql: version 4 has 2 down files (04_two.down.sql, 4_two.down.sql); keep one',
        '  5_nul.up.sql:2: NUL byte (0x00) at byte offset 17 (line 2, column 8); a migration must be text (a NUL would cut the statement short on the server); save the file as UTF-8 without NUL bytes',
        '  6_latin1.up.sql:1: invalid UTF-8 byte 0xe9 at byte offset 26 (line 1, column 27); save the file as UTF-8 (it may be in Latin-1 or Windows-1252)',
        '  7_big.up.sql: the file is 210 bytes, more than the limit of 100 bytes; split it into smaller migrations',
        '  8_typo.up.sql:1: unknown directive "-- berth:no-transacton"; did you mean "-- berth:no-transaction"? known directives: -- berth:no-transaction, -- berth:lock-timeout <duration>, -- berth:statement-timeout <duration>',
        '  9_tx.up.sql:2: top-level COMMIT would interfere with the transaction berth runs each migration in; remove the COMMIT, or add "-- berth:no-transaction" at the top of the file to manage transactions yourself',
        '  9_tx.up.sql:4: top-level ROLLBACK would interfere with the transaction berth runs each migration in; remove the ROLLBACK, or add "-- berth:no-transaction" at the top of the file to manage transactions yourself',
        '  10_code.down.sql, 10_code.js: 10_code.down.sql is a down file for the code migration 10_code.js, which takes its down() from the same file; move the SQL into down() or remove 10_code.down.sql',
        '  11_dir.up.sql: it is a directory, not a file; remove it from the migrations directory, or put the migration file there instead',
        '  12_pipe.up.sql: it is a FIFO (named pipe), not a regular file; reading it would wait for a writer forever; remove it from the migrations directory, or put the migration file there instead',
      ].join('\n'),
    );
    expect(problems).toHaveLength(13);
    expect(problems[0]).toEqual({
      files: ['1_init.ts', '1_init.up.sql'],
      message: 'version 1 is claimed by 2 migrations (1_init.ts, 1_init.up.sql); give all but one a new, unused version',
    });
    expect(problems[4]).toMatchObject({ files: ['5_nul.up.sql'], line: 2 });
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

  it('runs a file wrapped in BEGIN ... COMMIT as a transactional migration, without the two statements', async () => {
    const sql = '-- golang-migrate style\nBEGIN;\nCREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nCOMMIT;\n';
    const [migration] = await readMigrations(DIR, { fs: memoryFs({ '1_wrapped.up.sql': sql }) });
    expect(migration?.checksum).toBe(sha256(sql));
    expect(migration?.directives).toEqual({ noTransaction: false });
    expect(migration?.statements.map((st) => [st.sql, st.line])).toEqual([['CREATE TABLE t (id int)', 3], ['INSERT INTO t VALUES (1)', 4]]);
  });

  it('runs a file whose single statement cannot run in a transaction outside one, saying why', async () => {
    const fs = memoryFs({
      '1_cic.up.sql': '-- an index on a big table\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a);\n',
      '1_cic.down.sql': 'DROP INDEX CONCURRENTLY IF EXISTS t_a;',
      '2_vacuum.up.sql': 'VACUUM (ANALYZE) t;',
    });
    const [cic, vacuum] = await readMigrations(DIR, { fs });
    expect(cic?.directives).toEqual({ noTransaction: true, noTransactionImpliedBy: 'CREATE INDEX CONCURRENTLY' });
    expect(cic?.downSql?.directives).toEqual({ noTransaction: true, noTransactionImpliedBy: 'DROP INDEX CONCURRENTLY' });
    expect(vacuum?.directives).toEqual({ noTransaction: true, noTransactionImpliedBy: 'VACUUM' });
  });

  it('refuses, naming the line and the directive, what cannot be run as one transaction', async () => {
    const fs = memoryFs({
      '1_mixed.up.sql': 'CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n',
      '2_wrapped_cic.up.sql': 'BEGIN;\nCREATE INDEX CONCURRENTLY t_b ON t (a);\nCOMMIT;\n',
      '3_mid_commit.up.sql': 'BEGIN;\nSELECT 1;\nCOMMIT;\nSELECT 2;\n',
      '4_modes.up.sql': 'BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nCOMMIT;\n',
      '5_chain.up.sql': 'BEGIN;\nSELECT 1;\nCOMMIT AND CHAIN;\n',
      '6_rollback.up.sql': 'BEGIN;\nSELECT 1;\nROLLBACK;\n',
      '7_discard.up.sql': '-- berth:no-transaction\nDISCARD ALL;\n',
      '8_quote.up.sql': "SELECT 1;\nSELECT 'no end;\n",
    });
    const { problems } = await problemsOf(readMigrations(DIR, { fs, bodies: 'lazy' }).then((ms) => checkBodies(DIR, ms)));
    expect(problems.map((p) => [p.files.join(', '), p.line])).toEqual([
      ['1_mixed.up.sql', 2],
      ['2_wrapped_cic.up.sql', 2],
      ['3_mid_commit.up.sql', 1],
      ['3_mid_commit.up.sql', 3],
      ['4_modes.up.sql', 1],
      ['5_chain.up.sql', 3],
      ['6_rollback.up.sql', 1],
      ['6_rollback.up.sql', 3],
      ['7_discard.up.sql', 2],
      ['8_quote.up.sql', 2],
    ]);
    const text = problems.map((p) => p.message).join('\n');
    expect(problems[0]!.message).toContain('CREATE INDEX CONCURRENTLY cannot run inside a transaction block');
    expect(problems[0]!.message).toContain('-- berth:no-transaction');
    expect(text).toContain("unterminated quoted string starting at line 2, column 8");
    expect(text).toContain("DISCARD ALL would release berth's migration lock");
  });

  it('accepts version 0', async () => {
    const [zero, one] = await readMigrations(DIR, { fs: memoryFs({ '0_initial.up.sql': 'SELECT 0', '1_next.up.sql': 'SELECT 1' }) });
    expect([zero?.version, one?.version]).toEqual([0, 1]);
  });

  it('refuses a FIFO or a directory named like a migration without opening it', async () => {
    const fs = memoryFs({ '1_ok.up.sql': 'SELECT 1', '2_pipe.up.sql': 'FIFO', '3_dir.up.sql': 'DIR' });
    const { problems } = await problemsOf(readMigrations(DIR, { fs }));
    expect(problems.map((p) => [p.files.join(', '), p.message.split(';')[0]])).toEqual([
      ['2_pipe.up.sql', 'it is a FIFO (named pipe), not a regular file'],
      ['3_dir.up.sql', 'it is a directory, not a file'],
    ]);
    expect(fs.reads).toEqual(['1_ok.up.sql']);
  });

  it('with lazy bodies, a directory refused for its names or bytes has every body problem in the same report', async () => {
    const fs = memoryFs({
      '1_ok.up.sql': 'SELECT 1',
      '2_latin1.up.sql': [...Buffer.from("SELECT 'caf"), 0xe9, ...Buffer.from("'")],
      '3_typo.up.sql': '-- berth:no-transacton\nSELECT 1',
      '3_again.up.sql': 'SELECT 1',
    });
    const { problems } = await problemsOf(readMigrations(DIR, { fs, bodies: 'lazy' }));
    expect(problems.map((p) => [p.files.join(', '), p.line])).toEqual([
      ['2_latin1.up.sql', 1],
      ['3_again.up.sql, 3_typo.up.sql', undefined],
      ['3_typo.up.sql', 1],
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

  it('reads and judges down files with the up files, in one report', async () => {
    const fs = memoryFs({
      '1_a.up.sql': 'SELECT 1',
      '1_a.down.sql': [...Buffer.from('DROP TABLE t;\n--'), 0xc3],
      '2_b.up.sql': 'SELECT 2',
      '2_b.down.sql': 'DROP TABLE u;\nCOMMIT;',
      '3_c.up.sql': [0xff],
    });
    const { problems } = await problemsOf(readMigrations(DIR, { fs, bodies: 'lazy' }));
    expect(problems).toMatchObject([
      { files: ['1_a.down.sql'], line: 2, message: expect.stringContaining('byte offset 16') },
      { files: ['2_b.down.sql'], line: 2 },
      { files: ['3_c.up.sql'], line: 1 },
    ]);
  });

  it('with lazy bodies, checks every down file but only the up files not verified', async () => {
    const fs = memoryFs({ '1_a.up.sql': 'COMMIT', '1_a.down.sql': 'DROP TABLE t;', '2_b.up.sql': 'SELECT 2', '2_b.down.sql': 'COMMIT' });
    const migrations = await readMigrations(DIR, { fs, bodies: 'lazy' });
    const { problems } = await problemsOf(Promise.reject(catchSync(() => checkBodies(DIR, migrations, () => true))));
    expect(problems.map((p) => p.files[0])).toEqual(['2_b.down.sql']);
    expect(migrations[0]!.downSql?.statements.map((st) => st.sql)).toEqual(['DROP TABLE t']);
  });

  it('applies the size limit to down files', async () => {
    const fs = memoryFs({ '1_a.up.sql': 'SELECT 1', '1_a.down.sql': 'x'.repeat(50) });
    await expect(readMigrations(DIR, { fs, maxFileBytes: 10 })).rejects.toThrow(
      '1_a.down.sql: the file is 50 bytes, more than the limit of 10 bytes',
    );
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
      expect(migrations[0]!.downSql?.statements.map((st) => st.sql)).toEqual(['DROP TABLE t']);

      await expect(readMigrations(path.join(dir, '1_init.up.sql'))).rejects.toThrow(/is not a directory/);
      await expect(readMigrations(path.join(dir, 'missing'))).rejects.toBeInstanceOf(ConfigError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
