import path from 'node:path';
import { BERTH_VERSION, ConfigError, ValidationError, type ApplyTarget, type PlannedMigration } from '../../index.js';
import {
  collectTargets, failsAt, formatReport, lintCacheDir, lintSources, lintTargets, location, LINT_FORMATS, parsePgVersion, pgVersionText,
  RULES, summarize, summaryLine, type FailOn, type Finding, type LintFormat, type LintReport, type LintSource, type PgVersion, type SkippedFile,
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
  const pg = opts.pgVersion === undefined ? undefined : parsePgVersion('--pg-version', opts.pgVersion);
  const paths = args.length > 0 ? args : [ctx.config.dir];
  const { targets, skipped } = await collectTargets(paths, ctx.io.cwd);
  ctx.io.tune?.('wasm');
  const cacheDir = opts.noCache === true ? undefined : lintCacheDir(ctx.io.env);
  const linted = await lintTargets(targets, { ...(pg ? { pg } : {}), ...(cacheDir ? { cacheDir } : {}), schemaPerTarget: ctx.config.schemaPerTarget });
  const report = withMisnamed(linted, skipped);
  ctx.io.stdout.write(formatReport(report, format, { version: BERTH_VERSION, skipped: skipped.filter((s) => s.kind !== 'invalid') }));
  const failing = report.findings.filter((f) => failsAt(f, failOn)).length;
  const skippedNote = skippedSummary(skipped);
  const summary = targets.length === 0 && report.findings.length === 0
    ? `lint: no SQL migrations (<version>_<name>.up.sql) found in ${paths.join(', ')}${skippedNote ? `; ${skippedNote}` : ''}`
    : `lint: ${summaryLine(report)}${failing ? ` (${failing} at or above --fail-on ${failOn})` : ''}${skippedNote ? `; ${skippedNote}` : ''}`;
  return {
    exitCode: failing > 0 ? 5 : 0,
    summary,
    fields: {
      files: report.files.length, errors: report.errors, warnings: report.warnings, suppressed: report.suppressed.length,
      skipped: skipped.filter((s) => s.kind !== 'invalid').length,
      ...(failing > 0 ? { code: 'ERR_LINT_FAILED' } : {}),
    },
  };
};

/**
 * A name that looks like a migration but is not one makes `berth migrate` refuse the whole
 * directory: as serious as a file that is not UTF-8, so it is reported as that rule's finding.
 */
function withMisnamed(report: LintReport, skipped: readonly SkippedFile[]): LintReport {
  const invalid = RULES.find((r) => r.id === 'invalid-file')!;
  const misnamed = skipped.filter((s) => s.kind === 'invalid').map((s) => ({
    file: s.file, statements: 0, suppressed: [],
    findings: [{
      rule: invalid.id, severity: invalid.severity, file: s.file, line: 1, column: 1,
      message: `named like a migration but not one, so it was not linted and \`berth migrate\` refuses the directory: ${s.reason}`,
      why: invalid.why, fix: 'Rename the file to <version>_<name>.up.sql (or .down.sql), or move it out of the migrations directory.',
    }],
  }));
  return misnamed.length === 0 ? report : summarize([...report.files, ...misnamed]);
}

/** `skipped 3 down migrations, 1 code migration and 1 other file (README.md)` */
function skippedSummary(skipped: readonly SkippedFile[]): string {
  const count = (kind: SkippedFile['kind']) => skipped.filter((s) => s.kind === kind);
  const parts: string[] = [];
  const down = count('down').length;
  const code = count('code').length;
  const other = count('other');
  if (down) parts.push(`${down} down migration${down === 1 ? '' : 's'}`);
  if (code) parts.push(`${code} code migration${code === 1 ? '' : 's'} (SQL only is linted)`);
  if (other.length) {
    const names = other.slice(0, 3).map((s) => path.basename(s.file)).join(', ');
    parts.push(`${other.length} other file${other.length === 1 ? '' : 's'} (${names}${other.length > 3 ? ', ...' : ''})`);
  }
  return parts.length ? `skipped ${parts.join(', ')}` : '';
}

/** How many findings `migrate` prints before pointing at `berth lint` for the rest: about a screenful. */
export const PENDING_FINDINGS_SHOWN = 20;

/**
 * `migrate --lint warn|error`: lints the migrations about to run (the `beforeApply` hook, so
 * also for --dry-run), for the server's own version, and logs the findings; with `error`, an
 * error-severity finding stops the run before anything is applied (ERR_LINT_FAILED, exit 5).
 *
 * On a database where nothing was applied yet no table has rows and no old release is running:
 * only findings that fail there too (syntax, transaction control, statements that cannot run in
 * a transaction) are reported. At most PENDING_FINDINGS_SHOWN are logged, then the count and the
 * `berth lint` command that lists them all.
 *
 * One hook serves a whole fleet (called for each target, concurrently): the same files for the
 * same server version and history state are linted and logged once, not once per tenant, and
 * every target that would apply a failing set is refused.
 */
export function pendingLinter(ctx: CommandContext, mode: Exclude<LintMode, 'off'>): (planned: readonly PlannedMigration[], target: ApplyTarget) => Promise<void> {
  const linted = new Map<string, Promise<LintReport>>();
  let dialectNoted = false;
  return async (planned, target) => {
    if (!target.lintable) {
      if (!dialectNoted) {
        dialectNoted = true;
        ctx.reporter.log(mode === 'error' ? 'warn' : 'info', `lint: not run: berth lint reads PostgreSQL statements, and this target speaks ${target.dialect}`, { event: 'lint.skipped', reason: 'dialect' });
      }
      return;
    }
    const sources = planned.flatMap((p) => (p.sql === undefined ? [] : [{ file: displayPath(ctx.io.cwd, p.path, p.file), text: p.sql }]));
    if (sources.length === 0) return;
    const pg: PgVersion | undefined = target.serverVersionNum > 0 ? { num: target.serverVersionNum, known: true } : undefined;
    const empty = target.recorded === 0;
    const key = JSON.stringify([pg?.num ?? 0, empty, sources.map((s) => s.file)]);
    let report = linted.get(key);
    if (!report) {
      report = lintAndLog(ctx, mode, sources, pg, empty);
      linted.set(key, report);
    }
    const { errors, warnings } = await report;
    if (mode === 'error' && errors > 0) {
      throw new ValidationError('ERR_LINT_FAILED',
        `lint found ${errors} error(s) in the pending migrations, so nothing was applied; fix them, ` +
        'silence a reviewed one with "-- berth:allow <rule-id> <reason>" above the statement, or run with --lint warn',
        { details: { errors, warnings } });
    }
  };
}

async function lintAndLog(ctx: CommandContext, mode: Exclude<LintMode, 'off'>, sources: readonly LintSource[], pg: PgVersion | undefined, empty: boolean): Promise<LintReport> {
  ctx.io.tune?.('wasm');
  const full = await lintSources(sources, { ...(pg ? { pg } : {}), schemaPerTarget: ctx.config.schemaPerTarget });
  const report = empty ? onEmptyDatabase(full) : full;
  const hidden = full.findings.length - report.findings.length;
  const shown = report.findings.slice(0, PENDING_FINDINGS_SHOWN);
  for (const f of shown) logFinding(ctx, mode, f);
  const rest = report.findings.length - shown.length;
  const command = `berth lint ${displayDir(ctx)}${pg ? ` --pg-version ${pgVersionText(pg)}` : ''}`;
  if (rest > 0) {
    ctx.reporter.log('warn', `lint: ${rest} more finding${rest === 1 ? '' : 's'} not shown; run \`${command}\` to list them all`, { event: 'lint.more', count: rest, command });
  }
  if (report.findings.length > 0 || report.suppressed.length > 0 || hidden > 0) {
    const scope = empty
      ? `pending migrations, first install: ${hidden} finding${hidden === 1 ? '' : 's'} about existing rows, locks or the running release do not apply and ${hidden === 1 ? 'is' : 'are'} not shown`
      : 'pending migrations';
    ctx.reporter.log(report.findings.length > 0 ? 'warn' : 'info', `lint: ${summaryLine(report)} (${scope})`, {
      event: 'lint.summary', errors: report.errors, warnings: report.warnings, suppressed: report.suppressed.length,
      ...(empty ? { notApplicable: hidden } : {}), ...(rest > 0 ? { notShown: rest, command } : {}),
    });
  }
  return report;
}

/** Only the findings that fail on a database with nothing applied (rules.ts `onEmptyDatabase`). */
function onEmptyDatabase(report: LintReport): LintReport {
  const keep = new Set(RULES.filter((r) => r.onEmptyDatabase).map((r) => r.id as string));
  return summarize(report.files.map((f) => ({ ...f, findings: f.findings.filter((x) => keep.has(x.rule)) })));
}

function logFinding(ctx: CommandContext, mode: Exclude<LintMode, 'off'>, f: Finding): void {
  const level = f.severity === 'error' && mode === 'error' ? 'error' : 'warn';
  ctx.reporter.log(level, `lint: ${location(f)}: ${f.severity} [${f.rule}] ${f.message}; fix: ${f.fix}`, {
    event: 'lint.finding', rule: f.rule, severity: f.severity, file: f.file, line: f.line, column: f.column, why: f.why, fix: f.fix,
  });
}

function choice<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError('ERR_USAGE', `${flag}: "${String(value)}" is not one of ${allowed.join(', ')}`);
}

function displayPath(cwd: string, abs: string, fallback: string): string {
  const rel = path.relative(cwd, abs);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? fallback : rel;
}

/** The migrations directory as the user would type it after `berth lint`. */
function displayDir(ctx: CommandContext): string {
  const abs = path.resolve(ctx.io.cwd, ctx.config.dir);
  const rel = path.relative(ctx.io.cwd, abs);
  const shown = rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel;
  return /^[\w./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
}
