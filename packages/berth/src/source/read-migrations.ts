/**
 * The I/O half of the source layer: list the migrations directory, read the up files, and check
 * the whole set before anything touches the database (SPEC §4.4). Every problem is collected
 * and reported in one error, so an operator fixes a broken directory in one round trip rather
 * than one failed deploy per mistake.
 *
 * The file system is injected (kysely's FileMigrationProvider takes `fs` the same way) so the
 * tests run on in-memory trees. Up and down files are validated together: a broken down file is
 * found by the `migrate` that deploys it, not by the `down` of an emergency.
 *
 * Every file is read and checked for UTF-8 here, and up files are checksummed. Splitting into
 * statements and parsing directives can wait (`bodies: 'lazy'`): an up file whose bytes match an
 * applied history row was parsed when it ran, and the no-op `migrate` every pod start runs should
 * not parse 1,000 of them again. The migrator calls `checkBodies` on the rest before any write.
 */

import { hash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';

import { ConfigError, InternalError, ValidationError } from '../errors.js';
import { decodeMigrationText } from './decode.js';
import { parseDirectives } from './directives.js';
import { parseMigrationFileName, type ParsedFileName } from './file-name.js';
import { LineCounter } from '../text.js';
import type { Dialect } from '../drivers/dialect.js';
import type { Migration, MigrationFileRef, SourceProblem, SqlBody } from './types.js';

/** The subset of the file system berth reads migrations with. */
export interface SourceFs {
  /** The entries of `path` (not recursive) with their kind, symbolic links followed. */
  readdir(path: string): Promise<readonly SourceEntry[]>;
  /** Only ever called for an entry of kind `file`. */
  readFile(path: string): Promise<Uint8Array>;
}

export interface SourceEntry {
  readonly name: string;
  /** Anything but a regular file is never opened: reading a FIFO would block forever. */
  readonly kind: 'file' | 'directory' | 'fifo' | 'socket' | 'device' | 'broken-link' | 'other';
}

export interface ReadMigrationsOptions {
  /** The SQL of the target database: how files split into statements, what runs in a transaction. */
  readonly dialect: Dialect;
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

// Synchronous reads behind the async interface: a migration file is small, and 1,000 of them are
// read in ~10 ms this way against ~60 ms of promise and file-handle overhead with fs/promises,
// on the path every pod start takes (the no-op still checks every checksum).
const nodeFs: SourceFs = {
  readdir: async (dir) => readdirSync(dir, { withFileTypes: true }).map((entry) => ({ name: entry.name, kind: kindOf(entry, dir) })),
  readFile: async (file) => readFileSync(file),
};

function kindOf(entry: Dirent, dir: string): SourceEntry['kind'] {
  if (entry.isFile()) return 'file';
  if (entry.isSymbolicLink()) {
    // stat does not open the target, so a link to a FIFO cannot block here either.
    try {
      const target = statSync(`${dir}${path.sep}${entry.name}`);
      return target.isFile() ? 'file' : target.isDirectory() ? 'directory' : target.isFIFO() ? 'fifo' : target.isSocket() ? 'socket'
        : target.isCharacterDevice() || target.isBlockDevice() ? 'device' : 'other';
    } catch {
      return 'broken-link';
    }
  }
  if (entry.isDirectory()) return 'directory';
  if (entry.isFIFO()) return 'fifo';
  if (entry.isSocket()) return 'socket';
  if (entry.isCharacterDevice() || entry.isBlockDevice()) return 'device';
  return 'other';
}

const NOT_A_FILE: Record<Exclude<SourceEntry['kind'], 'file'>, string> = {
  'directory': 'it is a directory, not a file',
  'fifo': 'it is a FIFO (named pipe), not a regular file; reading it would wait for a writer forever',
  'socket': 'it is a socket, not a regular file',
  'device': 'it is a device, not a regular file',
  'broken-link': 'it is a symbolic link to something that does not exist',
  'other': 'it is not a regular file',
};

// Enough to overlap file reads without risking EMFILE on a directory of thousands of files.
const READ_CONCURRENCY = 16;

type ParsedMigrationName = Extract<ParsedFileName, { kind: 'migration' }>;

interface Entry extends ParsedMigrationName {
  readonly ref: MigrationFileRef;
}

/** What reading a file adds to its name: the checksum now (up files), the parsed body when asked. */
interface Body {
  readonly checksum: string;
  readonly parse: () => ParsedBody;
}

type ParsedBody = { body: SqlBody } | { problems: SourceProblem[] };

export async function readMigrations(dir: string, options: ReadMigrationsOptions): Promise<Migration[]> {
  const fs = options.fs ?? nodeFs;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const root = path.resolve(dir);
  const problems: SourceProblem[] = [];

  const byVersion = new Map<number, Entry[]>();
  for (const entry of [...(await listDirectory(fs, dir, root))].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const fileName = entry.name;
    const parsed = parseMigrationFileName(fileName);
    if (parsed.kind === 'ignored') {
      options.onFileIgnored?.(fileName, parsed.reason);
    } else if (parsed.kind === 'invalid') {
      problems.push({ files: [fileName], message: parsed.message });
    } else if (entry.kind !== 'file') {
      problems.push({ files: [fileName], message: `${NOT_A_FILE[entry.kind]}; remove it from the migrations directory, or put the migration file there instead` });
    } else {
      // `root` is resolved and a directory entry has no separator: no path.join per file.
      const migrationEntry: Entry = { ...parsed, ref: { fileName, path: `${root}${path.sep}${fileName}` } };
      const entries = byVersion.get(parsed.version);
      if (entries === undefined) byVersion.set(parsed.version, [migrationEntry]);
      else entries.push(migrationEntry);
    }
  }

  const pairs: { up: Entry; down: Entry | undefined }[] = [];
  const files: Entry[] = [];
  for (const version of [...byVersion.keys()].sort((a, b) => a - b)) {
    const entries = byVersion.get(version) ?? [];
    const versionUps = entries.filter((entry) => entry.direction === 'up');
    const versionDowns = entries.filter((entry) => entry.direction === 'down');
    // Duplicates are still read below, so that their own problems are in this same report.
    files.push(...entries);
    const structural = checkVersion(version, versionUps, versionDowns);
    problems.push(...structural);
    if (structural.length === 0 && versionUps[0] !== undefined) {
      pairs.push({ up: versionUps[0], down: versionDowns[0] });
    }
  }

  const read = new Map<string, Body>();
  await forEachLimited(files, READ_CONCURRENCY, async (file) => {
    const result = await readFile(fs, file, maxFileBytes, options.dialect);
    if ('problems' in result) problems.push(...result.problems);
    else read.set(file.ref.fileName, result.body);
  });

  // A directory that is refused anyway gets every problem of it in the same report.
  if (options.bodies !== 'lazy' || problems.length > 0) {
    for (const body of read.values()) {
      const parsed = body.parse();
      if ('problems' in parsed) problems.push(...parsed.problems);
    }
  }
  if (problems.length > 0) throw sourceInvalid(dir, problems);

  return pairs.map(({ up, down }) => {
    const body = read.get(up.ref.fileName);
    // Every readable file is in `read`, and any unreadable one is a problem thrown above.
    if (body === undefined || (down !== undefined && !read.has(down.ref.fileName))) {
      throw new InternalError('ERR_INTERNAL', `${up.ref.fileName} was listed but not read`);
    }
    return Object.freeze(new SourceMigration(up, down, body, down === undefined ? undefined : read.get(down.ref.fileName), dir));
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
  readonly #downBody: Body | undefined;
  readonly #dir: string;

  constructor(up: Entry, down: Entry | undefined, body: Body, downBody: Body | undefined, dir: string) {
    this.version = up.version;
    this.name = up.name;
    this.kind = up.type;
    this.up = up.ref;
    if (down !== undefined) this.down = down.ref;
    this.checksum = body.checksum;
    this.#body = body;
    this.#downBody = downBody;
    this.#dir = dir;
  }

  get sql(): string | undefined {
    return this.kind === 'sql' ? this.#parsed(this.#body).sql : undefined;
  }

  get statements(): SqlBody['statements'] {
    return this.#parsed(this.#body).statements;
  }

  get directives(): SqlBody['directives'] {
    return this.#parsed(this.#body).directives;
  }

  get downSql(): SqlBody | undefined {
    return this.#downBody === undefined ? undefined : this.#parsed(this.#downBody);
  }

  /** Problems of the bodies, for `checkBodies`: the down file's, and the up file's unless skipped. */
  problems(up: boolean): readonly SourceProblem[] {
    return [...(up ? [this.#body] : []), ...(this.#downBody ? [this.#downBody] : [])].flatMap((body) => {
      const result = body.parse();
      return 'problems' in result ? result.problems : [];
    });
  }

  #parsed(body: Body): SqlBody {
    const result = body.parse();
    if ('problems' in result) throw sourceInvalid(this.#dir, result.problems);
    return result.body;
  }
}

/**
 * Parses the bodies of `migrations` (read with `bodies: 'lazy'`) and throws one
 * `ERR_SOURCE_INVALID` listing every problem among them, as `readMigrations` does for the rest:
 * every down file, and every up file but those `verified` says were checked when they ran.
 */
export function checkBodies(dir: string, migrations: readonly Migration[], verified: (m: Migration) => boolean = () => false): void {
  const problems = migrations.flatMap((m) => (m instanceof SourceMigration ? m.problems(!verified(m)) : []));
  if (problems.length > 0) throw sourceInvalid(dir, problems);
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

async function listDirectory(fs: SourceFs, dir: string, root: string): Promise<readonly SourceEntry[]> {
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

async function readFile(fs: SourceFs, file: Entry, maxFileBytes: number, dialect: Dialect): Promise<{ body: Body } | { problems: SourceProblem[] }> {
  const { bytes, problem } = await readBounded(fs, file.ref, maxFileBytes);
  if (bytes === undefined) return { problems: [problem] };
  // Only an up file's checksum is recorded (SPEC §3).
  const checksum = file.direction === 'up' ? sha256(bytes) : '';
  if (file.type === 'code') {
    // The module loader reads code migrations; the checksum is all the source layer owes them.
    const body = { body: { fileName: file.ref.fileName, sql: '', statements: Object.freeze([]), directives: Object.freeze({ noTransaction: false }) } };
    return { body: { checksum, parse: () => body } };
  }
  // Encoding is part of the whole-set check (SPEC §4.4), so it is not left for later.
  if (!isValidText(bytes)) {
    const decoded = decodeMigrationText(bytes);
    if ('problem' in decoded) {
      return { problems: [{ files: [file.ref.fileName], line: decoded.problem.line, message: decoded.problem.message }] };
    }
  }
  let parsed: ParsedBody | undefined;
  let unparsed: Uint8Array | undefined = bytes;
  const parse = (): ParsedBody => {
    if (parsed === undefined) {
      parsed = checkSql(file.ref.fileName, unparsed!, dialect);
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

/** Decode, statements, directives, and how the file relates to berth's transaction. */
function checkSql(fileName: string, bytes: Uint8Array, dialect: Dialect): ParsedBody {
  const decoded = decodeMigrationText(bytes);
  if ('problem' in decoded) {
    return { problems: [{ files: [fileName], line: decoded.problem.line, message: decoded.problem.message }] };
  }
  const sql = decoded.text;
  const problems: SourceProblem[] = [];
  const scan = dialect.scan(sql);
  for (const { line, message } of scan.problems ?? []) problems.push({ files: [fileName], line, message });
  if (scan.unterminated) {
    const { line, column } = new LineCounter(sql).advanceTo(scan.unterminated.offset);
    problems.push({
      files: [fileName], line,
      message: `unterminated ${scan.unterminated.what} starting at line ${line}, column ${column}: close it (as it stands, the rest of the file is part of it)`,
    });
  }
  const { directives, problems: directiveProblems } = parseDirectives(sql, scan);
  for (const { line, message } of [...directiveProblems, ...dialect.statementProblems(scan.statements)]) problems.push({ files: [fileName], line, message });
  let { statements } = scan;
  let noTransactionImpliedBy: string | undefined;
  if (!directives.noTransaction) {
    const shape = dialect.transactionShape(statements);
    for (const { line, message } of shape.problems) problems.push({ files: [fileName], line, message });
    statements = [...shape.statements];
    noTransactionImpliedBy = shape.outsideTransaction;
  }
  if (problems.length > 0) return { problems };
  return {
    body: {
      fileName,
      sql,
      statements: Object.freeze(statements),
      directives: Object.freeze(noTransactionImpliedBy === undefined ? directives : { ...directives, noTransaction: true, noTransactionImpliedBy }),
    },
  };
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
