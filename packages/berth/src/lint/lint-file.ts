/**
 * One file's findings: directives, parse errors and rule findings placed at file line/column,
 * then `-- berth:allow` applied. Pure over (file name, text, parse result), so tests need neither
 * a database nor a file system.
 */

import { parseDirectives } from '../source/directives.js';
import { closestMatch } from '../text.js';
import { scanSql } from '../drivers/postgres/sql-scanner.js';
import type { Statement } from '../source/types.js';
import { findAllowComments, type AllowComment } from './allow.js';
import { analyze, type RawFinding } from './analyze.js';
import type { Catalog } from './catalog.js';
import { fileOffset, parseSqlFile, type ParsedFile } from './parse-file.js';
import type { SqlParser } from './parser.js';
import { TextPositions } from './positions.js';
import { RULES_BY_ID, ruleInfo, type RuleId } from './rules.js';
import type { FileReport, Finding, SuppressedFinding } from './types.js';
import { ASSUMED_PG_VERSION, formatPgVersion, type PgVersion } from './version.js';

export interface LintOptions {
  /** The server the migrations will run on (default: ASSUMED_PG_VERSION). */
  readonly pg?: PgVersion;
  /** Shared between the files of one run, in version order (see catalog.ts). */
  readonly catalog?: Catalog;
  /** The files run once per tenant schema (`--schema-per-target`). */
  readonly schemaPerTarget?: boolean;
}

export interface LintFileInput extends LintOptions {
  /** How the file is named in findings. */
  readonly file: string;
  /** The file's text (UTF-8 decoded, BOM stripped). */
  readonly text: string;
  readonly parsed: ParsedFile;
}

/** Parses and lints one SQL text. */
export function lintSql(file: string, text: string, parser: SqlParser, options: LintOptions = {}): FileReport {
  return lintParsedFile({ file, text, parsed: parseSqlFile(text, parser), ...options });
}

/** A finding before suppression, with the statement it belongs to (for statement-level allows). */
interface Placed extends Finding {
  readonly statementOffset: number | undefined;
}

export function lintParsedFile({ file, text, parsed, pg = ASSUMED_PG_VERSION, catalog, schemaPerTarget }: LintFileInput): FileReport {
  const positions = new TextPositions(text);
  const placed: Placed[] = [];
  const place = (rule: RuleId, offset: number, statementOffset: number | undefined, fields: Partial<Finding> & { message: string }): void => {
    const info = ruleInfo(rule);
    const { line, column } = positions.at(offset);
    placed.push({
      rule, severity: fields.severity ?? info.severity, file, line, column,
      message: fields.message, why: fields.why ?? info.why, fix: fields.fix ?? info.fix, statementOffset,
    });
  };

  const { directives, problems } = parseDirectives(text, parsed.scan);
  for (const problem of problems) {
    place('invalid-directive', lineCommentOffset(text, problem.line), undefined, { message: problem.message });
  }

  for (const ps of parsed.statements) {
    if (ps.error === undefined) continue;
    place('syntax-error', ps.statement.offset + ps.error.index, ps.statement.offset, {
      message: `PostgreSQL 18's parser (the one berth lint uses) cannot parse this statement: ${ps.error.message}` +
        (pg.known && pg.num < 180000 ? ` (the server is ${formatPgVersion(pg)}, whose grammar differs in places: new syntax is not checked against it)` : ''),
    });
  }

  const raw = analyze(parsed, {
    noTransaction: directives.noTransaction,
    lockTimeoutDirective: (directives.lockTimeoutMs ?? 0) > 0,
    pg,
    ...(catalog ? { catalog } : {}),
    ...(schemaPerTarget ? { schemaPerTarget } : {}),
  });
  for (const f of raw) {
    const ps = parsed.statements[f.statement];
    if (ps === undefined) continue;
    const at = f.offset ?? (f.cmd === undefined ? undefined : ps.cmdAt?.(f.cmd)) ?? fileOffset(ps.source, f.byte ?? ps.byteOffset);
    place(f.rule, at, ps.statement.offset, findingFields(f));
  }

  const statements = uniqueStatements(parsed);
  const allows = findAllowComments(parsed.lineComments, statements);
  return applyAllows(file, positions, placed, allows, statements.length);
}

function findingFields(f: RawFinding): Partial<Finding> & { message: string } {
  return {
    message: f.message,
    ...(f.severity ? { severity: f.severity } : {}),
    ...(f.why ? { why: f.why } : {}),
    ...(f.fix ? { fix: f.fix } : {}),
  };
}

function applyAllows(file: string, positions: TextPositions, placed: Placed[], allows: readonly AllowComment[], statementCount: number): FileReport {
  const findings: Finding[] = [];
  const suppressed: SuppressedFinding[] = [];
  const used = new Set<AllowComment>();
  const valid: AllowComment[] = [];

  const meta = (rule: RuleId, allow: AllowComment, message: string, fix?: string): void => {
    const info = ruleInfo(rule);
    const { line, column } = positions.at(allow.offset);
    findings.push({ rule, severity: info.severity, file, line, column, message, why: info.why, fix: fix ?? info.fix });
  };

  for (const allow of allows) {
    let ok = true;
    if (allow.rules.length === 0) {
      meta('allow-without-reason', allow, '"-- berth:allow" names no rule and gives no reason');
      continue;
    }
    for (const id of allow.rules) {
      const info = RULES_BY_ID.get(id);
      if (info === undefined || info.meta) {
        const near = closestRule(id);
        meta('allow-unknown-rule', allow, info?.meta
          ? `"-- berth:allow ${id}": ${id} is about the file or its allow comments and cannot be silenced`
          : `"-- berth:allow ${id}": no rule is called ${id}${near ? `; did you mean ${near}?` : ''}`);
        ok = false;
      }
    }
    if (allow.reason === '') {
      meta('allow-without-reason', allow, `"-- berth:allow ${allow.rules.join(',')}" gives no reason, so it silences nothing`);
      ok = false;
    }
    if (ok) valid.push(allow);
  }

  for (const finding of placed) {
    const { statementOffset, ...clean } = finding;
    const info = RULES_BY_ID.get(finding.rule);
    const allow = info?.meta ? undefined : valid.find((a) => a.rules.includes(finding.rule) && covers(a, statementOffset));
    if (allow === undefined) {
      findings.push(clean);
    } else {
      used.add(allow);
      suppressed.push({ ...clean, reason: allow.reason, allowLine: positions.at(allow.offset).line });
    }
  }

  for (const allow of valid) {
    if (used.has(allow)) continue;
    const where = allow.scope === 'file' ? 'in this file' : allow.scope === 'none' ? '(no statement follows it)' : 'on the statement below it';
    meta('allow-unused', allow, `"-- berth:allow ${allow.rules.join(',')}" silences nothing ${where}`);
  }

  const order = (a: Finding, b: Finding) => a.line - b.line || a.column - b.column || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0);
  return { file, findings: findings.sort(order), suppressed: suppressed.sort(order), statements: statementCount };
}

function covers(allow: AllowComment, statementOffset: number | undefined): boolean {
  if (allow.scope === 'file') return true;
  if (allow.scope === 'none' || statementOffset === undefined) return false;
  return allow.scope.statementOffset === statementOffset;
}

function uniqueStatements(parsed: ParsedFile): Statement[] {
  const out: Statement[] = [];
  let last = -1;
  for (const ps of parsed.statements) {
    if (ps.statement.offset !== last) out.push(ps.statement);
    last = ps.statement.offset;
  }
  return out;
}

/** Where the `--` of the comment on `line` starts (directive problems only carry a line). */
function lineCommentOffset(text: string, line: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = text.slice(offset).search(/\r\n|\n|\r/);
    if (next < 0) break;
    offset += next + (text.startsWith('\r\n', offset + next) ? 2 : 1);
  }
  const end = text.slice(offset).search(/[\r\n]/);
  const dashes = (end < 0 ? text.slice(offset) : text.slice(offset, offset + end)).indexOf('--');
  return offset + Math.max(0, dashes);
}

function closestRule(id: string): string | undefined {
  return closestMatch(id, RULES_BY_ID.keys());
}

