/**
 * Adoption's pure part: recognising another tool's history table by its columns (as the server
 * spells their types), reading the state it records, and which files that state covers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import {
  adoptCommand, adoptedMigrations, adoptionRequiredError, candidateSchemas, checkBaselineFrom, describeState,
  foreignTableError, notRecorded, parseFromTable, readForeignHistory, recogniseTable, recordsNothing, type ForeignTool,
} from '../../src/core/adopt.js';
import type { InspectedTable } from '../../src/drivers/driver.js';
import { ConfigError, ValidationError } from '../../src/errors.js';
import { migration } from './plan-builders.js';

const col = (name: string, type: string) => ({ name, type });
/** The columns `format_type` reports for each table as the tools create it. */
const GOLANG_MIGRATE = [col('version', 'bigint'), col('dirty', 'boolean')];
const DBMATE = [col('version', 'character varying')];
const NODE_PG_MIGRATE = [col('id', 'integer'), col('name', 'character varying(255)'), col('run_on', 'timestamp without time zone')];
const BERTH = [
  col('version', 'bigint'), col('name', 'text'), col('checksum', 'text'), col('status', 'text'), col('statements_applied', 'integer'),
  col('statements_total', 'integer'), col('applied_at', 'timestamp with time zone'), col('duration_ms', 'integer'),
  col('applied_by', 'text'), col('host', 'text'), col('berth_version', 'text'),
];

function table(name: string, columns: InspectedTable['columns'], rows?: Record<string, string | null>[], schema = 'public'): InspectedTable {
  return { schema, table: name, columns, ...(rows ? { rows } : {}) };
}
const gm = (rows: Record<string, string | null>[], name = 'schema_migrations') => readForeignHistory('golang-migrate', table(name, GOLANG_MIGRATE, rows));
const dbmate = (versions: string[]) => readForeignHistory('dbmate', table('schema_migrations', DBMATE, versions.map((version) => ({ version }))));
const npm = (names: string[]) => readForeignHistory('node-pg-migrate', table('pgmigrations', NODE_PG_MIGRATE,
  names.map((name, i) => ({ id: String(i + 1), name, run_on: '2024-01-01 00:00:00' }))));

function thrown(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('recogniseTable', () => {
  it.each<[string, InspectedTable['columns'], ForeignTool | 'berth' | null]>([
    ['golang-migrate: version bigint, dirty boolean', GOLANG_MIGRATE, 'golang-migrate'],
    ['golang-migrate from an older release with an integer version', [col('version', 'integer'), col('dirty', 'boolean')], 'golang-migrate'],
    ['dbmate: version varchar', DBMATE, 'dbmate'],
    ['dbmate-shaped with a length (Rails keeps the same table)', [col('version', 'character varying(255)')], 'dbmate'],
    ['node-pg-migrate: id serial, name varchar(255), run_on timestamp', NODE_PG_MIGRATE, 'node-pg-migrate'],
    ['columns in another order', [col('dirty', 'boolean'), col('version', 'bigint')], 'golang-migrate'],
    ['berth', BERTH, 'berth'],
    ['an application table', [col('id', 'bigint'), col('email', 'text')], null],
    ['golang-migrate-like with one more column', [...GOLANG_MIGRATE, col('note', 'text')], null],
    ['a text version with dirty', [col('version', 'text'), col('dirty', 'boolean')], null],
    ['a bigint version alone', [col('version', 'bigint')], null],
    ['no columns', [], null],
    ['a column named like an Object.prototype member', [col('constructor', 'text')], null],
  ])('%s', (_label, columns, expected) => {
    expect(recogniseTable(columns)).toBe(expected);
  });
});

describe('readForeignHistory', () => {
  it('golang-migrate: its one row, clean or dirty; -1 is no version; an empty table records nothing', () => {
    expect(gm([{ version: '7', dirty: 'false' }])).toMatchObject({ versions: [{ version: 7, label: '7' }], dirty: false, problems: [], table: 'public.schema_migrations', customName: false });
    expect(gm([{ version: '7', dirty: 'true' }])).toMatchObject({ versions: [{ version: 7 }], dirty: true });
    expect(gm([{ version: '-1', dirty: 'true' }])).toMatchObject({ versions: [], dirty: true });
    expect(gm([{ version: '0', dirty: 'false' }]).versions).toEqual([{ version: 0, label: '0' }]);
    expect(recordsNothing(gm([]))).toBe(true);
    expect(recordsNothing(gm([{ version: '-1', dirty: 'false' }]))).toBe(true);
    expect(recordsNothing(gm([{ version: '-1', dirty: 'true' }]))).toBe(false);
    expect(gm([{ version: '1', dirty: 'false' }], 'gm_history').customName).toBe(true);
  });

  it('golang-migrate: more than one row is a problem, not a guess', () => {
    expect(gm([{ version: '3', dirty: 'false' }, { version: '5', dirty: 'false' }]).problems).toEqual([expect.stringContaining('2 rows')]);
  });

  it('dbmate: every row, sorted numerically, leading zeros allowed; what is no version is a problem', () => {
    const h = dbmate(['20240103000000', '007', '20240101000000']);
    expect(h.versions.map((v) => v.version)).toEqual([7, 20240101000000, 20240103000000]);
    expect(h.versions[0]!.label).toBe('007');
    expect(dbmate(['abc']).problems).toEqual([expect.stringContaining('"abc" is not a version')]);
    expect(dbmate(['1', '001']).problems).toEqual([expect.stringContaining('"1" and "001" are both version 1')]);
    expect(dbmate(['123456789012345678']).problems).toEqual([expect.stringContaining('not a version berth can use')]);
  });

  it('node-pg-migrate: the numeric prefix of each name is the version; a 17-digit UTC prefix is too large', () => {
    const h = npm(['1700000000002_add-orders', '1700000000001_create-users']);
    expect(h.versions).toEqual([
      { version: 1700000000001, label: '1700000000001_create-users' },
      { version: 1700000000002, label: '1700000000002_add-orders' },
    ]);
    expect(npm(['20200513070724505_x']).problems).toEqual([expect.stringContaining('"20200513070724505_x"')]);
    expect(npm(['init']).problems).toEqual([expect.stringContaining('"init" is not a version')]);
  });

  it('describeState says the version or the count and the newest', () => {
    expect(describeState(gm([{ version: '7', dirty: 'false' }]))).toBe('is at version 7');
    expect(describeState(gm([{ version: '7', dirty: 'true' }]))).toBe('is at version 7 (dirty)');
    expect(describeState(dbmate(['1', '3']))).toBe('records 2 migration(s), the newest 3');
    expect(describeState(npm(['1_a']))).toBe('records 1 migration(s), the newest 1_a');
  });
});

describe('adoptedMigrations', () => {
  const files = [migration(1), migration(2), migration(3), migration(4)];
  const versions = (ms: { version: number }[]) => ms.map((m) => m.version);

  it('golang-migrate: every file up to its version; none when it is at no version', () => {
    expect(versions(adoptedMigrations(gm([{ version: '3', dirty: 'false' }]), files, '/m'))).toEqual([1, 2, 3]);
    expect(adoptedMigrations(gm([]), files, '/m')).toEqual([]);
  });

  it('dbmate and node-pg-migrate: exactly the versions recorded, gaps stay pending and are reported', () => {
    const h = dbmate(['1', '3']);
    expect(versions(adoptedMigrations(h, files, '/m'))).toEqual([1, 3]);
    expect(versions(notRecorded(h, files))).toEqual([2]);
    expect(notRecorded(gm([{ version: '3', dirty: 'false' }]), files)).toEqual([]);
    expect(versions(adoptedMigrations(npm(['2_m2', '4_m4']), files, '/m'))).toEqual([2, 4]);
  });

  it('a recorded version with no file here is refused, naming it as the tool wrote it', () => {
    const err = thrown(() => adoptedMigrations(npm(['1_m1', '9_later']), files, '/srv/migrations'));
    expect(err.code).toBe('ERR_ADOPT_MISMATCH');
    expect(err.message).toContain('records 1 migration(s) that have no file in /srv/migrations');
    expect(err.message).toContain('9_later (version 9)');
    expect(thrown(() => adoptedMigrations(gm([{ version: '7', dirty: 'false' }]), files, '/m')).code).toBe('ERR_ADOPT_MISMATCH');
  });

  it('rows that are no version are refused with each problem', () => {
    const err = thrown(() => adoptedMigrations(dbmate(['1', 'abc']), files, '/m'));
    expect(err.code).toBe('ERR_ADOPT_MISMATCH');
    expect(err.message).toContain('"abc" is not a version');
  });

  it('a dirty golang-migrate state is refused: what to check and golang-migrate\'s force for either outcome', () => {
    const withDown = [migration(1), migration(2), migration(3, { down: true }), migration(4, { down: true })];
    const err = thrown(() => adoptedMigrations(gm([{ version: '3', dirty: 'true' }]), withDown, '/m'));
    expect(err.code).toBe('ERR_ADOPT_DIRTY');
    expect(err.message).toContain('dirty at 3');
    expect(err.message).toContain('golang-migrate did not finish 3_m3.up.sql (or, rolling back, 4_m4.down.sql)');
    expect(err.message).toMatch(/force 3 +# the database is at version 3: all of 3_m3.up.sql is in place, nothing of 4_m4.up.sql\n/);
    expect(err.message).toMatch(/force 2 +# nothing of 3_m3.up.sql is in place\n/);
    expect(err.message).toContain('berth baseline --from golang-migrate');
    const first = thrown(() => adoptedMigrations(gm([{ version: '-1', dirty: 'true' }]), withDown, '/m'));
    expect(first.message).toContain('dirty at no version');
    expect(first.message).toMatch(/force -1 +# nothing of it is left: no version/);
    expect(first.message).toMatch(/force 1 +# all of 1_m1.up.sql is still in place/);
  });
});

describe('messages', () => {
  it('adoption required names each tool, what it recorded and the command that adopts it', () => {
    const err = adoptionRequiredError([gm([{ version: '2', dirty: 'false' }]), npm(['1_m1'])], 'public.berth_migrations', []);
    expect(err.code).toBe('ERR_ADOPT_REQUIRED');
    expect(err.exitCode).toBe(5);
    expect(err.message).toContain('no berth history table (public.berth_migrations)');
    expect(err.message).toContain("public.schema_migrations is golang-migrate's history table and is at version 2; adopt it with: berth baseline --from golang-migrate\n");
    expect(err.message).toContain("public.pgmigrations is node-pg-migrate's history table and records 1 migration(s), the newest 1_m1; adopt it with: berth baseline --from node-pg-migrate\n");
    expect(adoptionRequiredError([gm([{ version: '2', dirty: 'true' }])], 't', []).code).toBe('ERR_ADOPT_DIRTY');
  });

  it('a table at another name is adopted with --from-table', () => {
    expect(adoptCommand(gm([{ version: '2', dirty: 'false' }], 'gm_history'))).toBe('berth baseline --from golang-migrate --from-table public.gm_history');
  });

  it('a foreign --table: its columns, whose table it is, what to do instead', () => {
    const users = foreignTableError(table('users', [col('id', 'bigint'), col('email', 'text')]), 'berth_migrations');
    expect(users.code).toBe('ERR_HISTORY_TABLE_FOREIGN');
    expect(users.message).toContain('public.users is not a berth history table (its columns: id bigint, email text)');
    expect(users.message).toContain('Leave --table unset (berth_migrations)');
    const gmTable = foreignTableError(table('schema_migrations', GOLANG_MIGRATE), 'berth_migrations');
    expect(gmTable.message).toContain("golang-migrate's history table");
    expect(gmTable.message).toContain('berth baseline --from golang-migrate');
    const taken = foreignTableError(table('berth_migrations', [col('id', 'integer')]), 'berth_migrations');
    expect(taken.message).not.toContain('Leave --table unset');
    expect(taken.message).toContain('Set --table to a table that does not exist yet');
  });
});

describe('options', () => {
  it('candidate schemas: berth\'s, the current one, public; each once', () => {
    expect(candidateSchemas('app', 'tenant')).toEqual(['app', 'tenant', 'public']);
    expect(candidateSchemas('public', 'public')).toEqual(['public']);
    expect(candidateSchemas('app', null)).toEqual(['app', 'public']);
  });

  it('--from-table is a table or schema.table', () => {
    expect(parseFromTable('migrations')).toEqual({ table: 'migrations' });
    expect(parseFromTable('app.SchemaMigrations')).toEqual({ schema: 'app', table: 'SchemaMigrations' });
    for (const bad of ['a.b.c', '"x"', '1abc', '', 'a.']) expect(() => parseFromTable(bad), bad).toThrow(ConfigError);
  });

  it('an unknown --from is a usage error', () => {
    expect(() => checkBaselineFrom({ from: 'flyway' as ForeignTool })).toThrow(/not a tool berth can adopt from: use one of golang-migrate, dbmate, node-pg-migrate/);
    expect(() => checkBaselineFrom({ from: 'dbmate', fromTable: 'x;drop' })).toThrow(ConfigError);
    expect(() => checkBaselineFrom({ from: 'dbmate', fromTable: 'app.migrations' })).not.toThrow();
  });
});

describe('berth baseline on the command line: usage errors exit 2 before anything is opened', () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'berth-adopt-cli-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it.each([
    [['baseline', '3', '--from', 'dbmate'], 'baseline takes a <version> or --from <tool>, not both'],
    [['baseline', '--from-table', 'x'], '--from-table names the other tool\'s table: it needs --from <tool>'],
    [['baseline', '--from', 'flyway'], '--from "flyway" is not a tool berth can adopt from: use one of golang-migrate, dbmate, node-pg-migrate'],
    [['baseline', '--from', 'dbmate', '--from-table', 'a.b.c'], '--from-table "a.b.c" is not a table name'],
    [['baseline'], 'baseline needs a version or --from'],
    [['baseline', '1', '2'], "too many arguments for baseline: '2'"],
  ])('%j', async (argv, message) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli([...argv, '-d', 'pglite://memory', '--dir', cwd, '--log-format', 'json'], {
      stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) },
      env: {}, cwd, stdoutIsTTY: false, stderrIsTTY: false,
    });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const messages = stderr.split('\n').filter(Boolean).map((line) => String((JSON.parse(line) as { msg: unknown }).msg));
    expect(messages.some((m) => m.includes(message)), stderr).toBe(true);
  });
});
