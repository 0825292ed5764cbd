/**
 * Adopting a database another migration tool managed: recognising the history table that
 * golang-migrate, dbmate or node-pg-migrate left, reading the state it records, and deciding
 * which of our files that state covers; and saying what a `--table` that is not berth's holds.
 * Everything is pure except `findForeignHistories`, `findAdoptable` and `explainHistoryError`,
 * which only read, through `Driver.inspectTables`.
 */
import type { Driver, HistoryTable, InspectedTable } from '../drivers/driver.js';
import { DriverQueryError } from '../drivers/driver.js';
import type { Migration } from '../source/types.js';
import { BerthError, ConfigError, InternalError, ValidationError } from './errors.js';

export const FOREIGN_TOOLS = ['golang-migrate', 'dbmate', 'node-pg-migrate'] as const;
export type ForeignTool = (typeof FOREIGN_TOOLS)[number];

/** `berth baseline --from <tool> [--from-table <table>]`: take over the state another tool recorded. */
export interface BaselineFrom {
  readonly from: ForeignTool;
  /**
   * The tool's history table when it was told another name than its default (golang-migrate's
   * `x-migrations-table`, dbmate's `--migrations-table`, node-pg-migrate's `migrationsTable`):
   * `table` or `schema.table`.
   */
  readonly fromTable?: string;
}

type Columns = InspectedTable['columns'];

interface ToolSpec {
  /** The table name the tool uses unless told otherwise. */
  readonly table: string;
  /** The tool's own option for another name, quoted in messages. */
  readonly option: string;
  /** The table as the tool creates it, for messages. */
  readonly shape: string;
  readonly columns: Readonly<Record<string, RegExp>>;
}

const INTEGER = /^(bigint|integer|smallint)$/;
const TEXT = /^(character varying|character|text)(\(\d+\))?$/;

/**
 * Each tool's table exactly as its PostgreSQL driver creates it. golang-migrate
 * (database/postgres/postgres.go, ensureVersionTable): `version bigint not null primary key, dirty
 * boolean not null`, one row that SetVersion rewrites (TRUNCATE + INSERT). dbmate
 * (pkg/driver/postgres/postgres.go, CreateMigrationsTable): `version varchar primary key`, a row
 * per applied migration (Rails keeps the same table). node-pg-migrate (src/runner.ts,
 * ensureMigrationsTable): `id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT
 * NULL`, a row per applied migration named after its file's stem, `<timestamp>_<name>`.
 */
const TOOLS: Readonly<Record<ForeignTool, ToolSpec>> = {
  'golang-migrate': {
    table: 'schema_migrations', option: 'x-migrations-table', shape: '(version bigint, dirty boolean)',
    columns: { version: INTEGER, dirty: /^boolean$/ },
  },
  dbmate: {
    table: 'schema_migrations', option: '--migrations-table', shape: '(version varchar)',
    columns: { version: TEXT },
  },
  'node-pg-migrate': {
    table: 'pgmigrations', option: 'migrationsTable / --migrations-table', shape: '(id serial, name varchar(255), run_on timestamp)',
    columns: { id: INTEGER, name: TEXT, run_on: /^timestamp/ },
  },
};

/** The columns every berth history table has had. */
const BERTH_COLUMNS = ['version', 'name', 'checksum', 'status'];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Whose history table has these columns: `berth`, one of the tools, or null for anybody else's. */
export function recogniseTable(columns: Columns): ForeignTool | 'berth' | null {
  if (BERTH_COLUMNS.every((name) => columns.some((c) => c.name === name))) return 'berth';
  return FOREIGN_TOOLS.find((tool) => hasShape(columns, TOOLS[tool].columns)) ?? null;
}

function hasShape(columns: Columns, expected: Readonly<Record<string, RegExp>>): boolean {
  return columns.length === Object.keys(expected).length &&
    columns.every((c) => Object.hasOwn(expected, c.name) && expected[c.name]!.test(c.type));
}

export interface ForeignVersion {
  readonly version: number;
  /** As the tool recorded it: `7`, `20240101120000`, `1700000000000_add-users`. */
  readonly label: string;
}

/** The state another tool recorded, as far as berth can read it. */
export interface ForeignHistory {
  readonly tool: ForeignTool;
  /** `schema.table`. */
  readonly table: string;
  /** The table is not at the tool's default name: adopting it needs `--from-table`. */
  readonly customName: boolean;
  /**
   * Ascending. golang-migrate: its one current version (every migration up to it is applied);
   * dbmate and node-pg-migrate: every version they recorded (there may be gaps).
   */
  readonly versions: readonly ForeignVersion[];
  /** golang-migrate only: the last migration it started did not finish. */
  readonly dirty: boolean;
  /** Rows berth cannot take over (a value that is no version, two rows for one version, …). */
  readonly problems: readonly string[];
}

/** Reads the rows of a tool's table (from `inspectTables` with `rows: true`). */
export function readForeignHistory(tool: ForeignTool, found: InspectedTable): ForeignHistory {
  const rows = found.rows ?? [];
  const versions: ForeignVersion[] = [];
  const problems: string[] = [];
  let dirty = false;
  const add = (label: string | null, digits: string | undefined) => {
    const version = digits === undefined ? Number.NaN : Number(digits);
    if (!Number.isSafeInteger(version)) {
      problems.push(`${label === null ? 'NULL' : `"${label}"`} is not a version berth can use (a non-negative integer of at most ${String(Number.MAX_SAFE_INTEGER).length - 1} digits)`);
    } else {
      versions.push({ version, label: label ?? '' });
    }
  };
  if (tool === 'golang-migrate') {
    if (rows.length > 1) problems.push(`it holds ${rows.length} rows, where golang-migrate keeps exactly one (its current version)`);
    const row = rows[0];
    if (row) {
      dirty = row.dirty === 'true';
      // -1 is golang-migrate's "no version" (NilVersion): left dirty by a failed down of the first migration.
      if (row.version !== '-1') add(row.version ?? null, /^\d+$/.exec(row.version ?? '')?.[0]);
    }
  } else if (tool === 'dbmate') {
    for (const row of rows) add(row.version ?? null, /^\d+$/.exec(row.version ?? '')?.[0]);
  } else {
    // node-pg-migrate orders by the name's numeric prefix, which is the version here.
    for (const row of rows) add(row.name ?? null, /^(\d+)/.exec(row.name ?? '')?.[1]);
  }
  versions.sort((a, b) => a.version - b.version);
  for (let i = 1; i < versions.length; i++) {
    if (versions[i]!.version === versions[i - 1]!.version) {
      problems.push(`"${versions[i - 1]!.label}" and "${versions[i]!.label}" are both version ${versions[i]!.version}`);
    }
  }
  return {
    tool, table: `${found.schema}.${found.table}`, customName: found.table !== TOOLS[tool].table, versions, dirty, problems,
  };
}

/** Nothing was ever applied by the tool (or everything was rolled back): there is nothing to adopt. */
export function recordsNothing(h: ForeignHistory): boolean {
  return h.versions.length === 0 && !h.dirty && h.problems.length === 0;
}

/**
 * The files the recorded state covers: for golang-migrate every file up to its version, for
 * dbmate and node-pg-migrate exactly the versions they recorded. Refuses a dirty state, rows that
 * are no version, and a recorded version with no file in `dir`.
 */
export function adoptedMigrations(h: ForeignHistory, migrations: readonly Migration[], dir: string): Migration[] {
  if (h.dirty) throw dirtyError(h, migrations);
  if (h.problems.length) {
    throw new ValidationError('ERR_ADOPT_MISMATCH',
      `${h.table} (${h.tool}'s history) holds what berth cannot take over, so nothing was changed:\n` +
      `${h.problems.map((p) => `  - ${p}`).join('\n')}\n` +
      'Rename the migrations to integer versions of at most 15 digits (the same in the files and in that table), ' +
      'or record the state you checked by hand with "berth baseline <version>".',
      { details: { tool: h.tool, table: h.table, problems: h.problems } });
  }
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const missing = h.versions.filter((v) => !byVersion.has(v.version));
  if (missing.length) {
    const listed = missing.slice(0, 10).map((v) => `  - ${v.label} (version ${v.version})`);
    if (missing.length > 10) listed.push(`  - … and ${missing.length - 10} more`);
    throw new ValidationError('ERR_ADOPT_MISMATCH',
      `${h.table} (${h.tool}'s history) records ${missing.length} migration(s) that have no file in ${dir}, so nothing was changed:\n` +
      `${listed.join('\n')}\n` +
      `Bring those migrations into ${dir} in berth's layout with the same version (<version>_<name>.up.sql and .down.sql), ` +
      'or check that --dir points at this database\'s migrations. berth records only what it has a file (and a checksum) for.',
      { details: { tool: h.tool, table: h.table, missing: missing.map((v) => v.label) } });
  }
  if (h.tool === 'golang-migrate') {
    const current = h.versions[0];
    return current ? migrations.filter((m) => m.version <= current.version) : [];
  }
  const recorded = new Set(h.versions.map((v) => v.version));
  return migrations.filter((m) => recorded.has(m.version));
}

/**
 * Files older than the newest version the tool recorded that it did not record (dbmate and
 * node-pg-migrate can leave such gaps): after adoption they are pending, out of order.
 */
export function notRecorded(h: ForeignHistory, migrations: readonly Migration[]): Migration[] {
  if (h.tool === 'golang-migrate') return [];
  const newest = h.versions.at(-1)?.version ?? -Infinity;
  const recorded = new Set(h.versions.map((v) => v.version));
  return migrations.filter((m) => m.version < newest && !recorded.has(m.version));
}

/** What the history says, for messages: `is at version 7`, `records 12 migration(s), the newest 2024…`. */
export function describeState(h: ForeignHistory): string {
  if (h.tool === 'golang-migrate') {
    const v = h.versions[0];
    return v ? `is at version ${v.label}${h.dirty ? ' (dirty)' : ''}` : h.dirty ? 'is dirty, at no version' : 'is at no version';
  }
  const newest = h.versions.at(-1);
  const count = h.versions.length + h.problems.length;
  return `records ${count} migration(s)${newest ? `, the newest ${newest.label}` : ''}`;
}

/** The command that adopts `h`. */
export function adoptCommand(h: Pick<ForeignHistory, 'tool' | 'table' | 'customName'>): string {
  return `berth baseline --from ${h.tool}${h.customName ? ` --from-table ${h.table}` : ''}`;
}

/**
 * `migrate`, `status`, `check`, `validate` with no berth history table, on a database another tool
 * has migrated: berth would start again from the first migration. (A dirty golang-migrate state is
 * reported as such: it must be settled first.)
 */
export function adoptionRequiredError(histories: readonly ForeignHistory[], berthTable: string, migrations: readonly Migration[]): ValidationError {
  const dirty = histories.find((h) => h.dirty);
  if (dirty) return dirtyError(dirty, migrations);
  const lines = histories.map((h) => `  - ${h.table} is ${h.tool}'s history table and ${describeState(h)}; adopt it with: ${adoptCommand(h)}`);
  return new ValidationError('ERR_ADOPT_REQUIRED',
    `this database was migrated by another tool and has no berth history table (${berthTable}): ` +
    'berth will not apply its migrations again from the first one. Nothing was changed.\n' +
    `${lines.join('\n')}\n` +
    'That records the files up to the state the other tool recorded as applied (with their current checksums) and leaves its table as it is; ' +
    'berth migrate then applies only what is newer. Run it with this command\'s connection, --dir, --table and --schema.',
    { details: { found: histories.map((h) => ({ tool: h.tool, table: h.table, versions: h.versions.length, newest: h.versions.at(-1)?.label ?? null })) } });
}

/**
 * golang-migrate sets the version dirty before it runs a migration and clean after it: dirty means
 * it never finished, and nobody recorded how far it got. As golang-migrate's own advice goes, the
 * operator makes the database match one version and forces that version.
 */
function dirtyError(h: ForeignHistory, migrations: readonly Migration[]): ValidationError {
  const at = h.versions[0]?.version;
  const file = at === undefined ? undefined : migrations.find((m) => m.version === at);
  const next = migrations.find((m) => m.version > (at ?? -Infinity));
  const previous = at === undefined ? undefined : migrations.filter((m) => m.version < at).at(-1);
  const upName = file?.up.fileName ?? `the up migration of version ${at}`;
  const downName = next ? (next.down?.fileName ?? `the down migration of ${next.up.fileName}`) : undefined;
  const force = (version: number, when: string) => `    migrate -path <dir> -database <url> force ${version}   # ${when}`;
  const what = at === undefined
    ? `golang-migrate was rolling back its first migration${downName ? ` (${downName})` : ''} and did not finish`
    : `golang-migrate did not finish ${upName}${downName ? ` (or, rolling back, ${downName})` : ''}: it failed or was interrupted part-way`;
  const settle = at === undefined
    ? [force(-1, 'nothing of it is left: no version'), ...(next ? [force(next.version, `all of ${next.up.fileName} is still in place`)] : [])]
    : [
      force(at, `the database is at version ${at}: all of ${upName} is in place${next ? `, nothing of ${next.up.fileName}` : ''}`),
      force(previous?.version ?? -1, `nothing of ${upName} is in place`),
    ];
  return new ValidationError('ERR_ADOPT_DIRTY',
    `${h.table} is golang-migrate's history table and it is dirty at ${at ?? 'no version'}: ${what}. ` +
    'golang-migrate does not record how far it got, so berth adopts nothing; nothing was changed.\n' +
    '  Check which statements of that migration took effect (tables, columns, indexes, data) and complete or undo the rest, ' +
    'so that the database is at one version; record it as golang-migrate does, then adopt:\n' +
    `${settle.join('\n')}\n` +
    `    ${adoptCommand(h)}\n` +
    '  (Or leave golang-migrate\'s table as it is and record that version with "berth baseline <version>".)',
    { details: { tool: h.tool, table: h.table, dirtyVersion: at ?? null } });
}

/** `--table` names a table that exists and is not a berth history table. */
export function foreignTableError(found: InspectedTable, defaultTable: string): ValidationError {
  const name = `${found.schema}.${found.table}`;
  const tool = recogniseTable(found.columns);
  const whose = tool !== null && tool !== 'berth'
    ? ` It is ${tool}'s history table: berth keeps its own history next to it, and ${adoptCommand({ tool, table: name, customName: found.table !== TOOLS[tool].table })} records the state it holds.`
    : '';
  const instead = found.table === defaultTable
    ? 'Set --table to a table that does not exist yet (berth creates it).'
    : `Leave --table unset (${defaultTable}), or set it to a table that does not exist yet (berth creates it).`;
  return new ValidationError('ERR_HISTORY_TABLE_FOREIGN',
    `${name} is not a berth history table (its columns: ${describeColumns(found.columns)}); berth will not use it as --table, ` +
    `and nothing was changed.${whose} ${instead}`,
    { details: { table: name, columns: found.columns } });
}

function describeColumns(columns: Columns): string {
  return columns.length ? columns.map((c) => `${c.name} ${c.type}`).join(', ') : 'none';
}

/**
 * Where another tool's table may be: the schema berth uses, the connection's current schema (where
 * golang-migrate and dbmate put theirs by default) and public (node-pg-migrate's default).
 */
export function candidateSchemas(berthSchema: string, currentSchema: string | null): string[] {
  return [...new Set([berthSchema, ...(currentSchema ? [currentSchema] : []), 'public'])];
}

/** `--from-table`: `table` or `schema.table`, plain identifiers (the tools quote them, so case counts). */
export function parseFromTable(text: string): { schema?: string; table: string } {
  const parts = text.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw new ConfigError('ERR_USAGE', `--from-table "${text}" is not a table name: use <table> or <schema>.<table> (letters, digits, _)`);
  }
  return parts.length === 2 ? { schema: parts[0]!, table: parts[1]! } : { table: parts[0]! };
}

/** Every tool's history table found at its default name in `schemas`, with what it records. */
export async function findForeignHistories(driver: Driver, schemas: readonly string[]): Promise<ForeignHistory[]> {
  const names = [...new Set(FOREIGN_TOOLS.map((tool) => TOOLS[tool].table))];
  const shapes = await driver.inspectTables(schemas.flatMap((schema) => names.map((table) => ({ schema, table }))), { rows: false });
  return readHistories(driver, shapes, () => true);
}

/** The history of `request.from` for `berth baseline --from`, or an error saying what was found instead. */
export async function findAdoptable(driver: Driver, schemas: readonly string[], request: BaselineFrom): Promise<ForeignHistory> {
  const spec = TOOLS[request.from];
  const named = request.fromTable === undefined ? undefined : parseFromTable(request.fromTable);
  const looked = (named?.schema ? [named.schema] : schemas).map((schema) => ({ schema, table: named?.table ?? spec.table }));
  const shapes = await driver.inspectTables(looked, { rows: false });
  const matching = shapes.filter((t) => recogniseTable(t.columns) === request.from);
  if (matching.length > 1) {
    throw new ValidationError('ERR_ADOPT_NOT_FOUND',
      `${request.from}'s history table is in more than one schema: ${matching.map((t) => `${t.schema}.${t.table}`).join(', ')}. ` +
      'Name the one that belongs to this application: --from-table <schema>.<table>. Nothing was changed.');
  }
  const [read] = await readHistories(driver, matching, (tool) => tool === request.from);
  if (read) return read;
  const seen = shapes.map((t) => {
    const whose = recogniseTable(t.columns);
    return `  - ${t.schema}.${t.table} has columns ${describeColumns(t.columns)}${whose === null ? '' : ` (${whose === 'berth' ? "berth's own history table" : `${whose}'s history table`})`}`;
  });
  throw new ValidationError('ERR_ADOPT_NOT_FOUND',
    `no ${request.from} history table here: looked for ${looked.map((t) => `${t.schema}.${t.table}`).join(', ')}` +
    `${seen.length ? `, and found instead:\n${seen.join('\n')}\n` : ', and none of them exists. '}` +
    `${request.from} keeps ${spec.table} ${spec.shape} in the connection's schema unless told otherwise (${spec.option}); ` +
    'pass that name as --from-table [<schema>.]<table>. Nothing was changed.',
    { details: { tool: request.from, looked: looked.map((t) => `${t.schema}.${t.table}`) } });
}

/**
 * Reads the rows of the tables in `shapes` (found without rows) that are some tool's history and
 * `wanted`: never the rows of an unrelated table that happens to have the name.
 */
async function readHistories(driver: Driver, shapes: readonly InspectedTable[], wanted: (tool: ForeignTool) => boolean): Promise<ForeignHistory[]> {
  const tools = new Map<string, ForeignTool>();
  for (const t of shapes) {
    const tool = recogniseTable(t.columns);
    if (tool !== null && tool !== 'berth' && wanted(tool)) tools.set(`${t.schema}.${t.table}`, tool);
  }
  if (tools.size === 0) return [];
  const known = shapes.filter((t) => tools.has(`${t.schema}.${t.table}`)).map((t) => ({ schema: t.schema, table: t.table }));
  return (await driver.inspectTables(known, { rows: true })).flatMap((t) => {
    const tool = tools.get(`${t.schema}.${t.table}`);
    // Checked again: the table may have changed between the two reads.
    return tool !== undefined && recogniseTable(t.columns) === tool ? [readForeignHistory(tool, t)] : [];
  });
}

/**
 * SQLSTATEs of reading a table whose columns are not the ones asked for: undefined_column,
 * datatype_mismatch, undefined_function (an operator on a column of another type); 42S22 is
 * MySQL's unknown column.
 */
const SHAPE_ERRORS = new Set(['42703', '42804', '42883', '42S22']);

/**
 * When reading the history table failed because it is not shaped like one, the error that says
 * so (ERR_HISTORY_TABLE_FOREIGN); otherwise `err` itself. Only berth's own statements count: a
 * migration's failure is already reported as one.
 */
export async function explainHistoryError(driver: Driver, table: HistoryTable, defaultTable: string, err: unknown): Promise<unknown> {
  if (err instanceof BerthError && !(err instanceof InternalError)) return err;
  let cause: unknown = err;
  while (cause !== undefined && !(cause instanceof DriverQueryError)) cause = cause instanceof Error ? cause.cause : undefined;
  if (!(cause instanceof DriverQueryError) || !SHAPE_ERRORS.has(cause.info.sqlState ?? '')) return err;
  try {
    const [found] = await driver.inspectTables([table], { rows: false });
    return found && recogniseTable(found.columns) !== 'berth' ? foreignTableError(found, defaultTable) : err;
  } catch {
    return err;
  }
}

/** For the library's `baseline({ from })`: an unknown tool is a usage error, not a crash. */
export function checkBaselineFrom(request: BaselineFrom): void {
  if (!(FOREIGN_TOOLS as readonly string[]).includes(request.from)) {
    throw new ConfigError('ERR_USAGE', `--from "${String(request.from)}" is not a tool berth can adopt from: use one of ${FOREIGN_TOOLS.join(', ')}`);
  }
  if (request.fromTable !== undefined) parseFromTable(request.fromTable);
}
