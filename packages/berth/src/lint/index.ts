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
import { ConfigError } from '../errors.js';
import { decodeMigrationText } from '../source/decode.js';
import { parseMigrationFileName } from '../source/file-name.js';
import { LintCache, sha256, SNAPSHOT_EVERY } from './cache.js';
import { Catalog, type CatalogState } from './catalog.js';
import { lintParsedFile, lintSql, type LintOptions } from './lint-file.js';
import { BATCH_BYTES, parseSqlFiles } from './parse-file.js';
import type { ScanResult } from '../drivers/dialect.js';
import { scanSql } from '../drivers/postgres/sql-scanner.js';
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
  /** The files run once per tenant schema (`--schema-per-target`): rule `outside-tenant-schema`. */
  readonly schemaPerTarget?: boolean;
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
  return { catalog: new Catalog(), ...(options.pg ? { pg: options.pg } : {}), ...(options.schemaPerTarget ? { schemaPerTarget: true } : {}) };
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
 * Files are read synchronously (1,000 small reads through fs/promises cost more than parsing
 * them, bench/lint.mjs) and linted in chunks, several files per parser call (parse-file.ts).
 */
export async function lintTargets(targets: readonly LintTarget[], options: RunOptions & { cacheDir?: string } = {}): Promise<LintReport> {
  if (targets.length === 0) return summarize([]);
  const read = (target: LintTarget): Uint8Array => {
    try {
      return readFileSync(target.path);
    } catch (err) {
      throw new ConfigError('ERR_USAGE', `lint: cannot read ${target.file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  if (options.cacheDir === undefined) {
    // The parser's module compiles on another thread while the files are read.
    const parsing = options.parser ? Promise.resolve(options.parser) : loadParser();
    const items = targets.map((t) => ({ file: t.file, bytes: read(t) }));
    const p = await parsing;
    const lintOptions = fileOptions(options);
    const reports: FileReport[] = [];
    for (let i = 0; i < items.length; i += CHUNK) reports.push(...lintFiles(items.slice(i, i + CHUNK), p, lintOptions));
    return summarize(reports);
  }

  // Keyed by the folders, not the files: adding a migration must find the cache of the others.
  const folders = [...new Set(targets.map((t) => path.dirname(t.path)))];
  const cache = LintCache.open(options.cacheDir, { folders, pg: options.pg ?? null, schemaPerTarget: options.schemaPerTarget === true });
  const files = targets.map((target) => {
    const bytes = read(target);
    return { target, path: target.path, hash: sha256(bytes), bytes: bytes as Uint8Array | undefined };
  });
  const plan = cache.plan(files);
  if (plan.hits === files.length) return summarize(files.map((f, i) => cache.report(i, f.target.file)));

  const p = options.parser ?? (await loadParser());
  const catalog = plan.catalog ? Catalog.fromState(plan.catalog) : new Catalog();
  const lintOptions: LintOptions = { ...fileOptions(options), catalog };
  const reports: FileReport[] = files.slice(0, plan.resumeAfter + 1).map((f, i) => cache.report(i, f.target.file));
  const snapshots: { index: number; catalog: CatalogState }[] = [];
  let i = plan.resumeAfter + 1;
  while (i < files.length) {
    // Chunks end at snapshot points, so that the catalog can be saved there.
    const stop = Math.min(files.length, i + CHUNK, (Math.floor(i / SNAPSHOT_EVERY) + 1) * SNAPSHOT_EVERY);
    const chunk = files.slice(i, stop);
    reports.push(...lintFiles(chunk.map((f) => ({ file: f.target.file, bytes: f.bytes! })), p, lintOptions));
    for (const f of chunk) f.bytes = undefined;
    if (stop % SNAPSHOT_EVERY === 0 || stop === files.length) snapshots.push({ index: stop - 1, catalog: catalog.state() });
    i = stop;
  }
  // Snapshots up to the point this run resumed from are still true: keep them.
  cache.store(files.map((f, i) => ({ path: f.path, hash: f.hash, report: reports[i]! })), [...cache.snapshotsUpTo(plan.resumeAfter), ...snapshots]);
  return summarize(reports);
}

/** Files linted together: their parse trees are alive at the same time, so not too many. */
const CHUNK = 100;

/**
 * Decodes, parses and lints files, in order: a group of files of at most BATCH_BYTES goes to the
 * parser in one call (parse-file.ts), and is linted before the next group is parsed, so that only
 * one group's parse trees are alive at a time.
 */
function lintFiles(items: readonly { file: string; bytes: Uint8Array }[], parser: SqlParser, options: LintOptions): FileReport[] {
  const out: FileReport[] = [];
  let group: { file: string; text: string; scan: ScanResult }[] = [];
  let size = 0;
  const flush = () => {
    const parsed = parseSqlFiles(group, parser);
    group.forEach((g, k) => out.push(lintParsedFile({ file: g.file, text: g.text, parsed: parsed[k]!, ...options })));
    group = [];
    size = 0;
  };
  for (const item of items) {
    const d = decodeMigrationText(item.bytes);
    if (!('text' in d)) {
      flush();
      out.push(invalidFile(item.file, d.problem));
      continue;
    }
    if (size + d.text.length > BATCH_BYTES && group.length > 0) flush();
    group.push({ file: item.file, text: d.text, scan: scanSql(d.text) });
    size += d.text.length;
  }
  flush();
  return out;
}

function invalidFile(file: string, problem: { line: number; message: string }): FileReport {
  const info = ruleInfo('invalid-file');
  return {
    file, statements: 0, suppressed: [],
    findings: [{
      rule: info.id, severity: info.severity, file, line: problem.line, column: 1,
      message: problem.message, why: info.why, fix: info.fix,
    }],
  };
}
