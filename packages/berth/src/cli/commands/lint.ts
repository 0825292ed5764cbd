import path from 'node:path';
import { BERTH_VERSION, ConfigError, ValidationError, type PlannedMigration } from '../../index.js';
import {
  collectTargets, failsAt, formatReport, lintSources, lintTargets, location, LINT_FORMATS, summaryLine,
  type FailOn, type LintFormat,
} from '../../lint/index.js';
import type { CommandContext } from '../context.js';
import type { CommandRun } from './index.js';

const FAIL_ON: readonly FailOn[] = ['error', 'warning', 'none'];
/** `migrate --lint`; parsed in migrate.ts so that the no-op path does not load this module. */
export type LintMode = 'off' | 'warn' | 'error';

/** `berth lint [paths...]`: exit 5 when a finding at or above `--fail-on` remains. */
export const lint: CommandRun = async (ctx, opts, args) => {
  const format = choice<LintFormat>('--format', opts.format ?? 'text', LINT_FORMATS);
  const failOn = choice<FailOn>('--fail-on', opts.failOn ?? 'error', FAIL_ON);
  const paths = args.length > 0 ? args : [ctx.config.dir];
  const targets = await collectTargets(paths, ctx.io.cwd);
  ctx.io.tune?.('wasm');
  const report = await lintTargets(targets);
  ctx.io.stdout.write(formatReport(report, format, { version: BERTH_VERSION }));
  const failing = report.findings.filter((f) => failsAt(f, failOn)).length;
  const summary = targets.length === 0
    ? `lint: no SQL migrations (<version>_<name>.up.sql) found in ${paths.join(', ')}`
    : `lint: ${summaryLine(report)}${failing ? ` (${failing} at or above --fail-on ${failOn})` : ''}`;
  return {
    exitCode: failing > 0 ? 5 : 0,
    summary,
    fields: {
      files: report.files.length, errors: report.errors, warnings: report.warnings, suppressed: report.suppressed.length,
      ...(failing > 0 ? { code: 'ERR_LINT_FAILED' } : {}),
    },
  };
};

/**
 * `migrate --lint warn|error`: lints the migrations about to run (the `beforeApply` hook, so
 * also for --dry-run) and logs each finding; with `error`, an error-severity finding stops the
 * run before anything is applied (ERR_LINT_FAILED, exit 5).
 */
export async function lintPending(ctx: CommandContext, mode: Exclude<LintMode, 'off'>, planned: readonly PlannedMigration[]): Promise<void> {
  const sources = planned.flatMap((p) => (p.sql === undefined ? [] : [{ file: displayPath(ctx.io.cwd, p.path, p.file), text: p.sql }]));
  if (sources.length === 0) return;
  ctx.io.tune?.('wasm');
  const report = await lintSources(sources);
  for (const f of report.findings) {
    const level = f.severity === 'error' && mode === 'error' ? 'error' : 'warn';
    ctx.reporter.log(level, `lint: ${location(f)}: ${f.severity} [${f.rule}] ${f.message}; fix: ${f.fix}`, {
      event: 'lint.finding', rule: f.rule, severity: f.severity, file: f.file, line: f.line, column: f.column, why: f.why, fix: f.fix,
    });
  }
  if (report.findings.length > 0 || report.suppressed.length > 0) {
    ctx.reporter.log(report.findings.length > 0 ? 'warn' : 'info', `lint: ${summaryLine(report)} (pending migrations)`, {
      event: 'lint.summary', errors: report.errors, warnings: report.warnings, suppressed: report.suppressed.length,
    });
  }
  if (mode === 'error' && report.errors > 0) {
    throw new ValidationError('ERR_LINT_FAILED',
      `lint found ${report.errors} error(s) in the pending migrations, so nothing was applied; fix them, ` +
      'silence a reviewed one with "-- berth:allow <rule-id> <reason>" above the statement, or run with --lint warn',
      { details: { errors: report.errors, warnings: report.warnings } });
  }
}

function choice<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError('ERR_USAGE', `${flag}: "${String(value)}" is not one of ${allowed.join(', ')}`);
}

function displayPath(cwd: string, abs: string, fallback: string): string {
  const rel = path.relative(cwd, abs);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? fallback : rel;
}
