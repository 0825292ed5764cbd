/**
 * The rule registry of `berth lint`: id, default severity, and the generic "why" and "fix" each
 * finding carries unless the check has something more specific to say. docs/lint-rules.md
 * documents every id listed here (a unit test checks it), with an unsafe and a safe example.
 *
 * Rule ids are stable: they appear in `-- berth:allow` comments in migration files, which are
 * checksummed and never edited after they are applied. Never rename or reuse one.
 */

import type { Severity } from './types.js';

export interface RuleInfo {
  readonly id: RuleId;
  /** Default severity; a few checks lower it for forms that are usually harmless (see the docs). */
  readonly severity: Severity;
  readonly title: string;
  readonly why: string;
  readonly fix: string;
  /** Meta rules are about the file or its `berth:allow` comments; an allow cannot silence them. */
  readonly meta?: boolean;
}

export type RuleId =
  | 'not-null-without-default'
  | 'volatile-default'
  | 'index-not-concurrent'
  | 'drop-index-not-concurrent'
  | 'concurrently-in-transaction'
  | 'drop-column'
  | 'drop-table'
  | 'rename-column'
  | 'rename-table'
  | 'change-column-type'
  | 'set-not-null'
  | 'constraint-without-not-valid'
  | 'unique-without-index'
  | 'missing-lock-timeout'
  | 'whole-table-dml-with-ddl'
  | 'vacuum-full'
  | 'cluster'
  | 'lock-table'
  | 'enum-value-in-transaction'
  | 'syntax-error'
  | 'invalid-directive'
  | 'invalid-file'
  | 'allow-without-reason'
  | 'allow-unknown-rule'
  | 'allow-unused';

const EXPAND_CONTRACT =
  'expand/contract: ship a version of the application that no longer uses it, and only then, in a later migration, remove it';

export const RULES: readonly RuleInfo[] = [
  {
    id: 'not-null-without-default',
    severity: 'error',
    title: 'adding a NOT NULL column without a default',
    why: 'On a table with rows the ALTER fails ("column contains null values") and the deploy stops; on an empty one it succeeds, and every INSERT from the running old version, which does not know the column, then fails.',
    fix: 'Add the column with a constant DEFAULT (PostgreSQL 11+ stores it without rewriting the table), or add it nullable, backfill in batches, then add a CHECK (col IS NOT NULL) NOT VALID constraint and VALIDATE it.',
  },
  {
    id: 'volatile-default',
    severity: 'error',
    title: 'a new column whose value is computed per row (volatile default, serial, identity, stored generated)',
    why: 'A constant default is stored once in the catalog, but a volatile default (random(), clock_timestamp(), gen_random_uuid(), nextval()), a serial or identity column, or a STORED generated column makes PostgreSQL rewrite the whole table under an ACCESS EXCLUSIVE lock: no reads or writes for as long as the rewrite takes.',
    fix: 'Add the column without a default (or with a constant one), then set the default for new rows with ALTER COLUMN ... SET DEFAULT, and backfill existing rows in batches from a separate no-transaction migration or job.',
  },
  {
    id: 'index-not-concurrent',
    severity: 'error',
    title: 'CREATE INDEX without CONCURRENTLY on an existing table',
    why: 'CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits, for minutes on a large table.',
    fix: 'CREATE INDEX CONCURRENTLY in its own migration marked "-- berth:no-transaction" (use IF NOT EXISTS, and drop an INVALID index left by a failed build before retrying). Indexes on tables created in the same migration are fine as they are.',
  },
  {
    id: 'drop-index-not-concurrent',
    severity: 'warning',
    title: 'DROP INDEX without CONCURRENTLY',
    why: 'DROP INDEX takes an ACCESS EXCLUSIVE lock on the index\'s table; while it waits behind a long query, every later query on the table queues behind it.',
    fix: 'DROP INDEX CONCURRENTLY IF EXISTS in its own migration marked "-- berth:no-transaction".',
  },
  {
    id: 'concurrently-in-transaction',
    severity: 'error',
    title: 'a CONCURRENTLY operation in a migration that runs in a transaction',
    why: 'CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY cannot run inside a transaction block: berth runs each migration in one, so the migration fails when it is deployed.',
    fix: 'Put the statement in its own migration file whose first line is "-- berth:no-transaction".',
  },
  {
    id: 'drop-column',
    severity: 'error',
    title: 'dropping a column',
    why: 'During a rolling deploy the old version keeps running against the new schema: its queries that name the column fail, and ORMs that select every known column break on every query of the table.',
    fix: `Use ${EXPAND_CONTRACT}. When that is done, keep the DROP and add "-- berth:allow drop-column <which release stopped using it>".`,
  },
  {
    id: 'drop-table',
    severity: 'error',
    title: 'dropping a table',
    why: 'The old version still running during a rolling deploy (and any other service reading the table) fails on every query that touches it, and the data is gone for a rollback.',
    fix: `Use ${EXPAND_CONTRACT} (or rename it aside first and drop it a release later). Then add "-- berth:allow drop-table <reason>".`,
  },
  {
    id: 'rename-column',
    severity: 'error',
    title: 'renaming a column',
    why: 'The rename is instant, and so is the breakage: the old version, still serving traffic during the deploy, reads and writes the old name and fails.',
    fix: 'Expand/contract: add the new column, write to both, backfill, move reads to the new one, stop writing the old one, then drop it in a later migration. Or keep the old name.',
  },
  {
    id: 'rename-table',
    severity: 'error',
    title: 'renaming a table',
    why: 'The old version, still serving traffic during the deploy, queries the old name and fails.',
    fix: 'Expand/contract: create the new table, write to both (or put a view with the old name in front of it), backfill, switch reads, then drop the old one in a later migration.',
  },
  {
    id: 'change-column-type',
    severity: 'error',
    title: "changing a column's type",
    why: 'Most type changes rewrite the table and its indexes under an ACCESS EXCLUSIVE lock (no reads or writes meanwhile), and the old version may not cope with values of the new type.',
    fix: 'Add a column of the new type, write to both, backfill in batches, switch reads, then drop the old column. Changes PostgreSQL does without a rewrite (varchar(n) to text or to a longer varchar, numeric(p,s) to unconstrained numeric) can be kept with "-- berth:allow change-column-type <reason>".',
  },
  {
    id: 'set-not-null',
    severity: 'error',
    title: 'SET NOT NULL on an existing column',
    why: 'SET NOT NULL scans the whole table to check for NULLs while holding an ACCESS EXCLUSIVE lock: no reads or writes until the scan ends.',
    fix: 'ADD CONSTRAINT <name> CHECK (col IS NOT NULL) NOT VALID; then VALIDATE CONSTRAINT <name> (this scans without blocking writes); then SET NOT NULL, which PostgreSQL 12+ proves from the validated constraint without a scan; then DROP CONSTRAINT <name>.',
  },
  {
    id: 'constraint-without-not-valid',
    severity: 'error',
    title: 'adding a FOREIGN KEY or CHECK constraint without NOT VALID',
    why: 'Adding the constraint checks every existing row while holding its lock for the whole scan: ACCESS EXCLUSIVE for a CHECK (no reads or writes), SHARE ROW EXCLUSIVE on both tables for a foreign key (no writes to either).',
    fix: 'ADD CONSTRAINT ... NOT VALID (instant; new rows are checked from then on), then ALTER TABLE ... VALIDATE CONSTRAINT ..., which scans under a lock that lets reads and writes continue.',
  },
  {
    id: 'unique-without-index',
    severity: 'error',
    title: 'adding a UNIQUE or PRIMARY KEY constraint without an index built concurrently',
    why: 'The constraint builds its unique index while holding an ACCESS EXCLUSIVE lock on the table: no reads or writes for the whole build.',
    fix: 'CREATE UNIQUE INDEX CONCURRENTLY <index> ON <table> (...) in a "-- berth:no-transaction" migration, then ALTER TABLE <table> ADD CONSTRAINT <name> UNIQUE USING INDEX <index> (or PRIMARY KEY USING INDEX; its columns must already be NOT NULL).',
  },
  {
    id: 'missing-lock-timeout',
    severity: 'warning',
    title: 'a lock-taking statement without a lock timeout',
    why: 'A DDL statement waiting for its lock behind one long query makes every later query on the table queue behind it: a quick ALTER turns into an outage for as long as the long query runs.',
    fix: 'Add "-- berth:lock-timeout 5s" at the top of the file (or SET lock_timeout = \'5s\' before the first such statement): the statement then fails fast instead of blocking traffic, and the migration can simply be retried.',
  },
  {
    id: 'whole-table-dml-with-ddl',
    severity: 'error',
    title: 'UPDATE or DELETE without WHERE in a migration that also changes the schema',
    why: 'The DDL\'s lock is held until the migration\'s transaction commits, so the table stays locked for as long as the whole-table UPDATE/DELETE runs; the single huge statement also bloats the table and the WAL.',
    fix: 'Change the schema in one migration and backfill in another, in batches (UPDATE ... WHERE id BETWEEN ...), from a "-- berth:no-transaction" migration or a background job.',
  },
  {
    id: 'vacuum-full',
    severity: 'error',
    title: 'VACUUM FULL',
    why: 'VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock: no reads or writes until it ends. (It also cannot run inside a transaction.)',
    fix: 'Let autovacuum (or a plain VACUUM) do its work; to reclaim space online use pg_repack or pg_squeeze, outside migrations.',
  },
  {
    id: 'cluster',
    severity: 'error',
    title: 'CLUSTER',
    why: 'CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock: no reads or writes until it ends.',
    fix: 'Use pg_repack (which can order by an index) outside migrations, or drop the step: PostgreSQL does not keep the order anyway.',
  },
  {
    id: 'lock-table',
    severity: 'error',
    title: 'LOCK TABLE in a mode that blocks writes or reads',
    why: 'An explicit SHARE or stronger lock blocks writes (ACCESS EXCLUSIVE, the default mode, blocks reads too) until the migration commits.',
    fix: 'Remove the LOCK: each DDL statement takes the lock it needs, for as short as possible. If it orders locks to avoid a deadlock, keep it with a lock timeout and "-- berth:allow lock-table <reason>".',
  },
  {
    id: 'enum-value-in-transaction',
    severity: 'warning',
    title: 'ALTER TYPE ... ADD VALUE inside a transaction',
    why: 'Before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run inside a transaction block, so the migration fails; on 12+ the new value cannot be used until the transaction commits.',
    fix: 'Put ALTER TYPE ... ADD VALUE IF NOT EXISTS in its own migration marked "-- berth:no-transaction", before the migrations that use the value.',
  },
  {
    id: 'syntax-error',
    severity: 'error',
    title: 'a statement PostgreSQL cannot parse',
    why: 'The server will reject the statement when the migration runs, and nothing after a parse error can be checked.',
    fix: 'Fix the syntax (berth parses with PostgreSQL 18\'s own parser). A psql meta-command such as \\i or \\set is not SQL and does not run in a migration.',
    meta: true,
  },
  {
    id: 'invalid-directive',
    severity: 'error',
    title: 'a "-- berth:" directive berth would refuse',
    why: '`berth migrate` refuses the whole migrations directory because of it, before applying anything.',
    fix: 'Fix the directive as the message says (known directives: no-transaction, lock-timeout, statement-timeout, allow).',
    meta: true,
  },
  {
    id: 'invalid-file',
    severity: 'error',
    title: 'a file that is not valid UTF-8 text',
    why: '`berth migrate` refuses the migrations directory because of it.',
    fix: 'Save the file as UTF-8 and remove the byte the message points at.',
    meta: true,
  },
  {
    id: 'allow-without-reason',
    severity: 'error',
    title: '"-- berth:allow <rule>" without a reason',
    why: 'A suppression without a reason tells the next reader nothing about why the unsafe statement is safe here; it does not count, so the finding it meant to silence is still reported.',
    fix: 'Write the reason after the rule id, e.g. "-- berth:allow drop-column unused since release 2.3".',
    meta: true,
  },
  {
    id: 'allow-unknown-rule',
    severity: 'error',
    title: '"-- berth:allow" naming a rule that does not exist',
    why: 'A mistyped rule id silences nothing.',
    fix: 'Use one of the rule ids listed in docs/lint-rules.md (or in `berth lint --format json` output).',
    meta: true,
  },
  {
    id: 'allow-unused',
    severity: 'warning',
    title: '"-- berth:allow" that silences nothing',
    why: 'A stale suppression hides the next real finding of that rule in the same place.',
    fix: 'Remove it, or move it directly above the statement it is meant for (or to the top of the file to cover the whole file).',
    meta: true,
  },
];

export const RULES_BY_ID: ReadonlyMap<string, RuleInfo> = new Map(RULES.map((r) => [r.id, r]));

export function ruleInfo(id: RuleId): RuleInfo {
  const info = RULES_BY_ID.get(id);
  if (info === undefined) throw new Error(`unknown lint rule ${id}`);
  return info;
}
