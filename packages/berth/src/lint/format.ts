/**
 * Renders a lint report for people (text), programs (json), GitHub Actions (workflow commands that
 * become annotations on the pull request's diff) and code-scanning tools (SARIF 2.1.0).
 */

import { RULES } from './rules.js';
import type { Finding, LintReport, SkippedFile } from './types.js';

export type LintFormat = 'text' | 'json' | 'github' | 'sarif';
export const LINT_FORMATS: readonly LintFormat[] = ['text', 'json', 'github', 'sarif'];

export function formatReport(report: LintReport, format: LintFormat, tool: { version: string; skipped?: readonly SkippedFile[] }): string {
  switch (format) {
    case 'text': return formatText(report);
    case 'json': return `${JSON.stringify({ ...toJson(report), ...(tool.skipped ? { skipped: tool.skipped } : {}) }, null, 2)}\n`;
    case 'github': return formatGithub(report);
    case 'sarif': return `${JSON.stringify(toSarif(report, tool.version), null, 2)}\n`;
  }
}

/** `file:line:column: severity [rule] message`, then why and fix indented, then a summary line. */
export function formatText(report: LintReport): string {
  const lines: string[] = [];
  for (const f of report.findings) {
    lines.push(`${location(f)}: ${f.severity} [${f.rule}] ${f.message}`, `    why: ${f.why}`, `    fix: ${f.fix}`, '');
  }
  lines.push(summaryLine(report));
  return `${lines.join('\n')}\n`;
}

export function location(f: Pick<Finding, 'file' | 'line' | 'column'>): string {
  return `${f.file}:${f.line}:${f.column}`;
}

export function summaryLine(report: LintReport): string {
  const files = plural(report.files.length, 'file');
  const suppressed = report.suppressed.length ? ` (${report.suppressed.length} suppressed by berth:allow)` : '';
  if (report.findings.length === 0) return `no findings in ${files}${suppressed}`;
  return `${plural(report.errors, 'error')}, ${plural(report.warnings, 'warning')} in ${files}${suppressed}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function toJson(report: LintReport): Record<string, unknown> {
  return {
    files: report.files.length,
    errors: report.errors,
    warnings: report.warnings,
    findings: report.findings,
    suppressed: report.suppressed,
  };
}

/**
 * `::error file=...,line=...,col=...,title=...::message`. Values are escaped as the Actions
 * runner expects (`%`, CR, LF everywhere; also `:` and `,` in properties), or an annotation
 * would be cut at the first newline or comma.
 */
function formatGithub(report: LintReport): string {
  const lines = report.findings.map((f) => {
    const props = [`file=${prop(f.file)}`, `line=${f.line}`, `col=${f.column}`, `title=${prop(`berth lint: ${f.rule}`)}`].join(',');
    return `::${f.severity} ${props}::${data(`${f.message}\nwhy: ${f.why}\nfix: ${f.fix}`)}`;
  });
  lines.push(summaryLine(report));
  return `${lines.join('\n')}\n`;
}

function data(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function prop(s: string): string {
  return data(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function toSarif(report: LintReport, version: string): Record<string, unknown> {
  const ruleIndex = new Map(RULES.map((r, i) => [r.id as string, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'berth lint',
            version,
            rules: RULES.map((r) => ({
              id: r.id,
              shortDescription: { text: r.title },
              fullDescription: { text: r.why },
              help: { text: r.fix },
              defaultConfiguration: { level: r.severity },
            })),
          },
        },
        // Our columns count characters, SARIF's default is UTF-16 code units.
        columnKind: 'unicodeCodePoints',
        results: [
          ...report.findings.map((f) => sarifResult(f, ruleIndex)),
          ...report.suppressed.map((f) => ({
            ...sarifResult(f, ruleIndex),
            suppressions: [{ kind: 'inSource', justification: f.reason }],
          })),
        ],
      },
    ],
  };
}

function sarifResult(f: Finding, ruleIndex: ReadonlyMap<string, number>): Record<string, unknown> {
  return {
    ruleId: f.rule,
    ruleIndex: ruleIndex.get(f.rule) ?? -1,
    level: f.severity,
    message: { text: `${f.message}. ${f.why} Fix: ${f.fix}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: f.file.replace(/\\/g, '/') },
          region: { startLine: f.line, startColumn: f.column },
        },
      },
    ],
  };
}
