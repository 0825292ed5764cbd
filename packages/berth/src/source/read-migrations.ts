/**
 * The I/O half of the source layer: list the migrations directory, read the up files, and check
 * the whole set before anything touches the database (SPEC §4.4). Every problem is collected
 * and reported in one error, so an operator fixes a broken directory in one round trip rather
 * than one failed deploy per mistake.
 *
 * The file system is injected (kysely's FileMigrationProvider takes `fs` the same way) so the
 * tests run on in-memory trees. Down files are only listed: they are read when `down` runs
 * (golang-migrate reads bodies lazily too), and a broken down file must not block `migrate`.
 *
 * Every up file is read, checksummed and checked for UTF-8 here. Splitting into statements and
 * parsing directives can wait (`bodies: 'lazy'`): a file whose bytes match an applied history row
 * was parsed when it ran, and the no-op `migrate` every pod start runs should not parse 1,000 of
 * them again. The migrator calls `checkBodies` on the rest before any write.
 */

import { hash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { ConfigError, InternalError, ValidationError } from '../core/errors.js';
import { decodeMigrationText } from './decode.js';
import { parseDirectives } from './directives.js';
import { parseMigrationFileName, type ParsedFileName } from './file-name.js';
import { scanSql } from './sql-scanner.js';
import { findTransactionControl } from './transaction-control.js';
import type { Directives, Migration, MigrationFileRef, SourceProblem, Statement } from './types.js';

/** The subset of `node:fs/promises` berth reads migrations with. */
export interface SourceFs {
  /** File names in `path` (not recursive, not full paths), like `fs.promises.readdir(path)`. */
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
}

export interface ReadMigrationsOptions {
  /** Default: `node:fs/promises`. */
  readonly fs?: SourceFs;
  /** Larger files are refused; default `DEFAULT_MAX_FILE_BYTES`. */
  readonly maxFileBytes?: number;
  /** Told about every entry that is not a migration (README.md, .gitkeep, build output). */
  readonly onFileIgnored?: (fileName: string, reason: string) => void;
  /**
   * `eager` (default): parse every SQL file now and report its problems with the rest.
   * `lazy`: parse a file when its `sql`, `statements` or `directives` is first read; call
   * `checkBodies` to report the problems of a set of files at once.
   */
  readonly bodies?: 'eager' | 'lazy';
}

/** 10 MiB (bytes): generous for DDL and seed data, small enough that a stray dump is caught. */
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;

/** A down file, read on demand by `readDownSql`. */
export interface DownSql {
  readonly fileName: string;
  readonly checksum: string;
  readonly sql: string;
  readonly statements: readonly Statement[];
  readonly directives: Directives;
}

// Synchronous reads behind the async interface: a migration file is small, and 1,000 of them are
// read in ~10 ms this way against ~60 ms of promise and file-handle overhead with fs/promises,
// on the path every pod start takes (the no-op still checks every checksum).
const nodeFs: SourceFs = {
  readdir: async (dir) => readdirSync(dir),
  readFile: async (file) => readFileSync(file),
};

// Enough to overlap file reads without risking EMFILE on a directory of thousands of files.
const READ_CONCURRENCY = 16;

type ParsedMigrationName = Extract<ParsedFileName, { kind: 'migration' }>;

interface Entry extends ParsedMigrationName {
  readonly ref: MigrationFileRef;
}

/** What reading an up file adds to its name: the checksum now, the parsed body when asked. */
interface Body {
  readonly checksum: string;
  readonly parse: () => ParsedBody;
}

type ParsedBody = { body: Pick<Migration, 'sql' | 'statements' | 'directives'> } | { problems: SourceProblem[] };

export async function readMigrations(dir: string, options: ReadMigrationsOptions = {}): Promise<Migration[]> {
  const fs = options.fs ?? nodeFs;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const root = path.resolve(dir);
  const problems: SourceProblem[] = [];

  const byVersion = new Map<number, Entry[]>();
  for (const fileName of [...(await listDirectory(fs, dir, root))].sort()) {
    const parsed = parseMigrationFileName(fileName);
    if (parsed.kind === 'ignored') {
      options.onFileIgnored?.(fileName, parsed.reason);
    } else if (parsed.kind === 'invalid') {
      problems.push({ files: [fileName], message: parsed.message });
    } else {
      // `root` is resolved and a directory entry has no separator: no path.join per file.
      const entry: Entry = { ...parsed, ref: { fileName, path: `${root}${path.sep}${fileName}` } };
      const entries = byVersion.get(parsed.version);
      if (entries === undefined) byVersion.set(parsed.version, [entry]);
      else entries.push(entry);
    }
  }

  const pairs: { up: Entry; down: Entry | undefined }[] = [];
  const ups: Entry[] = [];
  for (const version of [...byVersion.keys()].sort((a, b) => a - b)) {
    const entries = byVersion.get(version) ?? [];
    const versionUps = entries.filter((entry) => entry.direction === 'up');
    const versionDowns = entries.filter((entry) => entry.direction === 'down');
    // Duplicates are still read below, so that their own problems are in this same report.
    ups.push(...versionUps);
    const structural = checkVersion(version, versionUps, versionDowns);
    problems.push(...structural);
    if (structural.length === 0 && versionUps[0] !== undefined) {
      pairs.push({ up: versionUps[0], down: versionDowns[0] });
    }
  }

  const read = new Map<string, Body>();
  await forEachLimited(ups, READ_CONCURRENCY, async (up) => {
    const result = await readUpFile(fs, up, maxFileBytes);
    if ('problems' in result) problems.push(...result.problems);
    else read.set(up.ref.fileName, result.body);
  });

  if (options.bodies !== 'lazy') {
    for (const body of read.values()) {
      const parsed = body.parse();
      if ('problems' in parsed) problems.push(...parsed.problems);
    }
  }
  if (problems.length > 0) throw sourceInvalid(dir, problems);

  return pairs.map(({ up, down }) => {
    const body = read.get(up.ref.fileName);
    // Every readable up file is in `read`, and any unreadable one is a problem thrown above.
    if (body === undefined) throw new InternalError('ERR_INTERNAL', `${up.ref.fileName} was listed but not read`);
    return Object.freeze(new SourceMigration(up, down, body, dir));
  });
}

/**
 * A migration whose body is parsed the first time `sql`, `statements` or `directives` is read
 * (a class, so that a thousand of them cost no more than plain objects).
 */
class SourceMigration implements Migration {
  readonly version: number;
  readonly name: string;
  readonly kind: Migration['kind'];
  readonly up: MigrationFileRef;
  readonly down?: MigrationFileRef;
  readonly checksum: string;
  readonly #body: Body;
  readonly #dir: string;

  constructor(up: Entry, down: Entry | undefined, body: Body, dir: string) {
    this.version = up.version;
    this.name = up.name;
    this.kind = up.type;
    this.up = up.ref;
    if (down !== undefined) this.down = down.ref;
    this.checksum = body.checksum;
    this.#body = body;
    this.#dir = dir;
  }

  get sql(): string | undefined {
    return this.#parsed().sql;
  }

  get statements(): readonly Statement[] {
    return this.#parsed().statements;
  }

  get directives(): Directives {
    return this.#parsed().directives;
  }

  /** Problems of the body, for `checkBodies`. */
  problems(): readonly SourceProblem[] {
    const result = this.#body.parse();
    return 'problems' in result ? result.problems : [];
  }

  #parsed(): Pick<Migration, 'sql' | 'statements' | 'directives'> {
    const result = this.#body.parse();
    if ('problems' in result) throw sourceInvalid(this.#dir, result.problems);
    return result.body;
  }
}

/**
 * Parses the bodies of `migrations` (read with `bodies: 'lazy'`) and throws one
 * `ERR_SOURCE_INVALID` listing every problem among them, as `readMigrations` does for the rest.
 */
export function checkBodies(dir: string, migrations: readonly Migration[]): void {
  const problems = migrations.flatMap((m) => (m instanceof SourceMigration ? m.problems() : []));
  if (problems.length > 0) throw sourceInvalid(dir, problems);
}

/**
 * Reads, decodes and splits a migration's down file when `down` runs. Throws `ValidationError`
 * (`ERR_SOURCE_INVALID`) if the migration has no down file or the file has a problem.
 */
export async function readDownSql(
  migration: Pick<Migration, 'version' | 'up' | 'down'>,
  fs: SourceFs = nodeFs,
  options: { readonly maxFileBytes?: number } = {},
): Promise<DownSql> {
  const dir = path.dirname(migration.up.path);
  const down = migration.down;
  if (down === undefined) {
    throw sourceInvalid(dir, [
      {
        files: [migration.up.fileName],
        message: `migration ${migration.version} has no down file; write ${expectedDownName(migration.up.fileName)} to make it reversible`,
      },
    ]);
  }
  const { bytes, problem } = await readBounded(fs, down, options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  if (bytes === undefined) throw sourceInvalid(dir, [problem]);
  const checked = checkSql(down.fileName, bytes);
  if ('problems' in checked) throw sourceInvalid(dir, checked.problems);
  return Object.freeze({ fileName: down.fileName, checksum: sha256(bytes), ...checked.body });
}

/** One line per problem, `  <file>[:<line>]: <message>`, as the operator will read it in CI logs. */
export function formatSourceProblems(dir: string, problems: readonly SourceProblem[]): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const lines = problems.map((problem) => {
    const where = problem.files.join(', ') + (problem.line === undefined ? '' : `:${problem.line}`);
    return `  ${where}: ${problem.message}`;
  });
  return [`migrations directory ${dir} has ${count}:`, ...lines].join('\n');
}

function sourceInvalid(dir: string, problems: SourceProblem[]): ValidationError {
  const sorted = [...problems].sort(
    (a, b) => compareFileNames(a.files[0] ?? '', b.files[0] ?? '') || (a.line ?? 0) - (b.line ?? 0),
  );
  return new ValidationError('ERR_SOURCE_INVALID', formatSourceProblems(dir, sorted), {
    details: { dir, problems: sorted },
  });
}

async function listDirectory(fs: SourceFs, dir: string, root: string): Promise<string[]> {
  try {
    return await fs.readdir(root);
  } catch (err) {
    const where = dir === root ? dir : `${dir} (${root})`;
    const hint = 'set --dir or BERTH_DIR to the directory that holds the migration files';
    switch (errorCode(err)) {
      case 'ENOENT':
        throw new ConfigError('ERR_CONFIG_INVALID', `migrations directory ${where} does not exist; ${hint}`, {
          cause: err,
          details: { key: 'dir', dir },
        });
      case 'ENOTDIR':
        throw new ConfigError('ERR_CONFIG_INVALID', `migrations directory ${where} is not a directory; ${hint}`, {
          cause: err,
          details: { key: 'dir', dir },
        });
      case 'EACCES':
      case 'EPERM':
        // In a container this is usually a volume owned by another UID than the one berth runs as.
        throw new ConfigError(
          'ERR_CONFIG_INVALID',
          `migrations directory ${where} cannot be read (permission denied); make it readable by the user berth runs as`,
          { cause: err, details: { key: 'dir', dir } },
        );
      default:
        throw err;
    }
  }
}

function checkVersion(version: number, ups: readonly Entry[], downs: readonly Entry[]): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const upNames = ups.map((entry) => entry.ref.fileName);
  const downNames = downs.map((entry) => entry.ref.fileName);
  if (ups.length > 1) {
    problems.push({
      files: [...upNames, ...downNames],
      message: `version ${version} is claimed by ${ups.length} migrations (${upNames.join(', ')}); give all but one a new, unused version`,
    });
  }
  if (ups.length === 0) {
    for (const down of downs) {
      problems.push({
        files: [down.ref.fileName],
        message: `down file without an up file; add ${expectedUpName(down.ref.fileName)} or remove the down file`,
      });
    }
  }
  if (downs.length > 1) {
    problems.push({
      files: downNames,
      message: `version ${version} has ${downs.length} down files (${downNames.join(', ')}); keep one`,
    });
  }
  const up = ups[0];
  if (ups.length === 1 && up !== undefined && up.type === 'code') {
    for (const down of downs) {
      problems.push({
        files: [down.ref.fileName, up.ref.fileName],
        message: `${down.ref.fileName} is a down file for the code migration ${up.ref.fileName}, which takes its down() from the same file; move the SQL into down() or remove ${down.ref.fileName}`,
      });
    }
  }
  return problems;
}

async function readUpFile(
  fs: SourceFs,
  up: Entry,
  maxFileBytes: number,
): Promise<{ body: Body } | { problems: SourceProblem[] }> {
  const { bytes, problem } = await readBounded(fs, up.ref, maxFileBytes);
  if (bytes === undefined) return { problems: [problem] };
  const checksum = sha256(bytes);
  if (up.type === 'code') {
    // The module loader reads code migrations; the checksum is all the source layer owes them.
    const body = { body: { statements: Object.freeze([]), directives: Object.freeze({ noTransaction: false }) } };
    return { body: { checksum, parse: () => body } };
  }
  // Encoding is part of the whole-set check (SPEC §4.4), so it is not left for later.
  if (!isValidText(bytes)) {
    const decoded = decodeMigrationText(bytes);
    if ('problem' in decoded) {
      return { problems: [{ files: [up.ref.fileName], line: decoded.problem.line, message: decoded.problem.message }] };
    }
  }
  let parsed: ParsedBody | undefined;
  let unparsed: Uint8Array | undefined = bytes;
  const parse = (): ParsedBody => {
    if (parsed === undefined) {
      parsed = checkSql(up.ref.fileName, unparsed!);
      unparsed = undefined; // the text is kept instead; a large data file is not held twice
    }
    return parsed;
  };
  return { body: { checksum, parse } };
}

/** Valid UTF-8 without NUL bytes, checked natively without building a string. */
function isValidText(bytes: Uint8Array): boolean {
  return bytes.indexOf(0) < 0 && isUtf8(bytes);
}

/** Decode, directives, statements, and the transaction-control check, for an up or down file. */
function checkSql(
  fileName: string,
  bytes: Uint8Array,
): { body: Pick<Migration, 'sql' | 'statements' | 'directives'> & { sql: string } } | { problems: SourceProblem[] } {
  const decoded = decodeMigrationText(bytes);
  if ('problem' in decoded) {
    return { problems: [{ files: [fileName], line: decoded.problem.line, message: decoded.problem.message }] };
  }
  const sql = decoded.text;
  const problems: SourceProblem[] = [];
  const scan = scanSql(sql);
  const { directives, problems: directiveProblems } = parseDirectives(sql, scan);
  for (const { line, message } of directiveProblems) problems.push({ files: [fileName], line, message });

  const { statements } = scan;
  if (!directives.noTransaction) {
    problems.push(...transactionControlProblems(fileName, statements));
  }
  if (problems.length > 0) return { problems };
  return { body: { sql, statements: Object.freeze(statements), directives: Object.freeze(directives) } };
}

const OPT_OUT = 'add "-- berth:no-transaction" at the top of the file to manage transactions yourself';

function transactionControlProblems(fileName: string, statements: readonly Statement[]): SourceProblem[] {
  const found = findTransactionControl(statements);
  const [first, second] = found;
  // golang-migrate runs files as they are, so its users often wrap each file in BEGIN ... COMMIT
  // themselves. That is the one case with an obvious fix, so it gets its own message.
  if (
    found.length === 2 &&
    first !== undefined &&
    second !== undefined &&
    first.offset === statements[0]?.offset &&
    second.offset === statements[statements.length - 1]?.offset &&
    (first.command === 'BEGIN' || first.command === 'START TRANSACTION') &&
    (second.command === 'COMMIT' || second.command === 'END')
  ) {
    return [
      {
        files: [fileName],
        line: first.line,
        message:
          `the file wraps itself in ${first.command} (line ${first.line}) ... ${second.command} (line ${second.line}); ` +
          `berth already runs each migration in its own transaction, so delete those two statements, or ${OPT_OUT}`,
      },
    ];
  }
  return found.map((statement) => ({
    files: [fileName],
    line: statement.line,
    message:
      `top-level ${statement.command} would interfere with the transaction berth runs each migration in; ` +
      `remove the ${statement.command}, or ${OPT_OUT}`,
  }));
}

async function readBounded(
  fs: SourceFs,
  ref: MigrationFileRef,
  maxFileBytes: number,
): Promise<{ bytes: Uint8Array; problem?: undefined } | { bytes?: undefined; problem: SourceProblem }> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(ref.path);
  } catch (err) {
    const code = errorCode(err);
    const reason =
      code === 'EISDIR'
        ? 'it is a directory, not a file; rename or move it out of the migrations directory'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied; make it readable by the user berth runs as'
          : `${err instanceof Error ? err.message : String(err)}`;
    return { problem: { files: [ref.fileName], message: `cannot read the file: ${reason}` } };
  }
  if (bytes.byteLength > maxFileBytes) {
    return {
      problem: {
        files: [ref.fileName],
        message: `the file is ${bytes.byteLength} bytes, more than the limit of ${maxFileBytes} bytes; split it into smaller migrations`,
      },
    };
  }
  return { bytes };
}

function expectedUpName(downFileName: string): string {
  return downFileName.replace(/\.down\.sql$/, '.up.sql');
}

function expectedDownName(upFileName: string): string {
  return /\.up\.sql$/.test(upFileName) ? upFileName.replace(/\.up\.sql$/, '.down.sql') : `a down() export in ${upFileName}`;
}

// One call, no Hash object per file (node:crypto's hash, Node 20.12+).
function sha256(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'hex');
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const { code } = err as { code: unknown };
  return typeof code === 'string' ? code : undefined;
}

/**
 * Numeric version first, so `2_x` is reported before `10_x` as it runs; then plain code-unit
 * order, not localeCompare, so the report does not depend on the container's locale.
 */
function compareFileNames(a: string, b: string): number {
  const versionA = /^\d+/.exec(a)?.[0];
  const versionB = /^\d+/.exec(b)?.[0];
  if (versionA !== undefined && versionB !== undefined && Number(versionA) !== Number(versionB)) {
    return Number(versionA) - Number(versionB);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
