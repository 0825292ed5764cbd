/**
 * What `berth lint` reports. Everything here is plain data, so the same findings feed the text,
 * JSON, GitHub and SARIF outputs and `migrate --lint`.
 */

export type Severity = 'error' | 'warning';

export interface Finding {
  /** Rule id, e.g. `drop-column` (see rules.ts and docs/lint-rules.md). */
  readonly rule: string;
  readonly severity: Severity;
  /** The file as the caller named it (relative to the working directory for the CLI). */
  readonly file: string;
  /** 1-based line and column (columns count characters, as PostgreSQL and editors do). */
  readonly line: number;
  readonly column: number;
  /** What this statement does wrong, naming the table/column/index. */
  readonly message: string;
  /** What goes wrong in production while the old version of the application is still running. */
  readonly why: string;
  /** The safe way to make the same change. */
  readonly fix: string;
}

/** A finding silenced by `-- berth:allow <rule> <reason>`, kept for audit (JSON/SARIF output). */
export interface SuppressedFinding extends Finding {
  readonly reason: string;
  /** Line of the `-- berth:allow` comment that silenced it. */
  readonly allowLine: number;
}

export interface FileReport {
  readonly file: string;
  /** Sorted by line, then column, then rule. */
  readonly findings: readonly Finding[];
  readonly suppressed: readonly SuppressedFinding[];
  /** Top-level statements seen (parsed or not). */
  readonly statements: number;
}

export interface LintReport {
  readonly files: readonly FileReport[];
  readonly findings: readonly Finding[];
  readonly suppressed: readonly SuppressedFinding[];
  readonly errors: number;
  readonly warnings: number;
}

/** A file of a linted directory that is not linted, and why. */
export interface SkippedFile {
  readonly file: string;
  /** `invalid`: named like a migration but not one (migrate refuses the directory); the others are skipped on purpose. */
  readonly kind: 'invalid' | 'down' | 'code' | 'other';
  readonly reason: string;
}

/** `--fail-on`: the lowest severity that makes the run fail, or `none`. */
export type FailOn = Severity | 'none';

export function failsAt(finding: Pick<Finding, 'severity'>, failOn: FailOn): boolean {
  if (failOn === 'none') return false;
  return failOn === 'warning' || finding.severity === 'error';
}

export function summarize(files: readonly FileReport[]): LintReport {
  const findings = files.flatMap((f) => f.findings);
  const suppressed = files.flatMap((f) => f.suppressed);
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { files, findings, suppressed, errors, warnings: findings.length - errors };
}
