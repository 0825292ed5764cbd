/**
 * The rule registry of `berth lint`: id, default severity, and the generic "why" and "fix" each
 * finding carries unless the check has something more specific to say. docs/lint-rules.md
 * documents every id listed here (a unit test checks it), with the lock the statement takes,
 * what breaks for the release still running, an unsafe and a safe example.
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
  /**
   * The finding still matters on a database where no migration has been applied yet: the
   * statement fails, or the file is refused, wherever it runs. Rules about locks on existing
   * tables, rewrites of existing rows and the release still running cannot matter there, so
   * `migrate` does not report them on a first install.
   */
  readonly onEmptyDatabase: boolean;
  /** Meta rules are about the file or its `berth:allow` comments; an allow cannot silence them. */
  readonly meta?: boolean;
}

export type RuleId =
  | 'not-null-without-default'
  | 'volatile-default'
  | 'index-not-concurrent'
  | 'drop-index-not-concurrent'
  | 'reindex-not-concurrent'
  | 'detach-partition-not-concurrent'
  | 'concurrently-in-transaction'
  | 'cannot-run-in-transaction'
  | 'transaction-control'
  | 'scan-under-lock'
  | 'drop-column'
  | 'drop-table'
  | 'drop-schema'
  | 'drop-database'
  | 'truncate-cascade'
  | 'drop-not-null'
  | 'drop-constraint'
  | 'rename-column'
  | 'rename-table'
  | 'rename-schema'
  | 'rename-enum-value'
  | 'change-column-type'
  | 'json-column'
  | 'set-not-null'
  | 'constraint-without-not-valid'
  | 'unique-without-index'
  | 'primary-key-nullable'
  | 'exclusion-constraint'
  | 'domain-constraint'
  | 'missing-lock-timeout'
  | 'whole-table-dml-with-ddl'
  | 'vacuum-full'
  | 'cluster'
  | 'lock-table'
  | 'enum-value-in-transaction'
  | 'enum-value-order'
  | 'identifier-too-long'
  | 'duplicate-column'
  | 'concurrent-index-corruption'
  | 'outside-tenant-schema'
  | 'syntax-error'
  | 'invalid-directive'
  | 'invalid-file'
  | 'allow-without-reason'
  | 'allow-unknown-rule'
  | 'allow-unused';

const EXPAND_CONTRACT =
  'expand/contract: ship a version of the application that no longer uses it, and only then, in a later migration, remove it';
const NO_TX = '"-- berth:no-transaction"';

export const RULES: readonly RuleInfo[] = [
  {
    id: 'not-null-without-default',
    severity: 'error',
    title: 'adding a NOT NULL column without a default',
    why: 'On a table with rows the ALTER fails ("column contains null values") and the deploy stops; on an empty one it succeeds, and every INSERT from the running old version, which does not know the column, then fails.',
    fix: 'Add the column with a constant DEFAULT (PostgreSQL 11+ stores it without rewriting the table), or add it nullable, backfill in batches, then add a CHECK (col IS NOT NULL) NOT VALID constraint and VALIDATE it in a later migration.',
    onEmptyDatabase: false,
  },
  {
    id: 'volatile-default',
    severity: 'error',
    title: 'a new column that makes PostgreSQL rewrite the table (volatile default, serial, identity, stored generated; any default before PostgreSQL 11)',
    why: 'A constant default is stored once in the catalog (PostgreSQL 11+), but a volatile default (random(), clock_timestamp(), gen_random_uuid(), nextval()), a serial or identity column, or a STORED generated column makes PostgreSQL rewrite the whole table under an ACCESS EXCLUSIVE lock: no reads or writes for as long as the rewrite takes.',
    fix: 'Add the column without a default (or with a constant one), then set the default for new rows with ALTER COLUMN ... SET DEFAULT, and backfill existing rows in batches from a separate no-transaction migration or job.',
    onEmptyDatabase: false,
  },
  {
    id: 'index-not-concurrent',
    severity: 'error',
    title: 'CREATE INDEX without CONCURRENTLY on an existing table',
    why: 'CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits, for minutes on a large table.',
    fix: `CREATE INDEX CONCURRENTLY as the only statement of its own migration (or in one marked ${NO_TX}); use IF NOT EXISTS, and drop an INVALID index left by a failed build before retrying. Indexes on tables created in the same migration are fine as they are.`,
    onEmptyDatabase: false,
  },
  {
    id: 'drop-index-not-concurrent',
    severity: 'warning',
    title: 'DROP INDEX without CONCURRENTLY',
    why: 'DROP INDEX takes an ACCESS EXCLUSIVE lock on the index\'s table; while it waits behind a long query, every later query on the table queues behind it.',
    fix: `DROP INDEX CONCURRENTLY IF EXISTS as the only statement of its own migration (or in one marked ${NO_TX}).`,
    onEmptyDatabase: false,
  },
  {
    id: 'reindex-not-concurrent',
    severity: 'error',
    title: 'REINDEX without CONCURRENTLY',
    why: 'REINDEX blocks writes to the table for the whole rebuild, and takes an ACCESS EXCLUSIVE lock on each index it rebuilds, so reads that would use the index wait too.',
    fix: `REINDEX ... CONCURRENTLY (PostgreSQL 12+) as the only statement of its own migration (or in one marked ${NO_TX}).`,
    onEmptyDatabase: false,
  },
  {
    id: 'detach-partition-not-concurrent',
    severity: 'error',
    title: 'DETACH PARTITION without CONCURRENTLY',
    why: 'DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the partitioned table: no reads or writes of any partition while it waits for its lock and runs.',
    fix: `ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+) as the only statement of its own migration (or in one marked ${NO_TX}).`,
    onEmptyDatabase: false,
  },
  {
    id: 'concurrently-in-transaction',
    severity: 'error',
    title: 'a CONCURRENTLY operation in a migration that runs in a transaction',
    why: 'CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY cannot run inside a transaction block. berth runs a file whose only statement is one of them outside a transaction, but any other file in one: `berth migrate` refuses it before applying anything.',
    fix: `Make the statement the only one of its migration file, or mark the file ${NO_TX} (then each statement commits on its own).`,
    onEmptyDatabase: true,
  },
  {
    id: 'cannot-run-in-transaction',
    severity: 'error',
    title: 'a statement PostgreSQL refuses inside a transaction block (VACUUM, CREATE DATABASE, ALTER SYSTEM...) in a migration that runs in one',
    why: 'VACUUM, CREATE/DROP DATABASE, CREATE/DROP TABLESPACE, ALTER SYSTEM, REINDEX DATABASE/SYSTEM, CLUSTER without a table and a few others cannot run in a transaction block. berth runs a file whose only statement is one of them outside a transaction, but any other file in one: `berth migrate` refuses it before applying anything.',
    fix: `Make the statement the only one of its migration file, or mark the file ${NO_TX}.`,
    onEmptyDatabase: true,
  },
  {
    id: 'transaction-control',
    severity: 'error',
    title: 'BEGIN, COMMIT, ROLLBACK or other transaction control that berth would refuse or that leaves a transaction open',
    why: 'berth runs a migration in its own transaction, together with its history row. A file wrapped in exactly one BEGIN; ... COMMIT; is run as an ordinary transactional migration, but any other transaction control in it (a COMMIT half-way, a second BEGIN, ROLLBACK, PREPARE TRANSACTION) would commit part of the migration without its history row: `berth migrate` refuses such a file before applying anything. In a no-transaction file, a BEGIN without its COMMIT leaves the transaction open, and its changes are lost.',
    fix: `Remove the statements and let berth run the file in one transaction (keeping one wrapping BEGIN; ... COMMIT; is fine); to commit in steps, split the file or mark it ${NO_TX}, where each BEGIN needs its COMMIT.`,
    onEmptyDatabase: true,
  },
  {
    id: 'scan-under-lock',
    severity: 'error',
    title: 'a statement that reads or writes many rows while the migration\'s transaction holds a lock that blocks traffic',
    why: 'A transaction keeps every lock it takes until it commits. After an ALTER TABLE (ACCESS EXCLUSIVE), an ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID (SHARE ROW EXCLUSIVE on both tables) or a CREATE INDEX (SHARE) earlier in the same migration, a VALIDATE CONSTRAINT, UPDATE, DELETE, SELECT over a table or index build runs with that lock still held: reads and/or writes of the locked table wait for the whole scan. This is why NOT VALID followed by VALIDATE CONSTRAINT in one transactional migration gains nothing.',
    fix: `Move the long statement to its own, later migration (for the NOT VALID / VALIDATE pattern: add the constraint NOT VALID in one migration and VALIDATE it in the next), or mark the file ${NO_TX} so that each statement commits, and releases its locks, on its own.`,
    onEmptyDatabase: false,
  },
  {
    id: 'drop-column',
    severity: 'error',
    title: 'dropping a column',
    why: 'During a rolling deploy the old version keeps running against the new schema: its queries that name the column fail, and ORMs that select every known column break on every query of the table.',
    fix: `Use ${EXPAND_CONTRACT}. When that is done, keep the DROP and add "-- berth:allow drop-column <which release stopped using it>".`,
    onEmptyDatabase: false,
  },
  {
    id: 'drop-table',
    severity: 'error',
    title: 'dropping a table',
    why: 'The old version still running during a rolling deploy (and any other service reading the table) fails on every query that touches it, and the data is gone for a rollback.',
    fix: `Use ${EXPAND_CONTRACT} (or rename it aside first and drop it a release later). Then add "-- berth:allow drop-table <reason>".`,
    onEmptyDatabase: false,
  },
  {
    id: 'drop-schema',
    severity: 'error',
    title: 'dropping a schema',
    why: 'Every table, view and function of the schema goes (with CASCADE without a word), and with it every query of the old version that uses them; the data is gone for a rollback.',
    fix: `Use ${EXPAND_CONTRACT}: move what is still used out of the schema first, then drop what is left with "-- berth:allow drop-schema <reason>".`,
    onEmptyDatabase: false,
  },
  {
    id: 'drop-database',
    severity: 'error',
    title: 'DROP DATABASE in a migration',
    why: 'A migration belongs to one database and runs on every environment, production included: DROP DATABASE there destroys another service\'s data (and it cannot run in a transaction).',
    fix: 'Drop databases by hand or from provisioning code, never from a migration.',
    onEmptyDatabase: true,
  },
  {
    id: 'truncate-cascade',
    severity: 'error',
    title: 'TRUNCATE ... CASCADE',
    why: 'CASCADE also empties every table that has a foreign key to the truncated ones, and the tables referencing those, recursively: data the migration never names is gone, and ACCESS EXCLUSIVE locks are taken on all of them.',
    fix: 'Name every table to empty in the TRUNCATE, without CASCADE: PostgreSQL then refuses to truncate a table that other rows still reference.',
    onEmptyDatabase: false,
  },
  {
    id: 'drop-not-null',
    severity: 'error',
    title: 'dropping NOT NULL from a column',
    why: 'Rows with NULL in the column can appear as soon as the migration commits, while the old version (and reports, triggers, PL/pgSQL functions) still assume there are none and may fail on them.',
    fix: 'Keep the column NOT NULL with a marker value, or move to a new nullable column (expand/contract). When every reader copes with NULL, keep the change with "-- berth:allow drop-not-null <reason>".',
    onEmptyDatabase: false,
  },
  {
    id: 'drop-constraint',
    severity: 'warning',
    title: 'dropping a foreign key, unique or primary key constraint',
    why: 'The old version may rely on it: INSERT ... ON CONFLICT on the dropped unique key fails, ON DELETE CASCADE / SET NULL actions stop, and duplicates or orphans can appear while it still assumes they cannot.',
    fix: 'Drop it once no running version depends on it (expand/contract), with "-- berth:allow drop-constraint <reason>".',
    onEmptyDatabase: false,
  },
  {
    id: 'rename-column',
    severity: 'error',
    title: 'renaming a column',
    why: 'The rename is instant, and so is the breakage: the old version, still serving traffic during the deploy, reads and writes the old name and fails.',
    fix: 'Expand/contract: add the new column, write to both, backfill, move reads to the new one, stop writing the old one, then drop it in a later migration. Or keep the old name (an ORM can map a new attribute name to it).',
    onEmptyDatabase: false,
  },
  {
    id: 'rename-table',
    severity: 'error',
    title: 'renaming a table without a view under the old name',
    why: 'The old version, still serving traffic during the deploy, queries the old name and fails.',
    fix: 'In the same migration, create a view with the old name over the renamed table (CREATE VIEW <old> AS SELECT * FROM <new>: a simple view is updatable, so the old version keeps reading and writing through it), and drop the view in a later migration once no running version uses the old name.',
    onEmptyDatabase: false,
  },
  {
    id: 'rename-schema',
    severity: 'error',
    title: 'renaming a schema',
    why: 'Every query of the old version that names the schema (or finds it through search_path) fails the moment the rename commits.',
    fix: 'Expand/contract: create the new schema, move or mirror the objects, switch the application, then drop the old schema in a later migration.',
    onEmptyDatabase: false,
  },
  {
    id: 'rename-enum-value',
    severity: 'error',
    title: 'renaming an enum value',
    why: 'The old version still writes and compares the old value: its INSERTs and UPDATEs fail ("invalid input value for enum"), and its queries silently stop matching.',
    fix: 'Add the new value next to the old one (ALTER TYPE ... ADD VALUE ... AFTER <old>), make the application write the new value and read both, backfill, and stop using the old value.',
    onEmptyDatabase: false,
  },
  {
    id: 'change-column-type',
    severity: 'error',
    title: "changing a column's type",
    why: 'Most type changes rewrite the table and its indexes under an ACCESS EXCLUSIVE lock (no reads or writes meanwhile), and the old version may not cope with values of the new type.',
    fix: 'Add a column of the new type, write to both, backfill in batches, switch reads, then drop the old column. Changes PostgreSQL does without a rewrite (varchar(n) to text or to a longer varchar, numeric(p,s) to unconstrained numeric) can be kept with "-- berth:allow change-column-type <reason>".',
    onEmptyDatabase: false,
  },
  {
    id: 'json-column',
    severity: 'error',
    title: 'adding a json (not jsonb) column to an existing table',
    why: 'json has no equality operator: the old version\'s SELECT DISTINCT, UNION, GROUP BY or DISTINCT ON queries over the table\'s columns fail once the column exists ("could not identify an equality operator for type json").',
    fix: 'Use jsonb, which has equality, indexing and a compact binary form.',
    onEmptyDatabase: false,
  },
  {
    id: 'set-not-null',
    severity: 'error',
    title: 'SET NOT NULL on an existing column',
    why: 'SET NOT NULL scans the whole table to check for NULLs while holding an ACCESS EXCLUSIVE lock: no reads or writes until the scan ends.',
    fix: 'ADD CONSTRAINT <name> CHECK (col IS NOT NULL) NOT VALID in one migration; in a later one, VALIDATE CONSTRAINT <name> (a scan that lets reads and writes go on), then SET NOT NULL, which PostgreSQL 12+ proves from the validated constraint without a scan, then DROP CONSTRAINT <name>.',
    onEmptyDatabase: false,
  },
  {
    id: 'constraint-without-not-valid',
    severity: 'error',
    title: 'adding a FOREIGN KEY or CHECK constraint without NOT VALID',
    why: 'Adding the constraint checks every existing row while holding its lock for the whole scan: ACCESS EXCLUSIVE for a CHECK (no reads or writes), SHARE ROW EXCLUSIVE on both tables for a foreign key (no writes to either).',
    fix: 'ADD CONSTRAINT ... NOT VALID (instant; new rows are checked from then on); then, in a later migration, ALTER TABLE ... VALIDATE CONSTRAINT ..., which scans under a lock that lets reads and writes continue.',
    onEmptyDatabase: false,
  },
  {
    id: 'unique-without-index',
    severity: 'error',
    title: 'adding a UNIQUE or PRIMARY KEY constraint without an index built concurrently',
    why: 'The constraint builds its unique index while holding an ACCESS EXCLUSIVE lock on the table: no reads or writes for the whole build.',
    fix: `CREATE UNIQUE INDEX CONCURRENTLY <index> ON <table> (...) as the only statement of one migration, then, in the next, ALTER TABLE <table> ADD CONSTRAINT <name> UNIQUE USING INDEX <index> (or PRIMARY KEY USING INDEX, once its columns are NOT NULL).`,
    onEmptyDatabase: false,
  },
  {
    id: 'primary-key-nullable',
    severity: 'error',
    title: 'PRIMARY KEY USING INDEX on columns that are not known to be NOT NULL',
    why: 'A primary key\'s columns must be NOT NULL: PostgreSQL sets NOT NULL on each column that lacks it, scanning the whole table under the ACCESS EXCLUSIVE lock the ALTER holds, so the instant attach becomes a long outage.',
    fix: 'Make the columns NOT NULL first, without a scan (CHECK (col IS NOT NULL) NOT VALID, VALIDATE in a later migration, SET NOT NULL), then attach the index as the primary key.',
    onEmptyDatabase: false,
  },
  {
    id: 'exclusion-constraint',
    severity: 'error',
    title: 'adding an exclusion constraint to an existing table',
    why: 'ADD CONSTRAINT ... EXCLUDE builds its index and checks every row under an ACCESS EXCLUSIVE lock: no reads or writes for the whole build. Exclusion constraints cannot be added NOT VALID or from an existing index.',
    fix: 'Define the constraint when the table is created; for an existing table, create a new table with the constraint, copy the rows in batches and switch (expand/contract), or keep the rule in the application (or a trigger).',
    onEmptyDatabase: false,
  },
  {
    id: 'domain-constraint',
    severity: 'error',
    title: 'a CHECK constraint on a domain',
    why: 'ALTER DOMAIN ... ADD CONSTRAINT checks every column of every table that uses the domain while holding locks that block writes to them. A domain created with a CHECK makes every later change of that constraint such a scan, and casting a column to a domain with constraints rewrites its table.',
    fix: 'Put the CHECK on the columns themselves (ADD CONSTRAINT ... CHECK (...) NOT VALID, VALIDATE later). If the domain constraint must change, add it NOT VALID and VALIDATE it in a later migration.',
    onEmptyDatabase: false,
  },
  {
    id: 'missing-lock-timeout',
    severity: 'warning',
    title: 'a lock-taking statement without a lock timeout',
    why: 'A DDL statement waiting for its lock behind one long query makes every later query on the table queue behind it: a quick ALTER turns into an outage for as long as the long query runs.',
    fix: 'Add "-- berth:lock-timeout 5s" at the top of the file (or SET lock_timeout = \'5s\' before the first such statement): the statement then fails fast instead of blocking traffic, and the migration can simply be retried.',
    onEmptyDatabase: false,
  },
  {
    id: 'whole-table-dml-with-ddl',
    severity: 'error',
    title: 'UPDATE or DELETE without WHERE in a migration that also changes the schema',
    why: 'In one transaction with schema changes, a DDL lock taken before the UPDATE/DELETE is held for all of it, and one taken after it is waited for with every row of the table already locked by it: either way the table\'s writes stop until the migration commits. The single huge statement also bloats the table and the WAL.',
    fix: `Change the schema in one migration and backfill in another, in batches (UPDATE ... WHERE id BETWEEN ...), from a ${NO_TX} migration or a background job.`,
    onEmptyDatabase: false,
  },
  {
    id: 'vacuum-full',
    severity: 'error',
    title: 'VACUUM FULL',
    why: 'VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock: no reads or writes until it ends.',
    fix: 'Let autovacuum (or a plain VACUUM) do its work; to reclaim space online use pg_repack or pg_squeeze outside migrations (or, from PostgreSQL 19, REPACK (CONCURRENTLY)).',
    onEmptyDatabase: false,
  },
  {
    id: 'cluster',
    severity: 'error',
    title: 'CLUSTER',
    why: 'CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock: no reads or writes until it ends.',
    fix: 'Use pg_repack (which can order by an index) outside migrations (or, from PostgreSQL 19, REPACK (CONCURRENTLY) ... USING INDEX), or drop the step: PostgreSQL does not keep the order anyway.',
    onEmptyDatabase: false,
  },
  {
    id: 'lock-table',
    severity: 'error',
    title: 'LOCK TABLE in a mode that blocks writes or reads',
    why: 'An explicit SHARE or stronger lock blocks writes (ACCESS EXCLUSIVE, the default mode, blocks reads too) until the migration commits.',
    fix: 'Remove the LOCK: each DDL statement takes the lock it needs, for as short as possible. If it orders locks to avoid a deadlock, keep it with a lock timeout and "-- berth:allow lock-table <reason>".',
    onEmptyDatabase: false,
  },
  {
    id: 'enum-value-in-transaction',
    severity: 'error',
    title: 'ALTER TYPE ... ADD VALUE in a transaction that cannot run it or that uses the new value',
    why: 'Before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run inside a transaction block, so the migration fails. On 12 and later it can, but the new value cannot be used until the transaction commits: a later statement of the same migration that uses it fails with "unsafe use of new value".',
    fix: `Put ALTER TYPE ... ADD VALUE IF NOT EXISTS in a migration of its own (its only statement, or a file marked ${NO_TX}), before the migrations that use the value.`,
    onEmptyDatabase: true,
  },
  {
    id: 'enum-value-order',
    severity: 'warning',
    title: 'ALTER TYPE ... ADD VALUE without BEFORE or AFTER',
    why: 'The new value goes after every existing one, and enum values compare and sort in that order: the old version\'s queries that compare (status < \'approved\') or ORDER BY the enum now treat the new value as the greatest.',
    fix: 'Say where the value belongs: ADD VALUE \'x\' BEFORE \'y\' or AFTER \'y\' (AFTER the current last value when the end is right).',
    onEmptyDatabase: false,
  },
  {
    id: 'identifier-too-long',
    severity: 'warning',
    title: 'an identifier longer than 63 bytes',
    why: 'PostgreSQL silently truncates identifiers to 63 bytes: the table, column, index or constraint gets a different name than the one written, two long names that differ only at the end collide, and code or later migrations that use the full name may not find it.',
    fix: 'Shorten the name to at most 63 bytes (NAMEDATALEN - 1).',
    onEmptyDatabase: false,
  },
  {
    id: 'duplicate-column',
    severity: 'error',
    title: 'a column named twice in one statement',
    why: 'PostgreSQL rejects the statement ("column specified more than once", "multiple assignments to same column"): the migration fails when it is deployed.',
    fix: 'Name each column once.',
    onEmptyDatabase: true,
  },
  {
    id: 'outside-tenant-schema',
    severity: 'error',
    title: 'one object for every tenant, in a file a --schema-per-target fleet runs',
    why: 'Each tenant runs the same file with search_path set to its own schema. A schema-qualified name of what the statement creates, changes or drops, a CREATE SCHEMA, an extension installed without SCHEMA, or a change of search_path reaches one object for all tenants: the first tenant\'s run changes it, the second fails ("already exists") with the first recorded as applied, or, with IF NOT EXISTS, they all silently share it.',
    fix: 'Write the names unqualified: the tenant\'s schema is where they resolve. Create what tenants share (extensions, lookup tables) once, outside the fleet, and reference it by its qualified name; if a shared object is meant, add "-- berth:allow outside-tenant-schema <reason>". Checked only by `berth lint --schema-per-target` and a `--schema-per-target` fleet\'s migrate.',
    onEmptyDatabase: true,
  },
  {
    id: 'concurrent-index-corruption',
    severity: 'error',
    title: 'CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY on PostgreSQL 14.0 to 14.3',
    why: 'PostgreSQL 14.0 to 14.3 can build a concurrent index that silently misses rows written during the build (fixed in 14.4): queries through it return wrong results.',
    fix: 'Upgrade the server to 14.4 or later before building indexes concurrently, then REINDEX the indexes built concurrently on 14.0-14.3.',
    onEmptyDatabase: false,
  },
  {
    id: 'syntax-error',
    severity: 'error',
    title: 'a statement PostgreSQL\'s parser cannot parse',
    why: 'berth lint parses with PostgreSQL 18\'s own parser: a statement it rejects will most likely be rejected by the server too when the migration runs, and nothing after the error in the statement can be checked.',
    fix: 'Fix the syntax. A psql meta-command such as \\i or \\set is not SQL and does not run in a migration.',
    onEmptyDatabase: true,
    meta: true,
  },
  {
    id: 'invalid-directive',
    severity: 'error',
    title: 'a "-- berth:" directive berth would refuse',
    why: '`berth migrate` refuses the whole migrations directory because of it, before applying anything.',
    fix: 'Fix the directive as the message says (known directives: no-transaction, lock-timeout, statement-timeout, allow).',
    onEmptyDatabase: true,
    meta: true,
  },
  {
    id: 'invalid-file',
    severity: 'error',
    title: 'a file that is not valid UTF-8 text',
    why: '`berth migrate` refuses the migrations directory because of it.',
    fix: 'Save the file as UTF-8 and remove the byte the message points at.',
    onEmptyDatabase: true,
    meta: true,
  },
  {
    id: 'allow-without-reason',
    severity: 'error',
    title: '"-- berth:allow <rule>" without a reason',
    why: 'A suppression without a reason tells the next reader nothing about why the unsafe statement is safe here; it does not count, so the finding it meant to silence is still reported.',
    fix: 'Write the reason after the rule id, e.g. "-- berth:allow drop-column unused since release 2.3".',
    onEmptyDatabase: true,
    meta: true,
  },
  {
    id: 'allow-unknown-rule',
    severity: 'error',
    title: '"-- berth:allow" naming a rule that does not exist',
    why: 'A mistyped rule id silences nothing.',
    fix: 'Use one of the rule ids listed in docs/lint-rules.md (or in `berth lint --format json` output).',
    onEmptyDatabase: true,
    meta: true,
  },
  {
    id: 'allow-unused',
    severity: 'warning',
    title: '"-- berth:allow" that silences nothing',
    why: 'A stale suppression hides the next real finding of that rule in the same place.',
    fix: 'Remove it, or move it directly above the statement it is meant for (or to the top of the file to cover the whole file).',
    onEmptyDatabase: true,
    meta: true,
  },
];

export const RULES_BY_ID: ReadonlyMap<string, RuleInfo> = new Map(RULES.map((r) => [r.id, r]));

export function ruleInfo(id: RuleId): RuleInfo {
  const info = RULES_BY_ID.get(id);
  if (info === undefined) throw new Error(`unknown lint rule ${id}`);
  return info;
}
