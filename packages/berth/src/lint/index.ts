/**
 * `berth lint`: zero-downtime safety rules for PostgreSQL migrations (issue #5, SPEC §5).
 *
 * The I/O half lives here (which files, reading them, loading the parser); everything below it
 * is pure: parse-file.ts (text → parse results), analyze.ts (the rules), lint-file.ts (places
 * and suppresses findings), format.ts (output).
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { decodeMigrationText } from '../source/decode.js';
import { parseMigrationFileName } from '../source/file-name.js';
import { lintSql } from './lint-file.js';
import { loadParser, type SqlParser } from './parser.js';
import { ruleInfo } from './rules.js';
import { summarize, type FileReport, type LintReport } from './types.js';

export { formatReport, summaryLine, location, LINT_FORMATS, type LintFormat } from './format.js';
export { RULES, type RuleId, type RuleInfo } from './rules.js';
export { failsAt, summarize } from './types.js';
export type { FailOn, Finding, FileReport, LintReport, Severity, SuppressedFinding } from './types.js';
export { lintSql, lintParsedFile } from './lint-file.js';
export { parseSqlFile } from './parse-file.js';
export { loadParser, type SqlParser } from './parser.js';

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

/** Lints texts already in memory (`migrate --lint` passes the pending migrations). */
export async function lintSources(sources: readonly LintSource[], parser?: SqlParser): Promise<LintReport> {
  const p = parser ?? (await loadParser());
  return summarize(sources.map((s) => lintSql(s.file, s.text, p)));
}

/**
 * The files `berth lint <paths...>` looks at: a directory contributes its up SQL migrations
 * (`<version>_<name>.up.sql`, in version order; down files and code migrations are skipped),
 * a file is linted whatever its name. A path that does not exist is a usage error (exit 2).
 */
export async function collectTargets(paths: readonly string[], cwd: string): Promise<LintTarget[]> {
  const out: LintTarget[] = [];
  const seen = new Set<string>();
  const add = (abs: string) => {
    if (seen.has(abs)) return;
    seen.add(abs);
    const rel = path.relative(cwd, abs);
    out.push({ file: rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel, path: abs });
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
    const migrations = (await readdir(abs)).flatMap((name) => {
      const parsed = parseMigrationFileName(name);
      return parsed.kind === 'migration' && parsed.direction === 'up' && parsed.type === 'sql' ? [{ name, version: parsed.version }] : [];
    });
    migrations.sort((a, b) => a.version - b.version || (a.name < b.name ? -1 : 1));
    for (const m of migrations) add(path.join(abs, m.name));
  }
  return out;
}

// Enough to overlap file reads without risking EMFILE (as in source/read-migrations.ts).
const READ_CONCURRENCY = 16;

/** Reads and lints files. A file that is not valid UTF-8 is an `invalid-file` finding, not an exception. */
export async function lintTargets(targets: readonly LintTarget[], parser?: SqlParser): Promise<LintReport> {
  const p = parser ?? (await loadParser());
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
  return summarize(targets.map((target, i) => lintBytes(target.file, contents[i]!, p)));
}

function lintBytes(file: string, bytes: Uint8Array, parser: SqlParser): FileReport {
  const decoded = decodeMigrationText(bytes);
  if ('text' in decoded) return lintSql(file, decoded.text, parser);
  const info = ruleInfo('invalid-file');
  return {
    file, statements: 0, suppressed: [],
    findings: [{
      rule: info.id, severity: info.severity, file, line: decoded.problem.line, column: 1,
      message: decoded.problem.message, why: info.why, fix: info.fix,
    }],
  };
}
