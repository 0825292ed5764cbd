/**
 * Migration file names (SPEC §2). One pure function, so the whole naming contract is visible in
 * one table of test cases (the shape of golang-migrate's `source/parse.go`).
 */

export type MigrationFileExt = 'sql' | 'ts' | 'js' | 'mjs';

export type ParsedFileName =
  | {
      readonly kind: 'migration';
      readonly version: number;
      readonly name: string;
      readonly direction: 'up' | 'down';
      readonly type: 'sql' | 'code';
      readonly ext: MigrationFileExt;
    }
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly message: string };

/** Quoted in every "does not match" message, so the fix is on the same line as the problem. */
export const EXPECTED_PATTERNS =
  'expected <version>_<name>.up.sql, <version>_<name>.down.sql, or <version>_<name>.ts|.js|.mjs ' +
  'with a non-negative integer <version>';

// The name part is free-form, like golang-migrate's `(.*)`: existing directories contain dots,
// dashes and even empty names (`1_.up.sql`), and they must keep working unchanged.
const SQL_FILE = /^(\d+)_(.*)\.(up|down)\.sql$/;
const CODE_FILE = /^(\d+)_(.*)\.(ts|js|mjs)$/;
const ATTEMPT = /^(\d+)_/;
// Build output and type declarations land next to code migrations when a project compiles them
// in place; they are not migrations of their own.
const BUILD_ARTIFACT = /\.(d\.[cm]?ts|map)$/;
// Someone who wrote `1-init.up.sql` or `init.up.sql` meant a migration. Ignoring it would skip
// that migration without a word, so these count as attempts too.
const SQL_ATTEMPT = /\.(up|down)\.sql$/i;

export function parseMigrationFileName(fileName: string): ParsedFileName {
  // The common case first: one regular expression per file of a large directory.
  const sql = SQL_FILE.exec(fileName);
  if (sql !== null) {
    const [, digits = '', name = '', direction] = sql;
    return migration(digits, name, direction === 'down' ? 'down' : 'up', 'sql', 'sql');
  }

  if (BUILD_ARTIFACT.test(fileName)) return { kind: 'ignored', reason: 'build artifact (.d.ts or .map)' };

  const attempt = ATTEMPT.exec(fileName);
  if (attempt === null) {
    // Dot files are editor swap files and macOS `._` resource forks (which ride along in tarballs
    // and Docker build contexts); they must not block a deploy.
    if (SQL_ATTEMPT.test(fileName) && !fileName.startsWith('.')) {
      return invalid('it does not start with <version>_');
    }
    return { kind: 'ignored', reason: 'the name does not start with <version>_' };
  }

  const code = CODE_FILE.exec(fileName);
  if (code !== null) {
    const [, digits = '', name = '', ext = 'ts'] = code;
    // `1_x.up.ts` + `1_x.down.ts` would otherwise be read as two code migrations named `x.up` and
    // `x.down` claiming version 1, and reported as a confusing duplicate.
    if (/\.(up|down)$/.test(name)) {
      return invalid(
        'a code migration is one file that exports up() and optionally down(), not separate .up/.down files',
      );
    }
    return migration(digits, name, 'up', 'code', ext as MigrationFileExt);
  }

  return invalid(hint(fileName));
}

function migration(
  digits: string,
  name: string,
  direction: 'up' | 'down',
  type: 'sql' | 'code',
  ext: MigrationFileExt,
): ParsedFileName {
  // 0 is a version like any other: golang-migrate allows it, and sets start at 0_initial.
  const version = Number(digits);
  // Versions are compared numerically and stored as bigint; above 2^53 - 1 two different versions
  // could compare equal in JavaScript.
  if (!Number.isSafeInteger(version)) {
    return invalid(`the version ${digits} is larger than ${Number.MAX_SAFE_INTEGER}`);
  }
  return { kind: 'migration', version, name, direction, type, ext };
}

// The file name is not repeated in the message: every caller prints it in front already.
function invalid(why: string): ParsedFileName {
  return { kind: 'invalid', message: `not a migration file name: ${why}; ${EXPECTED_PATTERNS}` };
}

/** The most likely mistake, so the operator does not have to diff the name against the patterns. */
function hint(fileName: string): string {
  const lower = fileName.toLowerCase();
  if (lower !== fileName && (SQL_FILE.test(lower) || CODE_FILE.test(lower))) {
    return '".up", ".down" and the extension must be lower-case';
  }
  if (/(~|\.(bak|orig|rej|swp|tmp|old))$/i.test(fileName)) {
    return 'it looks like a backup or editor file; move it out of the migrations directory';
  }
  if (/\.sql$/i.test(fileName)) return 'an SQL migration ends in .up.sql or .down.sql';
  if (/\.(up|down)\.[^.]*$/i.test(fileName)) return 'an SQL migration ends in .up.sql or .down.sql';
  if (/\.(cjs|cts|mts|tsx|jsx)$/i.test(fileName)) return 'code migrations end in .ts, .js or .mjs';
  return 'the name matches no migration pattern';
}
