/**
 * The PostgreSQL version the rules judge for: `--pg-version` on the command line, the server's
 * own when `migrate` lints, and otherwise an assumption the docs state (docs/lint-rules.md).
 * Rules whose truth depends on it (a constant default rewrites the table before 11, ADD VALUE
 * cannot run in a transaction before 12...) say which version they judged for.
 */

import { ConfigError } from '../errors.js';

export interface PgVersion {
  /** As `server_version_num`: 140003 for 14.3, 90600 for 9.6. */
  readonly num: number;
  /** False when no version was given and `num` is the assumption. */
  readonly known: boolean;
}

/** Without a version, rules assume PostgreSQL 14 (the oldest release whose features they advise). */
export const ASSUMED_PG_VERSION: PgVersion = { num: 140000, known: false };

/** `PostgreSQL 14.3`, or `PostgreSQL 14 (assumed; pass --pg-version)` */
export function formatPgVersion(v: PgVersion): string {
  return `PostgreSQL ${pgVersionText(v)}${v.known ? '' : ' (assumed; pass --pg-version)'}`;
}

/** `14.3`, `16`, `9.6.24`: as `--pg-version` takes it. */
export function pgVersionText(v: PgVersion): string {
  const major = v.num >= 100000 ? String(Math.floor(v.num / 10000)) : `${Math.floor(v.num / 10000)}.${Math.floor(v.num / 100) % 100}`;
  const minor = v.num >= 100000 ? v.num % 10000 : v.num % 100;
  return `${major}${v.known && minor > 0 ? `.${minor}` : ''}`;
}

/**
 * `--pg-version`: a major version (`16`), major.minor (`14.3`, `9.6`, `9.6.24`) or a
 * server_version_num (`160004`).
 */
export function parsePgVersion(flag: string, value: unknown): PgVersion {
  const text = String(value).trim();
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text);
  const usage = (why: string) => new ConfigError('ERR_USAGE', `${flag}: "${text}" ${why}; give a PostgreSQL version such as 16, 14.3 or 9.6`);
  if (m === null) throw usage('is not a version');
  const [a, b, c] = [Number(m[1]), m[2] === undefined ? undefined : Number(m[2]), m[3] === undefined ? undefined : Number(m[3])];
  let num: number;
  if (a >= 10000 && b === undefined) num = a; // server_version_num
  else if (a >= 10) num = a * 10000 + (b ?? 0);
  else if (a >= 7) num = a * 10000 + (b ?? 0) * 100 + (c ?? 0);
  else throw usage('is older than any PostgreSQL berth knows');
  if (num < 70000 || num >= 1000000) throw usage('is out of range');
  return { num, known: true };
}
