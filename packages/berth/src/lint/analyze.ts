/**
 * The rules. One pass over a file's parsed statements, in order, keeping what the file itself has
 * created so far (a table created in the same migration is new and empty, nothing of the old
 * version uses it, so indexing, constraining or altering it is fine), how berth will run the
 * file (in one transaction, outside one, or statement by statement) and which locks the running
 * transaction holds at each statement.
 *
 * How a file runs is decided as `berth migrate` decides it (SPEC §2, §4.2): in one transaction,
 * unless it says `-- berth:no-transaction` (then each statement commits on its own, except
 * between its own BEGIN and COMMIT) or its only statement cannot run in a transaction block
 * (then it runs outside one). A file wrapped in exactly one BEGIN; ... COMMIT; is an ordinary
 * transactional file.
 *
 * Pure: the input is the parse result (parse-file.ts), the output raw findings that point at a
 * statement (and a byte offset or ALTER TABLE subcommand inside it); lint-file.ts turns them
 * into file lines and columns and applies `-- berth:allow`.
 */

import type {
  AlterTableCmd, AlterTableStmt, ColumnDef, Constraint, CreateStmt, DropStmt, IndexStmt, Node, RangeVar, RenameStmt,
  SelectStmt, VariableSetStmt,
} from 'libpg-query';
import { baseTypeName, constText, functionCalls, kindOf, relName, stringConstants, stringsOf, typeText } from './ast.js';
import { Catalog, type ConstraintKind } from './catalog.js';
import { outsideTenantSchema } from './tenant-schema.js';
import type { ParsedFile, ParsedStatement } from './parse-file.js';
import type { RuleId } from './rules.js';
import type { Severity } from './types.js';
import { formatPgVersion, type PgVersion } from './version.js';

export interface RawFinding {
  readonly rule: RuleId;
  /** Only when it differs from the rule's default. */
  readonly severity?: Severity;
  /** Index into `ParsedFile.statements`. */
  readonly statement: number;
  /** Where inside the statement: a byte offset into its parse source, or an ALTER TABLE subcommand. */
  readonly byte?: number;
  readonly cmd?: number;
  /** A UTF-16 offset in the file, for findings on text the tree has no location for. */
  readonly offset?: number;
  readonly message: string;
  readonly why?: string;
  readonly fix?: string;
}

export interface AnalyzeOptions {
  /** The file has `-- berth:no-transaction`. */
  readonly noTransaction: boolean;
  /** The file has a non-zero `-- berth:lock-timeout`. */
  readonly lockTimeoutDirective: boolean;
  /** The server the migrations will run on; rules whose truth depends on the version use it. */
  readonly pg: PgVersion;
  /** What earlier files of the same run said about the schema; updated with this file's. */
  readonly catalog?: Catalog;
  /** The file runs once per tenant schema (`--schema-per-target`): rule `outside-tenant-schema`. */
  readonly schemaPerTarget?: boolean;
}

// Volatile functions seen in column defaults. A default calling one of these is evaluated per
// row, which makes ADD COLUMN rewrite the table.
const VOLATILE_FUNCTIONS = new Set([
  'random', 'random_normal', 'clock_timestamp', 'timeofday', 'gen_random_uuid', 'gen_random_bytes', 'uuid_generate_v1',
  'uuid_generate_v1mc', 'uuid_generate_v4', 'uuidv4', 'uuidv7', 'nextval', 'setval', 'txid_current', 'pg_current_xact_id',
]);
// Stable and immutable functions common in defaults: evaluated once for ADD COLUMN, no rewrite.
const NON_VOLATILE_FUNCTIONS = new Set([
  'now', 'statement_timestamp', 'transaction_timestamp', 'current_setting', 'lower', 'upper', 'btrim', 'trim', 'ltrim',
  'rtrim', 'concat', 'concat_ws', 'format', 'replace', 'substring', 'length', 'md5', 'abs', 'round', 'floor', 'ceil',
  'to_jsonb', 'to_json', 'jsonb_build_object', 'jsonb_build_array', 'json_build_object', 'json_build_array',
  'make_interval', 'make_date', 'make_time', 'make_timestamp', 'make_timestamptz', 'to_timestamp', 'to_date',
  'to_char', 'date_trunc', 'timezone', 'array_fill', 'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange',
  'daterange', 'uuid_nil', 'inet', 'text', 'char_length',
]);
const SERIAL_TYPES = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);
// Target types PostgreSQL often reaches without a rewrite (varchar(n) → text or a longer
// varchar; numeric(p,s) → unconstrained numeric). Whether it does depends on the old type, which
// the file may not show, so these only warn.
const OFTEN_BINARY_COMPATIBLE = new Set(['text', 'varchar', 'numeric', 'citext']);

// Lock modes (PostgreSQL's lockdefs.h), weakest first.
const LOCK_MODES = ['', 'ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'];
const SHARE_UPDATE_EXCLUSIVE = 4;
const SHARE = 5;
const SHARE_ROW_EXCLUSIVE = 6;
const ACCESS_EXCLUSIVE = 8;
/** From SHARE up a lock blocks writes; EXCLUSIVE and ACCESS EXCLUSIVE block reads too (for EXCLUSIVE, only SELECT ... FOR UPDATE). */
const blocks = (mode: number): string => (mode === ACCESS_EXCLUSIVE ? 'reads and writes' : 'writes');

// ALTER TABLE subcommands and the lock each takes, when weaker than ACCESS EXCLUSIVE
// (PostgreSQL's AlterTableGetLockLevel).
const ALTER_TABLE_LOCKS: Record<string, number> = {
  AT_ValidateConstraint: SHARE_UPDATE_EXCLUSIVE, AT_SetStatistics: SHARE_UPDATE_EXCLUSIVE, AT_SetOptions: SHARE_UPDATE_EXCLUSIVE,
  AT_ResetOptions: SHARE_UPDATE_EXCLUSIVE, AT_ClusterOn: SHARE_UPDATE_EXCLUSIVE, AT_DropCluster: SHARE_UPDATE_EXCLUSIVE,
  AT_AttachPartition: SHARE_UPDATE_EXCLUSIVE,
  AT_EnableTrig: SHARE_ROW_EXCLUSIVE, AT_EnableAlwaysTrig: SHARE_ROW_EXCLUSIVE, AT_EnableReplicaTrig: SHARE_ROW_EXCLUSIVE,
  AT_EnableTrigAll: SHARE_ROW_EXCLUSIVE, AT_EnableTrigUser: SHARE_ROW_EXCLUSIVE, AT_DisableTrig: SHARE_ROW_EXCLUSIVE,
  AT_DisableTrigAll: SHARE_ROW_EXCLUSIVE, AT_DisableTrigUser: SHARE_ROW_EXCLUSIVE,
};

const NO_TX = '"-- berth:no-transaction"';

/** Tables (and materialized views) created by the file so far, matched with or without schema. */
class Relations {
  readonly #qualified = new Set<string>();
  readonly #bare = new Set<string>();
  readonly #any = new Set<string>();

  add(rv: RangeVar | undefined): void {
    if (rv?.relname === undefined) return;
    this.#any.add(rv.relname);
    if (rv.schemaname) this.#qualified.add(`${rv.schemaname}.${rv.relname}`);
    else this.#bare.add(rv.relname);
  }

  has(rv: RangeVar | undefined): boolean {
    if (rv?.relname === undefined) return false;
    // Temporary tables are the session's own: no other version of the application sees them.
    if (rv.relpersistence === 't') return true;
    if (!rv.schemaname) return this.#any.has(rv.relname);
    return this.#qualified.has(`${rv.schemaname}.${rv.relname}`) || this.#bare.has(rv.relname);
  }
}

/** How berth runs the file (see the file comment). */
type RunMode = 'transaction' | 'autocommit' | 'outside';

interface HeldLock {
  readonly mode: number;
  readonly table: string;
  /** The statement that took it. */
  readonly statement: number;
}

/** A constraint validated in this file (for SET NOT NULL). */
interface Validated {
  readonly table: string;
  /** The column it proves NOT NULL, when known. */
  readonly notNullColumn?: string | undefined;
  /** False for a VALIDATE of a constraint no linted migration defined: its definition is unknown. */
  readonly known: boolean;
}

export function analyze(parsed: ParsedFile, options: AnalyzeOptions): RawFinding[] {
  return new FileAnalysis(parsed, options).run();
}

class FileAnalysis {
  readonly #parsed: ParsedFile;
  readonly #pg: PgVersion;
  readonly #catalog: Catalog;
  readonly #findings: RawFinding[] = [];
  readonly #mode: RunMode;
  /** Statement indices of a wrapping BEGIN and COMMIT, which berth runs as its own transaction. */
  readonly #wrapper: ReadonlySet<number>;

  readonly #created = new Relations();
  readonly #createdIndexes = new Set<string>();
  readonly #createdSchemas = new Set<string>();
  readonly #createdTypes = new Set<string>();
  readonly #addedColumns = new Set<string>(); // `table.column`
  readonly #validated: Validated[] = [];

  /** Inside the file's own BEGIN ... COMMIT (no-transaction files only). */
  #explicit: { statement: number } | undefined;
  /** Counts transactions, so that "the same transaction" can be told. */
  #txId = 0;
  readonly #held = new Map<string, HeldLock>();
  #sessionTimeout: boolean;
  #localTimeout: boolean | undefined;
  #timeoutReported = false;
  #lockingDdl = false;
  readonly #wholeTableDml: { statement: number; verb: string; table: string }[] = [];
  /** scan-under-lock candidates, reported at the end unless the statement has a finding of its own. */
  readonly #underLock: RawFinding[] = [];
  /** ALTER TYPE ... ADD VALUE in the running transaction, for "unsafe use of new value". */
  readonly #newEnumValues: { type: string; value: string; statement: number; txId: number }[] = [];
  /** Table renames in the running transaction, forgiven when a view takes the old name. */
  readonly #renames: { from: RangeVar; to: string; txId: number; finding: RawFinding }[] = [];
  /** Views dropped in the running transaction: renaming a table to one's name ends a view-based rename. */
  readonly #droppedViews = new Set<string>();

  readonly #schemaPerTarget: boolean;
  // Per statement.
  #index = 0;
  #ps!: ParsedStatement;

  constructor(parsed: ParsedFile, options: AnalyzeOptions) {
    this.#parsed = parsed;
    this.#pg = options.pg;
    this.#catalog = options.catalog ?? new Catalog();
    this.#sessionTimeout = options.lockTimeoutDirective;
    this.#mode = runMode(parsed, options.noTransaction);
    this.#wrapper = this.#mode === 'transaction' ? wrapperOf(parsed) : new Set();
    this.#schemaPerTarget = options.schemaPerTarget === true;
  }

  run(): RawFinding[] {
    const statements = this.#parsed.statements;
    if (this.#mode === 'transaction') this.#txId = 1;
    for (let i = 0; i < statements.length; i++) {
      const ps = statements[i]!;
      this.#index = i;
      this.#ps = ps;
      if (this.#mode === 'autocommit' && this.#explicit === undefined) this.#txId++;
      if (ps.ast !== undefined) this.#statement(ps.ast);
      // Outside a transaction block each statement commits on its own, and its locks go with it.
      if (!this.#inTransaction()) this.#endTransaction();
    }
    if (this.#explicit !== undefined) {
      this.#report({
        rule: 'transaction-control', statement: this.#explicit.statement,
        message: 'BEGIN without a COMMIT: the transaction is still open when the migration ends, and what it changed is lost when the session closes',
      });
    }
    this.#finish();
    return this.#findings;
  }

  #inTransaction(): boolean {
    return this.#mode === 'transaction' || this.#explicit !== undefined;
  }

  #endTransaction(): void {
    this.#held.clear();
    this.#localTimeout = undefined;
    this.#newEnumValues.length = 0;
    this.#renames.length = 0;
    this.#droppedViews.clear();
  }

  #report(f: RawFinding): void {
    this.#findings.push(f);
  }

  /** The current statement, as the place of a finding. */
  #here(): { statement: number; byte: number } {
    return { statement: this.#index, byte: this.#ps.byteOffset };
  }

  /** True for tables the file created: new, empty, invisible to other sessions until commit. */
  #isNew(rv: RangeVar | undefined): boolean {
    return this.#created.has(rv);
  }

  /**
   * Called for every lock a statement takes on an existing table: records it for the rest of
   * the transaction and, for locks that block reads or writes, asks for a lock timeout.
   */
  #take(rv: RangeVar | undefined, mode: number, what: string): void {
    if (rv === undefined || this.#isNew(rv)) return;
    if (mode >= SHARE) {
      this.#lockingDdl = true;
      this.#needTimeout(what);
    }
    if (!this.#inTransaction()) return;
    const table = relName(rv);
    const held = this.#held.get(table);
    if (held === undefined || held.mode < mode) this.#held.set(table, { mode, table, statement: this.#index });
  }

  #needTimeout(what: string): void {
    if (this.#timeoutReported || (this.#localTimeout ?? this.#sessionTimeout)) return;
    this.#timeoutReported = true;
    this.#report({
      rule: 'missing-lock-timeout', ...this.#here(),
      message: `${what}, and no lock timeout is set (no "-- berth:lock-timeout" at the top of the file, no SET lock_timeout before it)`,
    });
  }

  /**
   * A statement that reads or writes many rows (or rebuilds something): when an earlier
   * statement of the same transaction holds a lock that blocks traffic, that lock stays held
   * for all of it.
   */
  #longWork(what: string, target?: RangeVar): void {
    if (!this.#inTransaction()) return;
    // The lock on the statement's own table says most; else the strongest one held.
    const own = target === undefined ? undefined : this.#held.get(relName(target));
    let worst: HeldLock | undefined = own !== undefined && own.statement !== this.#index && own.mode >= SHARE ? own : undefined;
    for (const held of worst ? [] : this.#held.values()) {
      if (held.statement === this.#index || held.mode < SHARE) continue;
      if (worst === undefined || held.mode > worst.mode) worst = held;
    }
    if (worst === undefined) return;
    const others = [...this.#held.values()].filter((h) => h !== worst && h.statement !== this.#index && h.mode >= SHARE).map((h) => h.table);
    const taker = this.#parsed.statements[worst.statement]?.statement;
    this.#underLock.push({
      rule: 'scan-under-lock', ...this.#here(),
      message: `${what} runs while this migration's transaction holds ${LOCK_MODES[worst.mode]} on ${worst.table}` +
        `${others.length ? ` (and locks on ${others.join(', ')})` : ''}, taken at line ${taker?.line ?? '?'} by ${excerpt(taker?.sql ?? '')}: ` +
        `${blocks(worst.mode)} of ${worst.table} wait until the migration commits`,
    });
  }

  #statement(node: Node): void {
    const kind = kindOf(node);
    const body = (node as Record<string, unknown>)[kind];
    this.#transactionRules(kind, body);
    this.#usesNewEnumValue(node);
    this.#namesDefined(kind, body);
    const outside = this.#schemaPerTarget ? outsideTenantSchema(kind, body) : undefined;
    if (outside) this.#report({ rule: 'outside-tenant-schema', ...this.#here(), message: outside });
    switch (kind) {
      case 'TransactionStmt': return this.#transactionStmt(body as { kind?: string; chain?: boolean });
      case 'CreateStmt': return this.#createTable(body as CreateStmt);
      case 'CreateTableAsStmt': return this.#createTableAs(body as { query?: Node; into?: { rel?: RangeVar; skipData?: boolean }; objtype?: string });
      case 'IndexStmt': return this.#createIndex(body as IndexStmt);
      case 'DropStmt': return this.#drop(body as DropStmt);
      case 'RenameStmt': return this.#rename(body as RenameStmt);
      case 'AlterTableStmt': return this.#alterTable(body as AlterTableStmt);
      case 'AlterEnumStmt': return this.#alterEnum(body as { typeName?: Node[]; newVal?: string; oldVal?: string; newValNeighbor?: string; newValIsAfter?: boolean });
      case 'CreateEnumStmt': return this.#createEnum(body as { typeName?: Node[]; vals?: Node[] });
      case 'CreateDomainStmt': return this.#createDomain(body as { domainname?: Node[]; constraints?: Node[] });
      case 'AlterDomainStmt': return this.#alterDomain(body as { subtype?: string; typeName?: Node[]; def?: Node; name?: string });
      case 'CreateSchemaStmt': {
        const name = (body as { schemaname?: string }).schemaname;
        if (name) this.#createdSchemas.add(name);
        return;
      }
      case 'CompositeTypeStmt':
      case 'CreateRangeStmt': {
        const b = body as { typevar?: RangeVar; typeName?: Node[] };
        const name = b.typevar?.relname ?? stringsOf(b.typeName).at(-1);
        if (name) this.#createdTypes.add(name);
        return;
      }
      case 'DropdbStmt': {
        const name = (body as { dbname?: string }).dbname ?? '?';
        this.#report({ rule: 'drop-database', ...this.#here(), message: `DROP DATABASE ${name} in a migration, which runs against production too` });
        return;
      }
      case 'ViewStmt': return this.#createView(body as { view?: RangeVar; query?: Node; aliases?: Node[] });
      case 'VacuumStmt': return this.#vacuum(body as { options?: Node[]; rels?: Node[]; is_vacuumcmd?: boolean });
      case 'ClusterStmt': return this.#cluster(body as { relation?: RangeVar });
      case 'LockStmt': return this.#lockTable(body as { relations?: Node[]; mode?: number });
      case 'TruncateStmt': return this.#truncate(body as { relations?: Node[]; behavior?: string });
      case 'CreateTrigStmt': {
        const rv = (body as { relation?: RangeVar }).relation;
        this.#take(rv, SHARE_ROW_EXCLUSIVE, `CREATE TRIGGER locks ${relName(rv)} against writes`);
        return;
      }
      case 'CreatePolicyStmt':
      case 'AlterPolicyStmt': {
        const rv = (body as { table?: RangeVar }).table;
        this.#take(rv, ACCESS_EXCLUSIVE, `${kind === 'CreatePolicyStmt' ? 'CREATE' : 'ALTER'} POLICY locks ${relName(rv)} against reads and writes`);
        return;
      }
      case 'ReindexStmt': return this.#reindex(body as { kind?: string; params?: Node[]; relation?: RangeVar; name?: string });
      case 'RefreshMatViewStmt': {
        const stmt = body as { concurrent?: boolean; relation?: RangeVar };
        if (this.#isNew(stmt.relation)) return;
        this.#longWork(`REFRESH MATERIALIZED VIEW ${relName(stmt.relation)}`, stmt.relation);
        // CONCURRENTLY takes EXCLUSIVE, which lets SELECTs go on; nothing else writes a
        // materialized view, so for traffic it is as weak as SHARE UPDATE EXCLUSIVE.
        this.#take(stmt.relation, stmt.concurrent ? SHARE_UPDATE_EXCLUSIVE : ACCESS_EXCLUSIVE, `REFRESH MATERIALIZED VIEW ${relName(stmt.relation)} locks it against reads`);
        return;
      }
      case 'UpdateStmt':
      case 'DeleteStmt': return this.#dml(kind === 'UpdateStmt' ? 'UPDATE' : 'DELETE', body as { relation?: RangeVar; whereClause?: Node; targetList?: Node[] });
      case 'InsertStmt': {
        const stmt = body as { relation?: RangeVar; cols?: Node[]; selectStmt?: Node };
        this.#duplicateNames((stmt.cols ?? []).map((c) => ('ResTarget' in c && !c.ResTarget.indirection?.length ? c.ResTarget.name : undefined)), `INSERT INTO ${relName(stmt.relation)}`);
        if (!this.#isNew(stmt.relation) && readsTables(stmt.selectStmt)) this.#longWork(`INSERT INTO ${relName(stmt.relation)} ... SELECT`, stmt.relation);
        return;
      }
      case 'MergeStmt': {
        const rv = (body as { relation?: RangeVar }).relation;
        if (!this.#isNew(rv)) this.#longWork(`MERGE INTO ${relName(rv)}`, rv);
        return;
      }
      case 'CopyStmt': {
        const rv = (body as { relation?: RangeVar }).relation;
        if (!this.#isNew(rv)) this.#longWork(`COPY ${relName(rv)}`, rv);
        return;
      }
      case 'SelectStmt': return this.#select(body as SelectStmt);
      case 'VariableSetStmt': return this.#set(body as VariableSetStmt);
      default:
        return;
    }
  }

  // ---- how the file runs ------------------------------------------------------------------

  /** Transaction control, and statements that cannot run in a transaction block. */
  #transactionRules(kind: string, body: unknown): void {
    const outside = outsideTransactionOnly(kind, body);
    if (outside === undefined || !this.#inTransaction()) return;
    const concurrent = /CONCURRENTLY/.test(outside);
    const why = this.#explicit !== undefined
      ? `it is between the file's own BEGIN (line ${this.#parsed.statements[this.#explicit.statement]?.statement.line ?? '?'}) and COMMIT`
      : this.#wrapper.size > 0
        ? 'the file\'s BEGIN; ... COMMIT; makes it an ordinary transactional migration'
        : `berth runs this file in a transaction: it has ${this.#parsed.statements.length} statements and no ${NO_TX}`;
    this.#report({
      rule: concurrent ? 'concurrently-in-transaction' : 'cannot-run-in-transaction', ...this.#here(),
      message: `${outside} cannot run inside a transaction block, and ${why}`,
      ...(this.#wrapper.size > 0 ? { fix: `Remove the BEGIN and COMMIT: a file whose only statement is ${outside} runs outside a transaction.` } : {}),
    });
  }

  #transactionStmt(stmt: { kind?: string; chain?: boolean }): void {
    if (this.#wrapper.has(this.#index)) return;
    const kind = stmt.kind ?? '';
    const word = TRANSACTION_WORDS[kind] ?? kind;
    if (kind === 'TRANS_STMT_SAVEPOINT' || kind === 'TRANS_STMT_RELEASE' || kind === 'TRANS_STMT_ROLLBACK_TO') {
      if (!this.#inTransaction()) {
        this.#report({ rule: 'transaction-control', ...this.#here(), message: `${word} outside a transaction block fails ("can only be used in transaction blocks")` });
      }
      return;
    }
    if (this.#mode === 'transaction') {
      this.#report({
        rule: 'transaction-control', ...this.#here(),
        message: `${word} in a migration berth runs in a transaction: \`berth migrate\` refuses the file (only one BEGIN; ... COMMIT; around the whole file is accepted)`,
      });
      return;
    }
    // A no-transaction file manages its own transactions.
    const begins = kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START';
    const ends = kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK';
    if (begins) {
      if (this.#explicit !== undefined) {
        this.#report({ rule: 'transaction-control', ...this.#here(), message: `${word} inside a transaction block that is already open: PostgreSQL ignores it (a warning), and the next COMMIT commits both` });
        return;
      }
      this.#explicit = { statement: this.#index };
      this.#txId++;
      return;
    }
    if (ends) {
      if (this.#explicit === undefined) {
        this.#report({ rule: 'transaction-control', severity: 'warning', ...this.#here(), message: `${word} without a BEGIN: there is no transaction to end (PostgreSQL warns and does nothing)` });
        return;
      }
      this.#explicit = undefined;
      if (stmt.chain) {
        this.#report({ rule: 'transaction-control', ...this.#here(), message: `${word} AND CHAIN opens a new transaction that nothing commits` });
      }
      return;
    }
    this.#report({ rule: 'transaction-control', ...this.#here(), message: `${word} in a migration: prepared transactions outlive the session and hold their locks until someone commits or rolls them back` });
  }

  // ---- tables -----------------------------------------------------------------------------

  #createTable(stmt: CreateStmt): void {
    this.#created.add(stmt.relation);
    const table = stmt.relation?.relname ?? '';
    const names: (string | undefined)[] = [];
    const primary = new Set<string>();
    for (const element of stmt.tableElts ?? []) {
      if ('Constraint' in element && element.Constraint.contype === 'CONSTR_PRIMARY') for (const k of stringsOf(element.Constraint.keys)) primary.add(k);
    }
    for (const element of stmt.tableElts ?? []) {
      if ('ColumnDef' in element) {
        const col = element.ColumnDef;
        names.push(col.colname);
        const constraints = constraintsOf(col);
        const notNull = col.is_not_null === true || primary.has(col.colname ?? '') ||
          constraints.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY' || c.contype === 'CONSTR_IDENTITY') ||
          SERIAL_TYPES.has(baseTypeName(col.typeName));
        if (col.colname) this.#catalog.setColumn(table, col.colname, notNull);
        for (const c of constraints) this.#rememberConstraint(table, c, col.colname);
      } else if ('Constraint' in element) {
        this.#rememberConstraint(table, element.Constraint);
      }
    }
    this.#duplicateNames(names, `CREATE TABLE ${relName(stmt.relation)}`);
    const referenced = foreignKeyTargets(stmt).filter((rv) => !this.#isNew(rv));
    const parent = stmt.partbound ? (stmt.inhRelations ?? []).flatMap((r) => ('RangeVar' in r ? [r.RangeVar] : []))[0] : undefined;
    if (parent !== undefined && !this.#isNew(parent)) {
      // Unlike ATTACH PARTITION (SHARE UPDATE EXCLUSIVE), PARTITION OF locks the parent fully.
      this.#take(parent, ACCESS_EXCLUSIVE, `CREATE TABLE ${relName(stmt.relation)} PARTITION OF ${relName(parent)} locks ${relName(parent)} against reads and writes`);
    }
    for (const rv of referenced) {
      this.#take(rv, SHARE_ROW_EXCLUSIVE, `CREATE TABLE ${relName(stmt.relation)} adds a foreign key, which locks the referenced table ${relName(rv)} against writes`);
    }
  }

  #createTableAs(stmt: { query?: Node; into?: { rel?: RangeVar; skipData?: boolean }; objtype?: string }): void {
    if (!stmt.into?.skipData && readsTables(stmt.query)) {
      this.#longWork(`${stmt.objtype === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE'} ${relName(stmt.into?.rel)} AS SELECT`);
    }
    this.#created.add(stmt.into?.rel);
  }

  #createView(stmt: { view?: RangeVar; query?: Node; aliases?: Node[] }): void {
    this.#duplicateNames(stringsOf(stmt.aliases), `CREATE VIEW ${relName(stmt.view)}`);
    // A view with the old name over a table renamed in the same transaction keeps the old
    // version working: the accepted first step of renaming a table.
    const view = stmt.view;
    const select = stmt.query && 'SelectStmt' in stmt.query ? stmt.query.SelectStmt : undefined;
    const from = select?.fromClause?.length === 1 && select.fromClause[0] && 'RangeVar' in select.fromClause[0] ? select.fromClause[0].RangeVar : undefined;
    if (view === undefined || from === undefined) return;
    for (let i = this.#renames.length - 1; i >= 0; i--) {
      const r = this.#renames[i]!;
      if (r.txId !== this.#txId || r.from.relname !== view.relname || (r.from.schemaname ?? '') !== (view.schemaname ?? r.from.schemaname ?? '')) continue;
      if (from.relname !== r.to) continue;
      const at = this.#findings.indexOf(r.finding);
      if (at >= 0) this.#findings.splice(at, 1);
      this.#renames.splice(i, 1);
    }
  }

  #createIndex(stmt: IndexStmt): void {
    const table = relName(stmt.relation);
    const name = stmt.idxname ? `index ${stmt.idxname}` : 'an index';
    if (stmt.idxname) {
      this.#createdIndexes.add(stmt.idxname);
      this.#catalog.addIndex(stmt.idxname, {
        table: stmt.relation?.relname ?? '',
        columns: (stmt.indexParams ?? []).map((p) => ('IndexElem' in p ? p.IndexElem.name : undefined)),
      });
    }
    if (stmt.concurrent) {
      this.#corruptionRisk(`CREATE INDEX CONCURRENTLY (${name} on ${table})`);
      return;
    }
    if (this.#isNew(stmt.relation)) return;
    // `CREATE INDEX ... ON ONLY parent` creates an invalid index on a partitioned table's
    // parent alone, instantly: the documented first step of indexing partitions one by one.
    // (`inh` is omitted when false, like every protobuf default.)
    if (stmt.relation?.inh !== true) return;
    this.#longWork(`CREATE INDEX (${name} on ${table})`, stmt.relation);
    this.#take(stmt.relation, SHARE, `CREATE INDEX (${name} on ${table}) locks ${table} against writes`);
    this.#report({
      rule: 'index-not-concurrent', ...this.#here(),
      message: `CREATE ${stmt.unique ? 'UNIQUE ' : ''}INDEX builds ${name} on the existing table ${table} without CONCURRENTLY`,
      fix: `CREATE ${stmt.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY IF NOT EXISTS ${stmt.idxname ?? '<name>'} ON ${table} (...) as the only statement of its own migration (or in one whose first line is ${NO_TX}).`,
    });
  }

  #drop(stmt: DropStmt): void {
    const objects = (stmt.objects ?? []).map((o) => ('List' in o ? stringsOf(o.List.items) : 'String' in o ? [o.String.sval ?? ''] : []));
    switch (stmt.removeType) {
      case 'OBJECT_INDEX': {
        if (stmt.concurrent) return;
        for (const parts of objects) {
          const name = parts.at(-1) ?? '';
          const known = this.#catalog.index(name);
          this.#catalog.dropIndex(name);
          if (this.#createdIndexes.has(name)) continue;
          const table: RangeVar | undefined = known ? { relname: known.table } : undefined;
          if (table !== undefined && this.#isNew(table)) continue;
          this.#take(table ?? { relname: `the table of ${parts.join('.')}` }, ACCESS_EXCLUSIVE, `DROP INDEX ${parts.join('.')} locks its table against reads and writes`);
          this.#report({
            rule: 'drop-index-not-concurrent', ...this.#here(),
            message: `DROP INDEX ${parts.join('.')} without CONCURRENTLY`,
            fix: `DROP INDEX CONCURRENTLY IF EXISTS ${parts.join('.')} as the only statement of its own migration (or in one whose first line is ${NO_TX}).`,
          });
        }
        return;
      }
      case 'OBJECT_TABLE': {
        for (const parts of objects) {
          const rv = rangeVarOf(parts);
          this.#catalog.dropTable(rv.relname ?? '');
          if (this.#isNew(rv)) continue;
          this.#take(rv, ACCESS_EXCLUSIVE, `DROP TABLE ${parts.join('.')} locks it against reads and writes`);
          this.#report({ rule: 'drop-table', ...this.#here(), message: `DROP TABLE ${parts.join('.')} removes a table the running old version may still use` });
        }
        return;
      }
      case 'OBJECT_SCHEMA': {
        for (const parts of objects) {
          const name = parts.join('.');
          if (this.#createdSchemas.has(name)) continue;
          this.#report({
            rule: 'drop-schema', ...this.#here(),
            message: `DROP SCHEMA ${name}${stmt.behavior === 'DROP_CASCADE' ? ' CASCADE removes every object in it' : ' removes a schema'} the running old version may still use`,
          });
        }
        return;
      }
      case 'OBJECT_VIEW':
        if (this.#inTransaction()) for (const parts of objects) this.#droppedViews.add(parts.at(-1) ?? '');
        return;
      case 'OBJECT_TRIGGER': {
        const table = (objects[0] ?? []).slice(0, -1);
        if (table.length > 0) this.#take(rangeVarOf(table), ACCESS_EXCLUSIVE, `DROP TRIGGER locks ${table.join('.')} against reads and writes`);
        return;
      }
      default:
        return;
    }
  }

  #rename(stmt: RenameStmt): void {
    const table = relName(stmt.relation);
    switch (stmt.renameType) {
      case 'OBJECT_TABLE': {
        this.#catalog.renameTable(stmt.relation?.relname ?? '', stmt.newname ?? '');
        if (this.#isNew(stmt.relation)) {
          this.#created.add({ ...stmt.relation, relname: stmt.newname ?? '' });
          return;
        }
        this.#take(stmt.relation, ACCESS_EXCLUSIVE, `ALTER TABLE ${table} RENAME locks it against reads and writes`);
        // The last step of renaming behind a view: the view with the new name, which the new
        // release has been using, is dropped and the table takes its name in one transaction.
        if (this.#droppedViews.has(stmt.newname ?? '')) return;
        const finding: RawFinding = {
          rule: 'rename-table', ...this.#here(),
          message: `renames table ${table} to ${stmt.newname ?? '?'} while the running old version still uses the old name, and no view takes the old name in the same transaction`,
          fix: `In the same migration, after the rename: CREATE VIEW ${table} AS SELECT * FROM ${stmt.relation?.schemaname ? `${stmt.relation.schemaname}.` : ''}${stmt.newname ?? '<new>'}; then drop the view in a later migration, once no running version uses ${table}.`,
        };
        this.#report(finding);
        if (this.#inTransaction() && stmt.relation) this.#renames.push({ from: stmt.relation, to: stmt.newname ?? '', txId: this.#txId, finding });
        return;
      }
      case 'OBJECT_COLUMN': {
        if (stmt.relationType !== 'OBJECT_TABLE') return;
        this.#catalog.renameColumn(stmt.relation?.relname ?? '', stmt.subname ?? '', stmt.newname ?? '');
        if (this.#isNew(stmt.relation) || this.#addedColumns.has(`${stmt.relation?.relname}.${stmt.subname}`)) return;
        this.#take(stmt.relation, ACCESS_EXCLUSIVE, `ALTER TABLE ${table} RENAME COLUMN locks it against reads and writes`);
        this.#report({ rule: 'rename-column', ...this.#here(), message: `renames column ${stmt.subname ?? '?'} of ${table} to ${stmt.newname ?? '?'} while the running old version still uses the old name` });
        return;
      }
      case 'OBJECT_SCHEMA': {
        if (this.#createdSchemas.has(stmt.subname ?? '')) return;
        this.#report({ rule: 'rename-schema', ...this.#here(), message: `renames schema ${stmt.subname ?? '?'} to ${stmt.newname ?? '?'} while the running old version still uses the old name` });
        return;
      }
      case 'OBJECT_TABCONSTRAINT':
        this.#take(stmt.relation, ACCESS_EXCLUSIVE, `ALTER TABLE ${table} RENAME CONSTRAINT locks it against reads and writes`);
        return;
      case 'OBJECT_INDEX':
      case 'OBJECT_SEQUENCE':
      case 'OBJECT_VIEW':
      case 'OBJECT_MATVIEW':
        this.#take(stmt.relation, ACCESS_EXCLUSIVE, `ALTER ${stmt.renameType.slice(7).replace('MATVIEW', 'MATERIALIZED VIEW')} ${table} RENAME locks it against reads and writes`);
        return;
      default:
        return;
    }
  }

  #alterTable(stmt: AlterTableStmt): void {
    if (stmt.objtype !== 'OBJECT_TABLE') return;
    const cmds = (stmt.cmds ?? []).flatMap((c) => ('AlterTableCmd' in c ? [c.AlterTableCmd] : []));
    const rv = stmt.relation;
    const isNew = this.#isNew(rv);
    const table = relName(rv);
    const relname = rv?.relname ?? '';

    // The lock the statement takes is the strongest of its subcommands'.
    let mode = 0;
    const referenced: RangeVar[] = [];
    for (const cmd of cmds) {
      let m = ALTER_TABLE_LOCKS[cmd.subtype ?? ''] ?? ACCESS_EXCLUSIVE;
      const c = constraintOf(cmd);
      if (cmd.subtype === 'AT_AddConstraint' && c?.contype === 'CONSTR_FOREIGN') {
        m = SHARE_ROW_EXCLUSIVE;
        if (c.pktable) referenced.push(c.pktable);
      }
      if (isConcurrentDetach(cmd)) m = SHARE_UPDATE_EXCLUSIVE;
      mode = Math.max(mode, m);
    }

    if (!isNew) {
      // One ALTER TABLE takes the strongest lock of its subcommands before it starts: a VALIDATE
      // beside an ACCESS EXCLUSIVE subcommand scans under that lock.
      const validate = cmds.find((c) => c.subtype === 'AT_ValidateConstraint');
      const strong = cmds.find((c) => (ALTER_TABLE_LOCKS[c.subtype ?? ''] ?? ACCESS_EXCLUSIVE) >= SHARE);
      if (validate !== undefined && strong !== undefined && !this.#wholeStatementFlagged(cmds)) {
        this.#underLock.push({
          rule: 'scan-under-lock', ...this.#here(),
          message: `ALTER TABLE ${table} VALIDATE CONSTRAINT ${validate.name ?? ''} scans ${table} while the same statement's other subcommands hold ${LOCK_MODES[mode]} on it: ${blocks(mode)} wait for the whole validation`,
          fix: `Validate the constraint in an ALTER TABLE of its own, in a later migration (or after a COMMIT in a ${NO_TX} file).`,
        });
      }
      const long = cmds.map((cmd) => longSubcommand(cmd)).find((x) => x !== undefined);
      if (long !== undefined) this.#longWork(`ALTER TABLE ${table} ${long}`, rv);
    }

    const added = new Set<string>();
    cmds.forEach((cmd, k) => {
      const at = { statement: this.#index, cmd: k, byte: this.#ps.byteOffset };
      // Check first, then record: a constraint must not prove its own SET NOT NULL safe.
      if (!isNew) {
        for (const f of this.#alterTableCommand(cmd, table, relname)) this.#report({ ...f, ...at });
      }
      if (cmd.subtype === 'AT_AddColumn') {
        const col = cmd.def && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
        if (col?.colname) {
          if (added.has(col.colname)) this.#report({ rule: 'duplicate-column', ...at, message: `ALTER TABLE ${table} adds column ${col.colname} twice` });
          added.add(col.colname);
          this.#addedColumns.add(`${relname}.${col.colname}`);
          const constraints = constraintsOf(col);
          this.#catalog.setColumn(relname, col.colname, constraints.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY' || c.contype === 'CONSTR_IDENTITY') || SERIAL_TYPES.has(baseTypeName(col.typeName)));
          for (const c of constraints) this.#rememberConstraint(relname, c, col.colname);
        }
      }
      this.#recordSubcommand(cmd, relname);
    });

    if (!isNew && mode > 0) {
      this.#take(rv, mode, `ALTER TABLE ${table} locks it against ${mode >= SHARE ? blocks(mode) : 'other schema changes'}`);
      for (const pk of referenced) this.#take(pk, SHARE_ROW_EXCLUSIVE, `ALTER TABLE ${table} adds a foreign key, which locks ${relName(pk)} against writes`);
    }
  }

  /** True when a subcommand of the statement gets a finding of its own for its lock anyway. */
  #wholeStatementFlagged(cmds: readonly AlterTableCmd[]): boolean {
    return cmds.some((c) => c.subtype === 'AT_DropColumn' || c.subtype === 'AT_AlterColumnType');
  }

  #recordSubcommand(cmd: AlterTableCmd, relname: string): void {
    const c = constraintOf(cmd);
    switch (cmd.subtype) {
      case 'AT_AddConstraint':
        if (c) this.#rememberConstraint(relname, c);
        return;
      case 'AT_ValidateConstraint': {
        if (!cmd.name) return;
        const known = this.#catalog.constraint(cmd.name);
        this.#validated.push({ table: relname, notNullColumn: known?.notNullColumn, known: known !== undefined });
        this.#catalog.validateConstraint(cmd.name);
        return;
      }
      case 'AT_DropConstraint':
        if (cmd.name) this.#catalog.dropConstraint(cmd.name);
        return;
      case 'AT_SetNotNull':
        if (cmd.name) this.#catalog.changeNotNull(relname, cmd.name, true);
        return;
      case 'AT_DropNotNull':
        if (cmd.name) this.#catalog.changeNotNull(relname, cmd.name, false);
        return;
      case 'AT_DropColumn':
        if (cmd.name) this.#catalog.dropColumn(relname, cmd.name);
        return;
      default:
        return;
    }
  }

  #alterTableCommand(cmd: AlterTableCmd, table: string, relname: string): Omit<RawFinding, 'statement' | 'byte' | 'cmd'>[] {
    const out: Omit<RawFinding, 'statement' | 'byte' | 'cmd'>[] = [];
    const pg = this.#pg;
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        if (!cmd.def || !('ColumnDef' in cmd.def)) break;
        out.push(...this.#addColumn(cmd.def.ColumnDef, table));
        break;
      }
      case 'AT_DropColumn': {
        if (this.#addedColumns.has(`${relname}.${cmd.name}`)) break;
        out.push({ rule: 'drop-column', message: `drops column ${cmd.name ?? '?'} of ${table} while the running old version may still read or write it` });
        break;
      }
      case 'AT_AlterColumnType': {
        const def = cmd.def && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
        const target = typeText(def?.typeName);
        const using = def?.raw_default !== undefined;
        const base = baseTypeName(def?.typeName);
        const often = !using && !def?.typeName?.arrayBounds?.length &&
          (OFTEN_BINARY_COMPATIBLE.has(base) && (base !== 'numeric' || !def?.typeName?.typmods?.length));
        out.push({
          rule: 'change-column-type',
          ...(often ? { severity: 'warning' as const } : {}),
          message: `changes the type of column ${cmd.name ?? '?'} of ${table} to ${target}${using ? ' with USING, which rewrites the table' : ''}` +
            (often ? ` (no rewrite only if the old type is binary-compatible, e.g. varchar(n) to ${target})` : ''),
        });
        if (base === 'json') out.push(jsonColumn(cmd.name ?? '?', table, 'changes'));
        break;
      }
      case 'AT_SetNotNull': {
        const column = cmd.name ?? '?';
        if (this.#provenNotNull(relname, column)) break;
        out.push({
          rule: 'set-not-null',
          message: `SET NOT NULL on column ${column} of the existing table ${table} scans it under an ACCESS EXCLUSIVE lock` +
            (pg.num < 120000 ? ` (on ${formatPgVersion(pg)} a validated CHECK constraint does not spare the scan: that needs PostgreSQL 12)` : ''),
          fix: setNotNullFix(table, relname, column, pg),
        });
        break;
      }
      case 'AT_DropNotNull': {
        if (this.#addedColumns.has(`${relname}.${cmd.name}`)) break;
        out.push({ rule: 'drop-not-null', message: `DROP NOT NULL on column ${cmd.name ?? '?'} of ${table}: NULLs can appear where the running old version assumes there are none` });
        break;
      }
      case 'AT_DropConstraint': {
        const name = cmd.name ?? '';
        const known = this.#catalog.constraint(name);
        const kind: ConstraintKind | undefined = known?.kind ?? (/_(fkey|fk)$/.test(name) ? 'foreign' : /_pkey$/.test(name) ? 'primary' : /_key$/.test(name) ? 'unique' : /_excl$/.test(name) ? 'exclusion' : undefined);
        if (kind !== 'foreign' && kind !== 'unique' && kind !== 'primary' && kind !== 'exclusion') break;
        const what = { foreign: 'foreign key', unique: 'unique constraint', primary: 'primary key', exclusion: 'exclusion constraint' }[kind];
        out.push({ rule: 'drop-constraint', message: `drops the ${what} ${name} of ${table}, which the running old version may rely on${known ? '' : ' (judged from its name)'}` });
        break;
      }
      case 'AT_DetachPartition': {
        if (isConcurrentDetach(cmd)) break;
        const part = cmd.def && 'PartitionCmd' in cmd.def ? relName(cmd.def.PartitionCmd.name) : '?';
        out.push({
          rule: 'detach-partition-not-concurrent',
          message: `DETACH PARTITION ${part} from ${table} without CONCURRENTLY locks ${table} against reads and writes`,
          ...(pg.num < 140000 ? { fix: `${formatPgVersion(pg)} has no DETACH PARTITION CONCURRENTLY (it needs 14): run it in a quiet period with a short lock timeout, retrying until it gets its lock, or upgrade first.` } : {}),
        });
        break;
      }
      case 'AT_AddConstraint': {
        const c = constraintOf(cmd);
        if (c === undefined) break;
        const name = c.conname ? ` ${c.conname}` : '';
        if ((c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') && !c.skip_validation) {
          const kind = c.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK';
          out.push({
            rule: 'constraint-without-not-valid',
            message: `adds ${kind} constraint${name} to ${table} without NOT VALID` +
              (c.contype === 'CONSTR_FOREIGN' ? `, checking every row while ${table} and ${relName(c.pktable)} are locked against writes` : ', checking every row while the table is locked'),
            fix: `ALTER TABLE ${table} ADD CONSTRAINT ${c.conname ?? '<name>'} ... NOT VALID; then, in a later migration (in the same transaction the ADD's lock would be held through the scan), ALTER TABLE ${table} VALIDATE CONSTRAINT ${c.conname ?? '<name>'}.`,
          });
        } else if ((c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY') && !c.indexname) {
          const kind = c.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY';
          const cols = stringsOf(c.keys).join(', ');
          out.push({
            rule: 'unique-without-index',
            message: `adds ${kind} constraint${name} to ${table}, building its index under an ACCESS EXCLUSIVE lock`,
            fix: `CREATE UNIQUE INDEX CONCURRENTLY <index> ON ${table} (${cols}) as the only statement of one migration, then, in the next, ALTER TABLE ${table} ADD CONSTRAINT ${c.conname ?? '<name>'} ${kind} USING INDEX <index>${c.contype === 'CONSTR_PRIMARY' ? ` (once ${cols || 'its columns'} are NOT NULL)` : ''}.`,
          });
        } else if (c.contype === 'CONSTR_PRIMARY' && c.indexname) {
          const nullable = this.#primaryKeyNullable(c.indexname, relname);
          if (nullable !== undefined) out.push(nullable);
        } else if (c.contype === 'CONSTR_EXCLUSION') {
          out.push({ rule: 'exclusion-constraint', message: `adds exclusion constraint${name} to the existing table ${table}, building its index and checking every row under an ACCESS EXCLUSIVE lock` });
        } else if (c.contype === 'CONSTR_NOTNULL' && !c.skip_validation) {
          const column = stringsOf(c.keys)[0] ?? '?';
          if (this.#provenNotNull(relname, column)) break;
          out.push({
            rule: 'set-not-null',
            message: `adds NOT NULL constraint${name} on column ${column} of the existing table ${table}, which scans it under an ACCESS EXCLUSIVE lock`,
            fix: `${setNotNullFix(table, relname, column, pg)} On PostgreSQL 18 you can also ADD CONSTRAINT ... NOT NULL ${column} NOT VALID, then VALIDATE CONSTRAINT in a later migration.`,
          });
        }
        break;
      }
      default:
        break;
    }
    return out;
  }

  #addColumn(col: ColumnDef, table: string): Omit<RawFinding, 'statement' | 'byte' | 'cmd'>[] {
    const out: Omit<RawFinding, 'statement' | 'byte' | 'cmd'>[] = [];
    const name = col.colname ?? '?';
    const constraints = constraintsOf(col);
    const has = (type: Constraint['contype']) => constraints.some((c) => c.contype === type);
    const serial = SERIAL_TYPES.has(baseTypeName(col.typeName)) && (col.typeName?.names?.length ?? 0) === 1;
    const defaultExpr = constraints.find((c) => c.contype === 'CONSTR_DEFAULT')?.raw_expr;
    const nullDefault = defaultExpr !== undefined && 'A_Const' in defaultExpr && defaultExpr.A_Const.isnull === true;
    const generated = constraints.find((c) => c.contype === 'CONSTR_GENERATED');
    const identity = has('CONSTR_IDENTITY');
    const pg = this.#pg;

    const rewrite = (message: string, severity?: Severity): void => {
      out.push({ rule: 'volatile-default', ...(severity ? { severity } : {}), message: `adds column ${name} to ${table} ${message}` });
    };
    if (serial) rewrite(`as ${baseTypeName(col.typeName)}: every existing row gets a nextval(), so the table is rewritten`);
    else if (identity) rewrite('as an identity column: every existing row gets a value, so the table is rewritten');
    // PostgreSQL 18's VIRTUAL generated columns are computed on read: no rewrite.
    else if (generated && generated.generated_kind !== 'v') rewrite('as a STORED generated column: every row is computed and the table is rewritten');
    else if (defaultExpr !== undefined && !nullDefault) {
      const calls = functionCalls(defaultExpr).map((parts) => parts.at(-1) ?? '');
      const volatile = calls.find((f) => VOLATILE_FUNCTIONS.has(f));
      const unknown = calls.find((f) => !VOLATILE_FUNCTIONS.has(f) && !NON_VOLATILE_FUNCTIONS.has(f));
      if (volatile !== undefined) rewrite(`with DEFAULT ${volatile}(), which is volatile: the table is rewritten`);
      else if (pg.num < 110000) rewrite(`with a DEFAULT: on ${formatPgVersion(pg)} every default is written into every row, so the table is rewritten (PostgreSQL 11 stores a constant default in the catalog instead)`);
      else if (unknown !== undefined) {
        rewrite(`with DEFAULT ${unknown}(), which rewrites the table if the function is VOLATILE (the default for CREATE FUNCTION; berth cannot see its definition)`, 'warning');
      }
    }

    const notNull = has('CONSTR_NOTNULL') || has('CONSTR_PRIMARY') || col.is_not_null === true;
    if (notNull && (defaultExpr === undefined || nullDefault) && !serial && !identity && !generated) {
      out.push({
        rule: 'not-null-without-default',
        message: `adds column ${name} to the existing table ${table} as NOT NULL without a DEFAULT`,
        ...(pg.num < 110000 ? { fix: `On ${formatPgVersion(pg)} a DEFAULT rewrites the table too: add the column nullable, backfill it in batches, then add CHECK (${name} IS NOT NULL) NOT VALID and VALIDATE it in a later migration.` } : {}),
      });
    }
    if (baseTypeName(col.typeName) === 'json') out.push(jsonColumn(name, table, 'adds'));
    for (const c of constraints) {
      if (c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') {
        const kind = c.contype === 'CONSTR_FOREIGN' ? `REFERENCES ${relName(c.pktable)}` : 'CHECK';
        out.push({
          rule: 'constraint-without-not-valid',
          message: `adds column ${name} to ${table} with an inline ${kind} constraint, which is validated against every row while the table is locked`,
          fix: `Add the column without the constraint, then ALTER TABLE ${table} ADD CONSTRAINT <name> ${c.contype === 'CONSTR_FOREIGN' ? `FOREIGN KEY (${name}) ${kind}` : 'CHECK (...)'} NOT VALID, and VALIDATE CONSTRAINT <name> in a later migration.`,
        });
      } else if (c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY') {
        const kind = c.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY';
        out.push({
          rule: 'unique-without-index',
          message: `adds column ${name} to ${table} as ${kind}, building its index under an ACCESS EXCLUSIVE lock`,
          fix: `Add the column plain, CREATE UNIQUE INDEX CONCURRENTLY <index> ON ${table} (${name}) as the only statement of the next migration, then ADD CONSTRAINT <name> ${kind} USING INDEX <index> in the one after.`,
        });
      }
    }
    return out;
  }

  /**
   * PRIMARY KEY USING INDEX sets NOT NULL (with a scan) on each index column that lacks it.
   * Reported when the linted migrations show such a column nullable; when they do not show the
   * index or its columns, nothing is said (the columns of a table older than the linted
   * migrations are unknown, and most such attaches are on NOT NULL columns).
   */
  #primaryKeyNullable(indexName: string, table: string): Omit<RawFinding, 'statement' | 'byte' | 'cmd'> | undefined {
    const index = this.#catalog.index(indexName);
    if (index === undefined) return undefined;
    // A validated CHECK (col IS NOT NULL) spares the scan too (PostgreSQL 12+), as for SET NOT NULL.
    const nullable = index.columns.filter((c): c is string =>
      c !== undefined && this.#catalog.notNull(index.table, c) === false && !(this.#pg.num >= 120000 && this.#catalog.provesNotNull(index.table, c)));
    if (nullable.length === 0) return undefined;
    return {
      rule: 'primary-key-nullable',
      message: `PRIMARY KEY USING INDEX ${indexName} on ${table}: ${nullable.join(', ')} ${nullable.length === 1 ? 'is' : 'are'} nullable, so PostgreSQL sets NOT NULL with a full scan under the ACCESS EXCLUSIVE lock`,
      fix: `Make ${nullable.join(', ')} NOT NULL first without a scan: ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID in one migration, VALIDATE CONSTRAINT and SET NOT NULL in the next; then attach ${indexName} as the primary key.`,
    };
  }

  /** SET NOT NULL is fine after a proof: a valid CHECK (col IS NOT NULL) on PostgreSQL 12+. */
  #provenNotNull(table: string, column: string): boolean {
    if (this.#pg.num < 120000) return false;
    if (this.#catalog.provesNotNull(table, column)) return true;
    // A VALIDATE of a constraint no linted migration defined (added by a migration outside the
    // linted set) gets the benefit of the doubt.
    return this.#validated.some((v) => v.table === table && (v.known ? v.notNullColumn === column : true));
  }

  #rememberConstraint(table: string, c: Constraint, column?: string): void {
    let notNullColumn: string | undefined;
    if (c.contype === 'CONSTR_NOTNULL') notNullColumn = stringsOf(c.keys)[0] ?? column;
    if (c.contype === 'CONSTR_CHECK' && c.raw_expr && 'NullTest' in c.raw_expr) {
      const test = c.raw_expr.NullTest;
      const arg = test.arg;
      if (test.nulltesttype === 'IS_NOT_NULL' && arg && 'ColumnRef' in arg) {
        const fields = stringsOf(arg.ColumnRef.fields);
        if (fields.length === 1) notNullColumn = fields[0];
      }
    }
    const kind = CONSTRAINT_KINDS[c.contype ?? ''] ?? 'other';
    if (c.conname) {
      this.#catalog.addConstraint(c.conname, { table, kind, ...(notNullColumn === undefined ? {} : { notNullColumn }), valid: !c.skip_validation });
    } else if (notNullColumn !== undefined && !c.skip_validation) {
      this.#catalog.addConstraint(`${table}.${notNullColumn}.not-null`, { table, kind, notNullColumn, valid: true });
    }
  }

  // ---- types and domains ------------------------------------------------------------------

  #createEnum(stmt: { typeName?: Node[]; vals?: Node[] }): void {
    const name = stringsOf(stmt.typeName).at(-1) ?? '';
    this.#createdTypes.add(name);
    this.#catalog.setEnum(name, stringsOf(stmt.vals));
  }

  #alterEnum(stmt: { typeName?: Node[]; newVal?: string; oldVal?: string; newValNeighbor?: string; newValIsAfter?: boolean }): void {
    const type = stringsOf(stmt.typeName).join('.');
    const bare = stringsOf(stmt.typeName).at(-1) ?? '';
    const isNew = this.#createdTypes.has(bare);
    if (stmt.oldVal !== undefined) {
      this.#catalog.renameEnumValue(bare, stmt.oldVal, stmt.newVal ?? '');
      if (!isNew) {
        this.#report({ rule: 'rename-enum-value', ...this.#here(), message: `renames value '${stmt.oldVal}' of enum ${type} to '${stmt.newVal ?? ''}' while the running old version still writes and compares '${stmt.oldVal}'` });
      }
      return;
    }
    const value = stmt.newVal ?? '';
    const values = this.#catalog.enumValues(bare);
    if (stmt.newValNeighbor === undefined && !isNew) {
      const last = values?.at(-1);
      this.#report({
        rule: 'enum-value-order', ...this.#here(),
        message: `ALTER TYPE ${type} ADD VALUE '${value}' without BEFORE or AFTER puts it after ${last ? `'${last}', the current last value` : 'every existing value'}, which is where it sorts and compares`,
        ...(last ? { fix: `Say where it belongs: ADD VALUE '${value}' BEFORE '<value>', or AFTER '${last}' if the end is right.` } : {}),
      });
    }
    this.#catalog.addEnumValue(bare, value, stmt.newValNeighbor, stmt.newValIsAfter === true);
    if (!this.#inTransaction()) return;
    if (this.#pg.num < 120000) {
      this.#report({
        rule: 'enum-value-in-transaction', ...this.#here(),
        message: `ALTER TYPE ${type} ADD VALUE cannot run inside a transaction block on ${formatPgVersion(this.#pg)} (it can from PostgreSQL 12), and this migration runs in one`,
      });
      return;
    }
    // On 12+, only using the value before commit fails; a type created in the same
    // transaction is exempt from that too.
    if (!isNew) this.#newEnumValues.push({ type, value, statement: this.#index, txId: this.#txId });
  }

  #createDomain(stmt: { domainname?: Node[]; constraints?: Node[] }): void {
    const name = stringsOf(stmt.domainname).join('.');
    this.#createdTypes.add(stringsOf(stmt.domainname).at(-1) ?? '');
    if (!(stmt.constraints ?? []).some((c) => 'Constraint' in c && c.Constraint.contype === 'CONSTR_CHECK')) return;
    this.#report({
      rule: 'domain-constraint', severity: 'warning', ...this.#here(),
      message: `CREATE DOMAIN ${name} with a CHECK constraint: changing that constraint later re-checks every column that uses the domain while blocking writes to their tables`,
    });
  }

  #alterDomain(stmt: { subtype?: string; typeName?: Node[]; def?: Node; name?: string }): void {
    const name = stringsOf(stmt.typeName).join('.');
    if (this.#createdTypes.has(stringsOf(stmt.typeName).at(-1) ?? '')) return;
    if (stmt.subtype === 'V') {
      this.#longWork(`ALTER DOMAIN ${name} VALIDATE CONSTRAINT ${stmt.name ?? ''}`);
      return;
    }
    const c = stmt.def && 'Constraint' in stmt.def ? stmt.def.Constraint : undefined;
    if (stmt.subtype === 'C' && c?.contype === 'CONSTR_CHECK' && !c.skip_validation) {
      this.#longWork(`ALTER DOMAIN ${name} ADD CONSTRAINT`);
      this.#report({
        rule: 'domain-constraint', ...this.#here(),
        message: `ALTER DOMAIN ${name} ADD CONSTRAINT without NOT VALID checks every column that uses the domain, blocking writes to their tables`,
        fix: `ALTER DOMAIN ${name} ADD CONSTRAINT ${c?.conname ?? '<name>'} CHECK (...) NOT VALID, then ALTER DOMAIN ${name} VALIDATE CONSTRAINT ${c?.conname ?? '<name>'} in a later migration, or put the CHECK on the columns instead.`,
      });
    } else if (stmt.subtype === 'O' || (stmt.subtype === 'C' && c?.contype === 'CONSTR_NOTNULL')) {
      this.#longWork(`ALTER DOMAIN ${name} SET NOT NULL`);
    }
  }

  // ---- other statements -------------------------------------------------------------------

  #vacuum(stmt: { options?: Node[]; rels?: Node[]; is_vacuumcmd?: boolean }): void {
    const full = (stmt.options ?? []).some((o) => 'DefElem' in o && o.DefElem.defname === 'full' && constText(o.DefElem.arg) !== 'false');
    if (!stmt.is_vacuumcmd || !full) return;
    const rels = (stmt.rels ?? []).flatMap((r) => ('VacuumRelation' in r && r.VacuumRelation.relation ? [r.VacuumRelation.relation] : []));
    const existing = rels.filter((rv) => !this.#isNew(rv));
    if (rels.length > 0 && existing.length === 0) return;
    const what = existing.length ? existing.map(relName).join(', ') : 'every table of the database';
    this.#needTimeout(`VACUUM FULL locks ${what} against reads and writes`);
    this.#report({ rule: 'vacuum-full', ...this.#here(), message: `VACUUM FULL rewrites ${what} under an ACCESS EXCLUSIVE lock` });
  }

  #cluster(stmt: { relation?: RangeVar }): void {
    if (this.#isNew(stmt.relation)) return;
    const what = stmt.relation ? relName(stmt.relation) : 'every previously clustered table';
    this.#longWork(`CLUSTER ${what}`, stmt.relation);
    this.#take(stmt.relation ?? { relname: what }, ACCESS_EXCLUSIVE, `CLUSTER locks ${what} against reads and writes`);
    this.#report({ rule: 'cluster', ...this.#here(), message: `CLUSTER rewrites ${what} under an ACCESS EXCLUSIVE lock` });
  }

  #lockTable(stmt: { relations?: Node[]; mode?: number }): void {
    const mode = stmt.mode ?? ACCESS_EXCLUSIVE;
    const rels = (stmt.relations ?? []).flatMap((r) => ('RangeVar' in r ? [r.RangeVar] : [])).filter((rv) => !this.#isNew(rv));
    if (rels.length === 0) return;
    const names = rels.map(relName).join(', ');
    for (const rv of rels) this.#take(rv, mode, `LOCK TABLE ${names} IN ${LOCK_MODES[mode]} MODE`);
    if (mode < SHARE) return;
    this.#report({
      rule: 'lock-table', ...this.#here(),
      message: `LOCK TABLE ${names} IN ${LOCK_MODES[mode]} MODE blocks ${blocks(mode)} until the migration commits`,
    });
  }

  #truncate(stmt: { relations?: Node[]; behavior?: string }): void {
    const rels = (stmt.relations ?? []).flatMap((r) => ('RangeVar' in r ? [r.RangeVar] : [])).filter((rv) => !this.#isNew(rv));
    if (rels.length === 0) return;
    for (const rv of rels) this.#take(rv, ACCESS_EXCLUSIVE, `TRUNCATE locks ${rels.map(relName).join(', ')} against reads and writes`);
    if (stmt.behavior === 'DROP_CASCADE') {
      this.#report({ rule: 'truncate-cascade', ...this.#here(), message: `TRUNCATE ${rels.map(relName).join(', ')} CASCADE also empties every table that references ${rels.length === 1 ? 'it' : 'them'}, recursively` });
    }
  }

  #reindex(stmt: { kind?: string; params?: Node[]; relation?: RangeVar; name?: string }): void {
    const concurrent = (stmt.params ?? []).some((p) => 'DefElem' in p && p.DefElem.defname === 'concurrently' && constText(p.DefElem.arg) !== 'false');
    const kind = (stmt.kind ?? '').replace('REINDEX_OBJECT_', '');
    const target = stmt.relation ? relName(stmt.relation) : stmt.name ?? '';
    if (concurrent) {
      this.#corruptionRisk(`REINDEX ${kind} CONCURRENTLY ${target}`);
      return;
    }
    if (kind === 'INDEX' ? this.#createdIndexes.has(stmt.relation?.relname ?? '') : this.#isNew(stmt.relation)) return;
    const table = kind === 'INDEX' ? this.#catalog.index(stmt.relation?.relname ?? '')?.table : kind === 'TABLE' ? target : undefined;
    this.#longWork(`REINDEX ${kind} ${target}`);
    if (table !== undefined) this.#take({ relname: table }, SHARE, `REINDEX ${kind} ${target} locks ${table} against writes`);
    else this.#needTimeout(`REINDEX ${kind} ${target} locks tables against writes`);
    this.#report({
      rule: 'reindex-not-concurrent', ...this.#here(),
      message: `REINDEX ${kind} ${target} without CONCURRENTLY blocks writes${table ? ` to ${table}` : ''} and reads through the rebuilt indexes`,
      ...(this.#pg.num < 120000
        ? { fix: `${formatPgVersion(this.#pg)} has no REINDEX CONCURRENTLY (it needs 12): CREATE INDEX CONCURRENTLY a copy of the index, DROP INDEX CONCURRENTLY the old one and rename the copy, each in its own migration.` }
        : { fix: `REINDEX ${kind} CONCURRENTLY ${target} as the only statement of its own migration (or in one whose first line is ${NO_TX}).` }),
    });
  }

  #dml(verb: 'UPDATE' | 'DELETE', stmt: { relation?: RangeVar; whereClause?: Node; targetList?: Node[] }): void {
    if (verb === 'UPDATE') {
      this.#duplicateNames((stmt.targetList ?? []).map((t) => ('ResTarget' in t && !t.ResTarget.indirection?.length ? t.ResTarget.name : undefined)), `UPDATE ${relName(stmt.relation)} SET`);
    }
    if (this.#isNew(stmt.relation)) return;
    if (stmt.whereClause === undefined) this.#wholeTableDml.push({ statement: this.#index, verb, table: relName(stmt.relation) });
    this.#longWork(`${verb} ${verb === 'UPDATE' ? '' : 'FROM '}${relName(stmt.relation)}`, stmt.relation);
  }

  #select(stmt: SelectStmt): void {
    for (const target of stmt.targetList ?? []) {
      if (!('ResTarget' in target)) continue;
      const value = target.ResTarget.val;
      if (value === undefined || !('FuncCall' in value)) continue;
      const call = value.FuncCall;
      if (stringsOf(call.funcname).at(-1) !== 'set_config' || constText(call.args?.[0]) !== 'lock_timeout') continue;
      const local = constText(call.args?.[2]) === 'true';
      this.#setTimeout(!isZeroTimeout(constText(call.args?.[1])), local);
    }
    if (readsTables({ SelectStmt: stmt })) {
      const from = (stmt.fromClause ?? []).flatMap((f) => ('RangeVar' in f ? [f.RangeVar] : []));
      this.#longWork(`SELECT ... FROM ${from.length ? from.map(relName).join(', ') : '...'}`, from[0]);
    }
  }

  #set(stmt: VariableSetStmt): void {
    if (stmt.kind === 'VAR_RESET_ALL') {
      this.#sessionTimeout = false;
      this.#localTimeout = undefined;
    }
    if (stmt.name !== 'lock_timeout') return;
    this.#setTimeout(stmt.kind === 'VAR_SET_VALUE' && !isZeroTimeout(constText(stmt.args?.[0])), stmt.is_local === true);
  }

  #setTimeout(on: boolean, local: boolean): void {
    if (!local) {
      this.#sessionTimeout = on;
      if (this.#localTimeout !== undefined) this.#localTimeout = on;
      return;
    }
    // SET LOCAL outside a transaction block (a no-transaction file) lasts for no statement.
    if (this.#inTransaction()) this.#localTimeout = on;
  }

  /** PostgreSQL 14.0-14.3 could build concurrent indexes that miss rows (fixed in 14.4). */
  #corruptionRisk(what: string): void {
    const v = this.#pg;
    if (!v.known || v.num < 140000 || v.num >= 140004 || what === '') return;
    this.#report({ rule: 'concurrent-index-corruption', ...this.#here(), message: `${what} on ${formatPgVersion(v)}, whose concurrent index builds can miss rows (fixed in 14.4)` });
  }

  /** Names the same column twice: PostgreSQL rejects it. */
  #duplicateNames(names: readonly (string | undefined)[], where: string): void {
    const seen = new Set<string>();
    for (const name of names) {
      if (name === undefined) continue;
      if (seen.has(name)) {
        this.#report({ rule: 'duplicate-column', ...this.#here(), message: `${where} names column ${name} more than once` });
        return;
      }
      seen.add(name);
    }
  }

  /**
   * Identifiers over 63 bytes, which PostgreSQL truncates (with a NOTICE the migration log
   * hides). The parser has already truncated them, so a name the statement defines that is 61 to
   * 63 bytes long is looked for in the statement's text: only there is its full length visible.
   * Checking the names a statement defines (not every word of every statement) keeps this cheap.
   */
  #namesDefined(kind: string, body: unknown): void {
    for (const name of definedNames(kind, body)) {
      if (name.length < 21 || Buffer.byteLength(name) < 61) continue;
      const full = this.#fullIdentifier(name);
      if (full === undefined) continue;
      this.#report({
        rule: 'identifier-too-long', statement: this.#index, offset: this.#ps.statement.offset + full.index,
        message: `"${full.text.length > 80 ? `${full.text.slice(0, 77)}...` : full.text}" is ${Buffer.byteLength(full.text)} bytes long: PostgreSQL truncates it to "${name}"`,
      });
    }
  }

  /** Where the statement writes `truncated` in full, when that is longer than 63 bytes. */
  #fullIdentifier(truncated: string): { text: string; index: number } | undefined {
    const sql = this.#ps.statement.sql;
    const lower = sql.toLowerCase();
    for (let at = lower.indexOf(truncated.toLowerCase()); at >= 0; at = lower.indexOf(truncated.toLowerCase(), at + 1)) {
      const quoted = sql[at - 1] === '"';
      const rest = quoted ? /^(?:[^"]|"")*/.exec(sql.slice(at))![0].replace(/""/g, '"') : /^[A-Za-z0-9_$\u0080-\uffff]*/.exec(sql.slice(at))![0];
      const text = quoted ? rest : rest.toLowerCase();
      if (Buffer.byteLength(text) > 63 && truncateIdentifier(text) === truncated) return { text, index: at };
    }
    return undefined;
  }

  #finish(): void {
    const findings = this.#findings;
    if (this.#lockingDdl) {
      for (const dml of this.#wholeTableDml) {
        const autocommit = this.#mode !== 'transaction';
        findings.push({
          rule: 'whole-table-dml-with-ddl', statement: dml.statement,
          byte: this.#parsed.statements[dml.statement]?.byteOffset ?? 0,
          ...(autocommit ? { severity: 'warning' as const } : {}),
          message: `${dml.verb} of every row of ${dml.table} (no WHERE) in a migration that also locks tables with DDL` +
            (autocommit ? '; the file runs without a transaction, so the lock is not held throughout, but it is still one huge statement' : ''),
        });
      }
    }
    // A statement already reported for its own lock or rewrite needs no second finding.
    const flagged = new Set(findings.filter((f) => f.rule !== 'missing-lock-timeout').map((f) => f.statement));
    for (const f of this.#underLock) {
      if (flagged.has(f.statement)) continue;
      findings.push(f);
      flagged.add(f.statement);
    }
  }

  /** On PostgreSQL 12+, a value added in a transaction cannot be used before it commits. */
  #usesNewEnumValue(node: Node): void {
    if (this.#newEnumValues.length === 0) return;
    const constants = new Set(stringConstants(node));
    for (const added of this.#newEnumValues) {
      if (added.txId !== this.#txId || !constants.has(added.value)) continue;
      const line = this.#parsed.statements[added.statement]?.statement.line;
      this.#report({
        rule: 'enum-value-in-transaction', ...this.#here(),
        message: `uses '${added.value}', which ALTER TYPE ${added.type} ADD VALUE${line ? ` at line ${line}` : ''} added in the same transaction: PostgreSQL refuses it until that transaction commits ("unsafe use of new value")`,
      });
    }
  }
}

const TRANSACTION_WORDS: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN', TRANS_STMT_START: 'START TRANSACTION', TRANS_STMT_COMMIT: 'COMMIT', TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT', TRANS_STMT_RELEASE: 'RELEASE SAVEPOINT', TRANS_STMT_ROLLBACK_TO: 'ROLLBACK TO SAVEPOINT',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION', TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED', TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

const CONSTRAINT_KINDS: Record<string, ConstraintKind> = {
  CONSTR_CHECK: 'check', CONSTR_FOREIGN: 'foreign', CONSTR_UNIQUE: 'unique', CONSTR_PRIMARY: 'primary', CONSTR_EXCLUSION: 'exclusion', CONSTR_NOTNULL: 'notnull',
};

/**
 * The statements PostgreSQL refuses inside a transaction block (its PreventInTransactionBlock
 * callers), named as a message would; undefined for every other statement.
 */
export function outsideTransactionOnly(kind: string, body: unknown): string | undefined {
  const b = body as Record<string, unknown>;
  switch (kind) {
    case 'IndexStmt':
      return b.concurrent ? 'CREATE INDEX CONCURRENTLY' : undefined;
    case 'DropStmt':
      return b.concurrent ? 'DROP INDEX CONCURRENTLY' : undefined;
    case 'ReindexStmt': {
      const params = (b.params as Node[] | undefined) ?? [];
      const concurrent = params.some((p) => 'DefElem' in p && p.DefElem.defname === 'concurrently' && constText(p.DefElem.arg) !== 'false');
      if (concurrent) return 'REINDEX CONCURRENTLY';
      const k = String(b.kind ?? '');
      return k === 'REINDEX_OBJECT_SCHEMA' || k === 'REINDEX_OBJECT_DATABASE' || k === 'REINDEX_OBJECT_SYSTEM' ? `REINDEX ${k.slice(15)}` : undefined;
    }
    case 'AlterTableStmt': {
      const cmds = (b.cmds as Node[] | undefined) ?? [];
      return cmds.some((c) => 'AlterTableCmd' in c && isConcurrentDetach(c.AlterTableCmd)) ? 'DETACH PARTITION ... CONCURRENTLY' : undefined;
    }
    case 'VacuumStmt':
      return b.is_vacuumcmd ? 'VACUUM' : undefined;
    case 'CreatedbStmt': return 'CREATE DATABASE';
    case 'DropdbStmt': return 'DROP DATABASE';
    case 'CreateTableSpaceStmt': return 'CREATE TABLESPACE';
    case 'DropTableSpaceStmt': return 'DROP TABLESPACE';
    case 'AlterSystemStmt': return 'ALTER SYSTEM';
    case 'AlterDatabaseStmt': {
      const options = (b.options as Node[] | undefined) ?? [];
      return options.some((o) => 'DefElem' in o && o.DefElem.defname === 'tablespace') ? 'ALTER DATABASE ... SET TABLESPACE' : undefined;
    }
    case 'ClusterStmt':
      return b.relation === undefined ? 'CLUSTER without a table name' : undefined;
    case 'DiscardStmt':
      return b.target === 'DISCARD_ALL' ? 'DISCARD ALL' : undefined;
    case 'CreateSubscriptionStmt': {
      const options = (b.options as Node[] | undefined) ?? [];
      const off = (name: string) => options.some((o) => 'DefElem' in o && o.DefElem.defname === name && constText(o.DefElem.arg) === 'false');
      return off('create_slot') || off('connect') ? undefined : 'CREATE SUBSCRIPTION (creating its replication slot)';
    }
    case 'DropSubscriptionStmt': return 'DROP SUBSCRIPTION (of a subscription with a replication slot)';
    default:
      return undefined;
  }
}

function runMode(parsed: ParsedFile, noTransaction: boolean): RunMode {
  if (noTransaction) return 'autocommit';
  const only = parsed.statements.length === 1 ? parsed.statements[0]?.ast : undefined;
  if (only !== undefined && outsideTransactionOnly(kindOf(only), (only as Record<string, unknown>)[kindOf(only)]) !== undefined) return 'outside';
  return 'transaction';
}

/** The indices of a BEGIN first and COMMIT last that wrap the whole file, and nothing else. */
function wrapperOf(parsed: ParsedFile): ReadonlySet<number> {
  const statements = parsed.statements;
  if (statements.length < 2) return new Set();
  const kind = (ps: ParsedStatement | undefined) => (ps?.ast && 'TransactionStmt' in ps.ast ? ps.ast.TransactionStmt : undefined);
  const first = kind(statements[0]);
  const last = kind(statements.at(-1));
  // As migrate reads it (drivers/postgres/transaction-control.ts): no transaction modes, which
  // berth's own BEGIN would drop, and no AND CHAIN.
  if ((first?.kind !== 'TRANS_STMT_BEGIN' && first?.kind !== 'TRANS_STMT_START') || ((first.options as unknown[] | undefined)?.length ?? 0) > 0 ||
    last?.kind !== 'TRANS_STMT_COMMIT' || last.chain) return new Set();
  return new Set([0, statements.length - 1]);
}

/** The start of a statement, to name it in a message: `"ALTER TABLE orders ADD CONSTRAINT ..."`. */
function excerpt(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ');
  return `"${flat.length > 48 ? `${flat.slice(0, 45).trimEnd()}...` : flat}"`;
}

type Found = Omit<RawFinding, 'statement' | 'byte' | 'cmd'>;

function jsonColumn(name: string, table: string, verb: 'adds' | 'changes'): Found {
  return {
    rule: 'json-column',
    message: `${verb === 'adds' ? 'adds column' : 'changes column'} ${name} of ${table} ${verb === 'adds' ? 'as' : 'to'} json, which has no equality operator: SELECT DISTINCT, UNION and GROUP BY over the table's columns fail`,
  };
}

function constraintOf(cmd: AlterTableCmd): Constraint | undefined {
  return cmd.def && 'Constraint' in cmd.def ? cmd.def.Constraint : undefined;
}

function constraintsOf(col: ColumnDef): Constraint[] {
  return (col.constraints ?? []).flatMap((c) => ('Constraint' in c ? [c.Constraint] : []));
}

/** ALTER TABLE subcommands that read every row (or rewrite the table). */
function longSubcommand(cmd: AlterTableCmd): string | undefined {
  const c = constraintOf(cmd);
  switch (cmd.subtype) {
    case 'AT_ValidateConstraint': return `VALIDATE CONSTRAINT ${cmd.name ?? ''}`.trim();
    case 'AT_AlterColumnType': return `ALTER COLUMN ${cmd.name ?? ''} TYPE`;
    case 'AT_AddConstraint':
      if (c === undefined || c.skip_validation || c.indexname) return undefined;
      return c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK' || c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY' || c.contype === 'CONSTR_EXCLUSION'
        ? `ADD CONSTRAINT ${c.conname ?? ''}`.trim() : undefined;
    case 'AT_SetLogged': return 'SET LOGGED';
    case 'AT_SetUnLogged': return 'SET UNLOGGED';
    case 'AT_SetTableSpace': return 'SET TABLESPACE';
    case 'AT_SetAccessMethod': return 'SET ACCESS METHOD';
    default:
      return undefined;
  }
}

/** A query with a FROM clause (or a set operation of such), i.e. one that reads tables. */
function readsTables(node: Node | undefined): boolean {
  if (node === undefined || !('SelectStmt' in node)) return false;
  const s = node.SelectStmt;
  if (s.op && s.op !== 'SETOP_NONE') return readsTables(s.larg ? { SelectStmt: s.larg } : undefined) || readsTables(s.rarg ? { SelectStmt: s.rarg } : undefined);
  return (s.fromClause?.length ?? 0) > 0;
}

function setNotNullFix(table: string, relname: string, column: string, pg: PgVersion): string {
  const check = `${relname}_${column}_not_null`;
  if (pg.num < 120000) {
    return `On ${formatPgVersion(pg)} SET NOT NULL always scans: instead, ALTER TABLE ${table} ADD CONSTRAINT ${check} CHECK (${column} IS NOT NULL) NOT VALID, VALIDATE it in a later migration, and keep the CHECK in place of NOT NULL (or upgrade to PostgreSQL 12+ first).`;
  }
  return `ALTER TABLE ${table} ADD CONSTRAINT ${check} CHECK (${column} IS NOT NULL) NOT VALID; ` +
    `then, in a later migration, ALTER TABLE ${table} VALIDATE CONSTRAINT ${check}; ` +
    `ALTER TABLE ${table} ALTER COLUMN ${column} SET NOT NULL; ALTER TABLE ${table} DROP CONSTRAINT ${check}.`;
}

function foreignKeyTargets(stmt: CreateStmt): RangeVar[] {
  const out: RangeVar[] = [];
  for (const element of stmt.tableElts ?? []) {
    const list: Node[] = 'ColumnDef' in element ? element.ColumnDef.constraints ?? [] : [element];
    for (const c of list) {
      if ('Constraint' in c && c.Constraint.contype === 'CONSTR_FOREIGN' && c.Constraint.pktable) out.push(c.Constraint.pktable);
    }
  }
  return out;
}

function isConcurrentDetach(cmd: AlterTableCmd): boolean {
  return cmd.subtype === 'AT_DetachPartition' && cmd.def !== undefined && 'PartitionCmd' in cmd.def && cmd.def.PartitionCmd.concurrent === true;
}

function rangeVarOf(parts: readonly string[]): RangeVar {
  const relname = parts.at(-1) ?? '';
  return parts.length > 1 ? { schemaname: parts.at(-2) ?? '', relname } : { relname };
}

/** `0`, `'0'`, `'0ms'`, `'0s'`: PostgreSQL's "no timeout". */
function isZeroTimeout(value: string | undefined): boolean {
  if (value === undefined) return false;
  return /^\s*0+(\.0*)?\s*(us|ms|s|min|h|d)?\s*$/i.test(value);
}

/** The names a statement gives to what it creates, as the parser returned them (truncated). */
function definedNames(kind: string, body: unknown): string[] {
  const b = body as Record<string, unknown>;
  const out: string[] = [];
  const rel = (rv: unknown) => (rv as RangeVar | undefined)?.relname;
  const push = (name: unknown) => {
    if (typeof name === 'string') out.push(name);
  };
  const constraints = (list: unknown) => {
    for (const c of (list as Node[] | undefined) ?? []) if ('Constraint' in c) push(c.Constraint.conname);
  };
  const column = (def: ColumnDef) => {
    push(def.colname);
    constraints(def.constraints);
  };
  switch (kind) {
    case 'CreateStmt':
      push(rel(b.relation));
      for (const e of (b.tableElts as Node[] | undefined) ?? []) {
        if ('ColumnDef' in e) column(e.ColumnDef);
        else if ('Constraint' in e) push(e.Constraint.conname);
      }
      break;
    case 'IndexStmt': push(b.idxname); break;
    case 'ViewStmt': push(rel(b.view)); break;
    case 'CreateTableAsStmt': push(rel((b.into as { rel?: RangeVar } | undefined)?.rel)); break;
    case 'CreateSeqStmt': push(rel(b.sequence)); break;
    case 'CreateTrigStmt': push(b.trigname); break;
    case 'CreateSchemaStmt': push(b.schemaname); break;
    case 'RenameStmt': push(b.newname); break;
    case 'CreateEnumStmt': push(stringsOf(b.typeName as Node[] | undefined).at(-1)); break;
    case 'CreateDomainStmt': push(stringsOf(b.domainname as Node[] | undefined).at(-1)); break;
    case 'CreateFunctionStmt': push(stringsOf(b.funcname as Node[] | undefined).at(-1)); break;
    case 'AlterTableStmt':
      for (const c of (b.cmds as Node[] | undefined) ?? []) {
        if (!('AlterTableCmd' in c)) continue;
        const def = c.AlterTableCmd.def;
        if (def && 'ColumnDef' in def) column(def.ColumnDef);
        if (def && 'Constraint' in def) push(def.Constraint.conname);
      }
      break;
    default:
      break;
  }
  return out;
}

/** PostgreSQL's truncate_identifier: the longest prefix of at most 63 bytes that ends on a character. */
function truncateIdentifier(name: string): string {
  let bytes = 0;
  let i = 0;
  for (const ch of name) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > 63) break;
    bytes += size;
    i += ch.length;
  }
  return name.slice(0, i);
}
