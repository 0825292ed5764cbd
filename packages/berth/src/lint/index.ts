/**
 * `berth lint`: zero-downtime safety rules for PostgreSQL migrations (issue #5, SPEC §5).
 *
 * The I/O half lives here (which files, reading them, loading the parser); everything below it
 * is pure: parse-file.ts (text → parse results), analyze.ts (the rules), lint-file.ts (places
 * and suppresses findings), format.ts (output).
 */

import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { decodeMigrationText } from '../source/decode.js';
import { parseMigrationFileName } from '../source/file-name.js';
import { LintCache, sha256, SNAPSHOT_EVERY } from './cache.js';
import { Catalog, type CatalogState } from './catalog.js';
import { lintSql, type LintOptions } from './lint-file.js';
import { loadParser, type SqlParser } from './parser.js';
import { ruleInfo } from './rules.js';
import { summarize, type FileReport, type LintReport, type SkippedFile } from './types.js';
import type { PgVersion } from './version.js';

export { formatReport, summaryLine, location, LINT_FORMATS, type LintFormat } from './format.js';
export { RULES, type RuleId, type RuleInfo } from './rules.js';
export { failsAt, summarize } from './types.js';
export type { FailOn, Finding, FileReport, LintReport, Severity, SkippedFile, SuppressedFinding } from './types.js';
export { lintSql, lintParsedFile, type LintOptions } from './lint-file.js';
export { parseSqlFile } from './parse-file.js';
export { loadParser, type SqlParser } from './parser.js';
export { Catalog } from './catalog.js';
export { lintCacheDir } from './cache.js';
export { ASSUMED_PG_VERSION, formatPgVersion, parsePgVersion, pgVersionText, type PgVersion } from './version.js';

export interface LintSource {
  /** How the file is named in findings. */
  readonly file: string;
  /** UTF-8 text, BOM stripped. */
  readonly text: string;
}

export interface LintTarget {
  /** How the file is named in findings: relative to the working directory when inside it. */
  readonly file: string;
  readonly path: string;
}

export interface RunOptions {
  /** The server the migrations will run on. */
  readonly pg?: PgVersion;
  readonly parser?: SqlParser;
}

/**
 * Lints texts already in memory (`migrate --lint` passes the pending migrations), in the order
 * given, sharing what each says about the schema with the next (catalog.ts).
 */
export async function lintSources(sources: readonly LintSource[], options: RunOptions = {}): Promise<LintReport> {
  const p = options.parser ?? (await loadParser());
  const lintOptions = fileOptions(options);
  return summarize(sources.map((s) => lintSql(s.file, s.text, p, lintOptions)));
}

function fileOptions(options: RunOptions): LintOptions {
  return { catalog: new Catalog(), ...(options.pg ? { pg: options.pg } : {}) };
}

export interface Targets {
  readonly targets: LintTarget[];
  readonly skipped: SkippedFile[];
}

/**
 * The files `berth lint <paths...>` looks at: a directory contributes its up SQL migrations
 * (`<version>_<name>.up.sql`, in version order), a file is linted whatever its name. The files
 * of a directory that are not linted are listed with why: down files and code migrations on
 * purpose, names that look like a migration but are not one because `migrate` would refuse them.
 * A path that does not exist is a usage error (exit 2).
 */
export async function collectTargets(paths: readonly string[], cwd: string): Promise<Targets> {
  const out: LintTarget[] = [];
  const skipped: SkippedFile[] = [];
  const seen = new Set<string>();
  const display = (abs: string) => {
    const rel = path.relative(cwd, abs);
    return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel;
  };
  const add = (abs: string) => {
    if (seen.has(abs)) return;
    seen.add(abs);
    out.push({ file: display(abs), path: abs });
  };
  for (const given of paths) {
    const abs = path.resolve(cwd, given);
    let info;
    try {
      info = await stat(abs);
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new ConfigError('ERR_USAGE', `lint: ${given} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`}`);
    }
    if (!info.isDirectory()) {
      add(abs);
      continue;
    }
    const migrations: { name: string; version: number }[] = [];
    // One path computation for the directory, not one per file (1,000 path.relative calls show in bench/lint.mjs).
    const relDir = path.relative(cwd, abs);
    const outside = relDir.startsWith('..') || path.isAbsolute(relDir);
    const base = abs.endsWith(path.sep) ? abs : `${abs}${path.sep}`;
    const inDir = (name: string) => (relDir === '' ? name : outside ? `${base}${name}` : `${relDir}${path.sep}${name}`);
    for (const entry of await readdir(abs, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const name = entry.name;
      const parsed = parseMigrationFileName(name);
      const file = inDir(name);
      if (parsed.kind === 'invalid') skipped.push({ file, kind: 'invalid', reason: parsed.message });
      else if (parsed.kind === 'ignored') skipped.push({ file, kind: 'other', reason: parsed.reason });
      else if (parsed.type === 'code') skipped.push({ file, kind: 'code', reason: 'a code migration (berth lint reads SQL only)' });
      else if (parsed.direction === 'down') skipped.push({ file, kind: 'down', reason: 'a down migration (only up migrations run on deploy)' });
      else migrations.push({ name, version: parsed.version });
    }
    migrations.sort((a, b) => a.version - b.version || (a.name < b.name ? -1 : 1));
    for (const m of migrations) {
      const full = `${base}${m.name}`;
      if (seen.has(full)) continue;
      seen.add(full);
      out.push({ file: inDir(m.name), path: full });
    }
  }
  skipped.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { targets: out, skipped };
}

/**
 * Reads and lints files, in the order given (sharing what each says about the schema with the
 * next). A file that is not valid UTF-8 is an `invalid-file` finding, not an exception. With a
 * cache folder, files whose reports are cached (cache.ts) are not parsed again, and the parser
 * is not even loaded when none changed.
 *
 * Files are read one at a time, synchronously, and dropped once linted: parsing is synchronous
 * anyway, and 1,000 small reads through fs/promises cost more than the parsing (bench/lint.mjs).
 */
export async function lintTargets(targets: readonly LintTarget[], options: RunOptions & { cacheDir?: string } = {}): Promise<LintReport> {
  const read = (target: LintTarget): Uint8Array => {
    try {
      return readFileSync(target.path);
    } catch (err) {
      throw new ConfigError('ERR_USAGE', `lint: cannot read ${target.file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  if (options.cacheDir === undefined) {
    if (targets.length === 0) return summarize([]);
    const p = options.parser ?? (await loadParser());
    const lintOptions = fileOptions(options);
    return summarize(targets.map((target) => lintBytes(target.file, read(target), p, lintOptions)));
  }

  // Keyed by the folders, not the files: adding a migration must find the cache of the others.
  const folders = [...new Set(targets.map((t) => path.dirname(t.path)))];
  if (targets.length === 0) return summarize([]);
  const cache = LintCache.open(options.cacheDir, { folders, pg: options.pg ?? null });
  const files = targets.map((target) => {
    const bytes = read(target);
    return { target, path: target.path, hash: sha256(bytes), bytes: bytes as Uint8Array | undefined };
  });
  const plan = cache.plan(files);
  const reports: FileReport[] = [];
  const snapshots: { index: number; catalog: CatalogState }[] = [];
  const catalog = plan.catalog ? Catalog.fromState(plan.catalog) : new Catalog();
  const p = plan.hits === files.length ? undefined : options.parser ?? (await loadParser());
  files.forEach((f, i) => {
    if (i <= plan.resumeAfter || (p === undefined && i < plan.hits)) {
      reports.push(cache.report(i, f.target.file));
    } else {
      reports.push(lintBytes(f.target.file, f.bytes!, p!, { catalog, ...(options.pg ? { pg: options.pg } : {}) }));
    }
    f.bytes = undefined;
    if (p !== undefined && i > plan.resumeAfter && ((i + 1) % SNAPSHOT_EVERY === 0 || i === files.length - 1)) snapshots.push({ index: i, catalog: catalog.state() });
  });
  if (p !== undefined) {
    // Snapshots up to the point this run resumed from are still true: keep them.
    cache.store(files.map((f, i) => ({ path: f.path, hash: f.hash, report: reports[i]! })), [...cache.snapshotsUpTo(plan.resumeAfter), ...snapshots]);
  }
  return summarize(reports);
}

function lintBytes(file: string, bytes: Uint8Array, parser: SqlParser, options: LintOptions): FileReport {
  const decoded = decodeMigrationText(bytes);
  if ('text' in decoded) return lintSql(file, decoded.text, parser, options);
  const info = ruleInfo('invalid-file');
  return {
    file, statements: 0, suppressed: [],
    findings: [{
      rule: info.id, severity: info.severity, file, line: decoded.problem.line, column: 1,
      message: decoded.problem.message, why: info.why, fix: info.fix,
    }],
  };
}
