/**
 * `berth lint`: zero-downtime safety rules for PostgreSQL migrations (issue #5, SPEC §5).
 *
 * The I/O half lives here (which files, reading them, loading the parser); everything below it
 * is pure: parse-file.ts (text → parse results), analyze.ts (the rules), lint-file.ts (places
 * and suppresses findings), format.ts (output).
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { decodeMigrationText } from '../source/decode.js';
import { parseMigrationFileName } from '../source/file-name.js';
import { Catalog } from './catalog.js';
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
    for (const entry of await readdir(abs, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const name = entry.name;
      const parsed = parseMigrationFileName(name);
      const file = display(path.join(abs, name));
      if (parsed.kind === 'invalid') skipped.push({ file, kind: 'invalid', reason: parsed.message });
      else if (parsed.kind === 'ignored') skipped.push({ file, kind: 'other', reason: parsed.reason });
      else if (parsed.type === 'code') skipped.push({ file, kind: 'code', reason: 'a code migration (berth lint reads SQL only)' });
      else if (parsed.direction === 'down') skipped.push({ file, kind: 'down', reason: 'a down migration (only up migrations run on deploy)' });
      else migrations.push({ name, version: parsed.version });
    }
    migrations.sort((a, b) => a.version - b.version || (a.name < b.name ? -1 : 1));
    for (const m of migrations) add(path.join(abs, m.name));
  }
  skipped.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { targets: out, skipped };
}

// Enough to overlap file reads without risking EMFILE (as in source/read-migrations.ts).
const READ_CONCURRENCY = 16;

/**
 * Reads and lints files, in the order given (sharing what each says about the schema with the
 * next). A file that is not valid UTF-8 is an `invalid-file` finding, not an exception.
 */
export async function lintTargets(targets: readonly LintTarget[], options: RunOptions = {}): Promise<LintReport> {
  const p = options.parser ?? (await loadParser());
  const lintOptions = fileOptions(options);
  const contents: Uint8Array[] = new Array(targets.length);
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      const target = targets[i]!;
      try {
        contents[i] = await readFile(target.path);
      } catch (err) {
        throw new ConfigError('ERR_USAGE', `lint: cannot read ${target.file}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, targets.length) }, reader));
  return summarize(targets.map((target, i) => lintBytes(target.file, contents[i]!, p, lintOptions)));
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
