/**
 * `berth new <name> [--ts]`: creates the next migration's files. Needs no database.
 *
 * The version follows the folder's own style, so a golang-migrate directory stays consistent:
 * - an empty (or new) folder, or one whose newest version has 14 digits: a UTC timestamp
 *   `YYYYMMDDHHMMSS`, one second after the newest if the clock is not ahead of it (two `new` in
 *   the same second, or a clock behind a teammate's);
 * - otherwise the next integer, zero-padded to the width of the newest version (`0004`).
 *
 * A missing directory is created (with its parents), as golang-migrate `create` and dbmate `new`
 * do; the created paths are printed, so a mistyped `--dir` shows at once. Existing files are
 * never overwritten.
 */

import { mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { ConfigError } from '../../index.js';
import { parseMigrationFileName } from '../../source/file-name.js';
import type { CommandRun } from './index.js';

/** Longest name part of a file name; whole file names stay far below the usual 255-byte limit. */
const MAX_NAME_LENGTH = 100;
const TIMESTAMP_DIGITS = 14;

export const newMigration: CommandRun = async (ctx, opts, args) => {
  const name = slugifyMigrationName(args);
  if (name === undefined) {
    throw new ConfigError('ERR_USAGE', `the migration name ${JSON.stringify(args.join(' '))} has no letters or digits; e.g. berth new add_users_table`);
  }
  const shownDir = ctx.config.dir;
  const dir = path.resolve(ctx.io.cwd, shownDir);
  const createdDir = await ensureDirectory(dir, shownDir);
  const version = nextVersion(await readdir(dir), new Date());
  const files = newMigrationFiles(version, name, opts.ts === true);

  const written: string[] = [];
  try {
    for (const file of files) {
      // 'wx': fail rather than overwrite, even if another `new` raced us to the same name.
      await writeFile(path.join(dir, file.fileName), file.content, { flag: 'wx' });
      written.push(file.fileName);
    }
  } catch (err) {
    await Promise.all(written.map((f) => unlink(path.join(dir, f)).catch(() => undefined)));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new ConfigError('ERR_USAGE', `${path.join(shownDir, files[written.length]?.fileName ?? '')} already exists; nothing was written (run berth new again)`, { cause: err });
    }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new ConfigError('ERR_CONFIG_INVALID', `cannot write to the migrations directory ${shownDir} (${code}); make it writable by the user berth runs as`, { cause: err, details: { key: 'dir' } });
    }
    throw err;
  }

  if (createdDir) ctx.reporter.log('info', `created the migrations directory ${shownDir}`, { event: 'new.directory', dir: shownDir });
  const paths = files.map((f) => path.join(shownDir, f.fileName));
  ctx.io.stdout.write(`${paths.join('\n')}\n`);
  return {
    exitCode: 0,
    summary: `created migration ${version}_${name}: ${files.map((f) => f.fileName).join(', ')}`,
    fields: { version: Number(version), name, files: paths },
  };
};

/**
 * `["Add", "users table!"]` → `"add_users_table"`: lower-case ASCII letters and digits separated
 * by `_`, accents folded (`café` → `cafe`). Undefined when nothing is left.
 */
export function slugifyMigrationName(words: readonly string[]): string | undefined {
  const slug = words
    .join(' ')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_NAME_LENGTH)
    .replace(/_+$/, '');
  return slug === '' ? undefined : slug;
}

/**
 * The version for a new migration in a folder holding `fileNames` (pure: the clock is passed in).
 * Only names that parse as migrations count; other files are ignored here (`migrate` reports them).
 */
export function nextVersion(fileNames: readonly string[], now: Date): string {
  let newest: { value: number; digits: string } | undefined;
  for (const fileName of fileNames) {
    const parsed = parseMigrationFileName(fileName);
    if (parsed.kind !== 'migration') continue;
    const digits = /^\d+/.exec(fileName)?.[0] ?? String(parsed.version);
    if (newest === undefined || parsed.version > newest.value || (parsed.version === newest.value && digits.length > newest.digits.length)) {
      newest = { value: parsed.version, digits };
    }
  }
  if (newest === undefined || newest.digits.length === TIMESTAMP_DIGITS) {
    const stamp = formatTimestamp(now);
    if (newest === undefined || Number(stamp) > newest.value) return stamp;
    const after = parseTimestamp(newest.digits);
    return after === undefined ? String(newest.value + 1) : formatTimestamp(new Date(after.getTime() + 1_000));
  }
  return String(newest.value + 1).padStart(newest.digits.length, '0');
}

/** The files `berth new` writes: an SQL pair, or one TypeScript module. */
export function newMigrationFiles(version: string, name: string, typescript: boolean): { fileName: string; content: string }[] {
  const base = `${version}_${name}`;
  if (!typescript) {
    // Empty, like golang-migrate's: a comment here would be one more thing to delete.
    return [
      { fileName: `${base}.up.sql`, content: '' },
      { fileName: `${base}.down.sql`, content: '' },
    ];
  }
  return [{ fileName: `${base}.ts`, content: typescriptTemplate() }];
}

// A type-only import: it is erased when the file loads, so the migration runs even where the
// berth package cannot be resolved, and editors that can resolve it type-check ctx.
function typescriptTemplate(): string {
  return `import type { MigrationContext } from 'berth';

/** Runs on \`berth migrate\`, in a transaction together with its history row. */
export async function up(ctx: MigrationContext): Promise<void> {
  // await ctx.sql('CREATE TABLE ...');
}

/** Runs on \`berth down\`; undo what up() did. */
export async function down(ctx: MigrationContext): Promise<void> {
  // await ctx.sql('DROP TABLE ...');
}
`;
}

function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\D/g, '').slice(0, TIMESTAMP_DIGITS);
}

function parseTimestamp(digits: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(digits);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  // Reject 20261399..., which Date would roll over into a different, earlier-looking moment.
  return formatTimestamp(date) === digits ? date : undefined;
}

/**
 * Creates `dir` and missing parents, one level at a time. Node's `mkdir({ recursive: true })`
 * spins forever where the kernel answers ENOENT for a parent that exists (e.g. under /proc).
 */
async function ensureDirectory(dir: string, shown: string): Promise<boolean> {
  const missing: string[] = [];
  try {
    for (let current = dir; ; current = path.dirname(current)) {
      const kind = await stat(current).then((s) => (s.isDirectory() ? 'dir' : 'file'), (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return 'missing' as const;
        throw err;
      });
      if (kind === 'file') throw Object.assign(new Error(`${current} is not a directory`), { code: 'ENOTDIR' });
      if (kind === 'dir' || path.dirname(current) === current) break;
      missing.unshift(current);
    }
    for (const each of missing) {
      await mkdir(each).catch((err: NodeJS.ErrnoException) => {
        // Another `new` (or an editor) made it meanwhile: that is what we wanted.
        if (err.code !== 'EEXIST') throw err;
      });
    }
    return missing.length > 0;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOTDIR'
      ? 'a file with that name (or one of its parents) is in the way'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? `${code}: make the parent directory writable, or create ${shown} first`
        : code ?? (err as Error).message;
    throw new ConfigError('ERR_CONFIG_INVALID', `cannot create the migrations directory ${shown}: ${why}; set --dir or BERTH_DIR to the directory that holds the migration files`, { cause: err, details: { key: 'dir' } });
  }
}
