/**
 * The rules. One pass over a file's parsed statements, in order, keeping what the file itself has
 * created so far: a table created in the same migration is new and empty, nothing of the old
 * version uses it, so indexing, constraining or altering it is fine.
 *
 * Pure: the input is the parse result (parse-file.ts), the output raw findings that point at a
 * statement (and a byte offset inside it); lint-file.ts turns them into file lines and columns
 * and applies `-- berth:allow`.
 */

import type {
  AlterTableCmd, AlterTableStmt, ColumnDef, Constraint, CreateStmt, DropStmt, IndexStmt, Node, RangeVar, RenameStmt,
  SelectStmt, VariableSetStmt,
} from 'libpg-query';
import { baseTypeName, constText, functionCalls, kindOf, relName, stringsOf, typeText } from './ast.js';
import type { ParsedFile } from './parse-file.js';
import type { RuleId } from './rules.js';
import type { Severity } from './types.js';

export interface RawFinding {
  readonly rule: RuleId;
  /** Only when it differs from the rule's default. */
  readonly severity?: Severity;
  /** Index into `ParsedFile.statements`, and a byte offset inside that statement's SQL. */
  readonly statement: number;
  readonly byte?: number;
  readonly message: string;
  readonly why?: string;
  readonly fix?: string;
}

export interface AnalyzeOptions {
  /** The file has `-- berth:no-transaction`. */
  readonly noTransaction: boolean;
  /** The file has a non-zero `-- berth:lock-timeout`. */
  readonly lockTimeoutDirective: boolean;
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
// ALTER TABLE subcommands that take at most SHARE UPDATE EXCLUSIVE: reads and writes go on.
const WEAK_LOCK_SUBCOMMANDS = new Set([
  'AT_ValidateConstraint', 'AT_SetStatistics', 'AT_SetOptions', 'AT_ResetOptions', 'AT_ClusterOn', 'AT_DropCluster',
]);
// LockStmt modes (PostgreSQL's lockdefs.h): SHARE (5) and stronger block writes.
const LOCK_MODES = ['', 'ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'];
const SHARE_LOCK = 5;
const ACCESS_EXCLUSIVE = 8;

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

/** A constraint validated so far in the file (or added valid), for SET NOT NULL. */
interface Validated {
  readonly table: string;
  /** The column it proves NOT NULL, when the file defined the constraint. */
  readonly notNullColumn?: string | undefined;
  /** False for a VALIDATE of a constraint an earlier migration added: its definition is unknown. */
  readonly known: boolean;
}

/** A constraint the file added, so that a later VALIDATE + SET NOT NULL is recognised. */
interface KnownConstraint {
  readonly table: string;
  /** Set when the constraint is `CHECK (col IS NOT NULL)` or a `NOT NULL col` constraint. */
  readonly notNullColumn?: string;
}

export function analyze(parsed: ParsedFile, options: AnalyzeOptions): RawFinding[] {
  const findings: RawFinding[] = [];
  const created = new Relations();
  const createdIndexes = new Set<string>();
  const addedColumns = new Set<string>(); // `table.column`
  const constraints = new Map<string, KnownConstraint>();
  const validated: Validated[] = [];
  let lockTimeout = options.lockTimeoutDirective;
  let lockTimeoutReported = false;
  let lockingDdl = false;
  const wholeTableDml: { statement: number; verb: string; table: string }[] = [];

  const report = (f: RawFinding): void => {
    findings.push(f);
  };

  parsed.statements.forEach((ps, index) => {
    const node = ps.ast;
    if (node === undefined) return;
    const at = (byte?: number) => ({ statement: index, ...(byte === undefined ? {} : { byte }) });
    const cmdAt = (k: number) => at(ps.cmdOffsets?.[k] ?? ps.byteOffset);
    const stmtAt = () => at(ps.byteOffset);

    /** Called for every statement that takes a lock blocking reads or writes on an existing table. */
    const locks = (what: string): void => {
      lockingDdl = true;
      if (lockTimeout || lockTimeoutReported) return;
      lockTimeoutReported = true;
      report({
        rule: 'missing-lock-timeout', ...stmtAt(),
        message: `${what}, and no lock timeout is set (no "-- berth:lock-timeout" at the top of the file, no SET lock_timeout before it)`,
      });
    };

    const concurrently = (what: string): void => {
      if (options.noTransaction) return;
      report({
        rule: 'concurrently-in-transaction', ...stmtAt(),
        message: `${what} cannot run inside the transaction berth runs this migration in: the file has no ${NO_TX}`,
      });
    };

    switch (kindOf(node)) {
      case 'CreateStmt': {
        const stmt = (node as { CreateStmt: CreateStmt }).CreateStmt;
        created.add(stmt.relation);
        const referenced = foreignKeyTargets(stmt).filter((rv) => !created.has(rv));
        const parent = stmt.partbound ? (stmt.inhRelations ?? []).flatMap((r) => ('RangeVar' in r ? [r.RangeVar] : []))[0] : undefined;
        if (parent !== undefined && !created.has(parent)) {
          // Unlike ATTACH PARTITION (SHARE UPDATE EXCLUSIVE), PARTITION OF locks the parent fully.
          locks(`CREATE TABLE ${relName(stmt.relation)} PARTITION OF ${relName(parent)} locks ${relName(parent)} against reads and writes`);
        } else if (referenced.length > 0) {
          locks(`CREATE TABLE ${relName(stmt.relation)} adds a foreign key, which locks the referenced table ${referenced.map(relName).join(', ')} against writes`);
        }
        break;
      }
      case 'CreateTableAsStmt': {
        const stmt = (node as { CreateTableAsStmt: { into?: { rel?: RangeVar } } }).CreateTableAsStmt;
        created.add(stmt.into?.rel);
        break;
      }
      case 'IndexStmt': {
        const stmt = (node as { IndexStmt: IndexStmt }).IndexStmt;
        const table = relName(stmt.relation);
        const name = stmt.idxname ? `index ${stmt.idxname}` : 'an index';
        if (stmt.idxname) createdIndexes.add(stmt.idxname);
        if (stmt.concurrent) {
          concurrently(`CREATE INDEX CONCURRENTLY (${name} on ${table})`);
          break;
        }
        if (created.has(stmt.relation)) break;
        // `CREATE INDEX ... ON ONLY parent` creates an invalid index on a partitioned table's
        // parent alone, instantly: the documented first step of indexing partitions one by one.
        // (`inh` is omitted when false, like every protobuf default.)
        if (stmt.relation?.inh !== true) break;
        locks(`CREATE INDEX (${name} on ${table}) locks ${table} against writes`);
        report({
          rule: 'index-not-concurrent', ...stmtAt(),
          message: `CREATE ${stmt.unique ? 'UNIQUE ' : ''}INDEX builds ${name} on the existing table ${table} without CONCURRENTLY`,
          fix: `CREATE ${stmt.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY IF NOT EXISTS ${stmt.idxname ?? '<name>'} ON ${table} (...) in its own migration whose first line is ${NO_TX}.`,
        });
        break;
      }
      case 'DropStmt': {
        const stmt = (node as { DropStmt: DropStmt }).DropStmt;
        const objects = (stmt.objects ?? []).map((o) => ('List' in o ? stringsOf(o.List.items) : []));
        if (stmt.removeType === 'OBJECT_INDEX') {
          if (stmt.concurrent) {
            concurrently(`DROP INDEX CONCURRENTLY (${objects.map((o) => o.join('.')).join(', ')})`);
            break;
          }
          for (const parts of objects) {
            const name = parts.at(-1) ?? '';
            if (createdIndexes.has(name)) continue;
            locks(`DROP INDEX ${parts.join('.')} locks its table against reads and writes`);
            report({
              rule: 'drop-index-not-concurrent', ...stmtAt(),
              message: `DROP INDEX ${parts.join('.')} without CONCURRENTLY`,
              fix: `DROP INDEX CONCURRENTLY IF EXISTS ${parts.join('.')} in its own migration whose first line is ${NO_TX}.`,
            });
          }
        } else if (stmt.removeType === 'OBJECT_TABLE') {
          for (const parts of objects) {
            const rv = rangeVarOf(parts);
            if (created.has(rv)) continue;
            locks(`DROP TABLE ${parts.join('.')} locks it against reads and writes`);
            report({ rule: 'drop-table', ...stmtAt(), message: `DROP TABLE ${parts.join('.')} removes a table the running old version may still use` });
          }
        } else if (stmt.removeType === 'OBJECT_TRIGGER') {
          const table = (objects[0] ?? []).slice(0, -1);
          if (table.length > 0 && !created.has(rangeVarOf(table))) locks(`DROP TRIGGER locks ${table.join('.')} against reads and writes`);
        }
        break;
      }
      case 'RenameStmt': {
        const stmt = (node as { RenameStmt: RenameStmt }).RenameStmt;
        const table = relName(stmt.relation);
        if (stmt.renameType === 'OBJECT_TABLE') {
          if (created.has(stmt.relation)) {
            created.add({ ...stmt.relation, relname: stmt.newname ?? '' });
            break;
          }
          locks(`ALTER TABLE ${table} RENAME locks it against reads and writes`);
          report({ rule: 'rename-table', ...stmtAt(), message: `renames table ${table} to ${stmt.newname ?? '?'} while the running old version still uses the old name` });
        } else if (stmt.renameType === 'OBJECT_COLUMN' && stmt.relationType === 'OBJECT_TABLE') {
          if (created.has(stmt.relation) || addedColumns.has(`${stmt.relation?.relname}.${stmt.subname}`)) break;
          locks(`ALTER TABLE ${table} RENAME COLUMN locks it against reads and writes`);
          report({ rule: 'rename-column', ...stmtAt(), message: `renames column ${stmt.subname ?? '?'} of ${table} to ${stmt.newname ?? '?'} while the running old version still uses the old name` });
        }
        break;
      }
      case 'AlterTableStmt': {
        const stmt = (node as { AlterTableStmt: AlterTableStmt }).AlterTableStmt;
        if (stmt.objtype !== 'OBJECT_TABLE') break;
        const cmds = (stmt.cmds ?? []).flatMap((c) => ('AlterTableCmd' in c ? [c.AlterTableCmd] : []));
        const isNew = created.has(stmt.relation);
        const table = relName(stmt.relation);
        const relname = stmt.relation?.relname ?? '';
        cmds.forEach((cmd, k) => {
          // Check first, then record: a constraint must not prove its own SET NOT NULL safe.
          if (!isNew) {
            for (const f of alterTableCommand(cmd, table, relname, { addedColumns, validated })) {
              report({ ...f, ...cmdAt(k) });
            }
          }
          if (cmd.subtype === 'AT_AddColumn' && cmd.def && 'ColumnDef' in cmd.def && cmd.def.ColumnDef.colname) {
            addedColumns.add(`${relname}.${cmd.def.ColumnDef.colname}`);
          }
          if (cmd.subtype === 'AT_AddConstraint' && cmd.def && 'Constraint' in cmd.def) {
            rememberConstraint(constraints, validated, relname, cmd.def.Constraint);
          }
          if (cmd.subtype === 'AT_ValidateConstraint' && cmd.name) {
            const known = constraints.get(cmd.name);
            validated.push({ table: relname, notNullColumn: known?.notNullColumn, known: known !== undefined });
          }
          if (cmd.subtype === 'AT_DetachPartition' && cmd.def && 'PartitionCmd' in cmd.def && cmd.def.PartitionCmd.concurrent) {
            concurrently(`ALTER TABLE ${table} DETACH PARTITION ... CONCURRENTLY`);
          }
        });
        if (!isNew && cmds.some((c) => !WEAK_LOCK_SUBCOMMANDS.has(c.subtype ?? '') && !isConcurrentDetach(c))) {
          // Only a foreign key is added under SHARE ROW EXCLUSIVE; every other change takes ACCESS EXCLUSIVE.
          const writesOnly = cmds.every((c) => c.subtype === 'AT_AddConstraint' && c.def !== undefined && 'Constraint' in c.def && c.def.Constraint.contype === 'CONSTR_FOREIGN');
          locks(`ALTER TABLE ${table} locks it against ${writesOnly ? 'writes' : 'reads and writes'}`);
        }
        break;
      }
      case 'AlterEnumStmt': {
        const stmt = (node as { AlterEnumStmt: { typeName?: Node[]; newVal?: string; oldVal?: string } }).AlterEnumStmt;
        if (stmt.oldVal !== undefined || options.noTransaction) break; // RENAME VALUE is fine anywhere
        report({
          rule: 'enum-value-in-transaction', ...stmtAt(),
          message: `ALTER TYPE ${stringsOf(stmt.typeName).join('.')} ADD VALUE '${stmt.newVal ?? ''}' runs inside the migration's transaction (no ${NO_TX})`,
        });
        break;
      }
      case 'VacuumStmt': {
        const stmt = (node as { VacuumStmt: { options?: Node[]; rels?: Node[]; is_vacuumcmd?: boolean } }).VacuumStmt;
        const full = (stmt.options ?? []).some((o) => 'DefElem' in o && o.DefElem.defname === 'full' && constText(o.DefElem.arg) !== 'false');
        if (!stmt.is_vacuumcmd || !full) break;
        const rels = (stmt.rels ?? []).flatMap((r) => ('VacuumRelation' in r ? [r.VacuumRelation.relation] : []));
        const existing = rels.filter((rv) => !created.has(rv));
        if (rels.length > 0 && existing.length === 0) break;
        const what = existing.length ? existing.map(relName).join(', ') : 'every table of the database';
        locks(`VACUUM FULL locks ${what} against reads and writes`);
        report({ rule: 'vacuum-full', ...stmtAt(), message: `VACUUM FULL rewrites ${what} under an ACCESS EXCLUSIVE lock` });
        break;
      }
      case 'ClusterStmt': {
        const stmt = (node as { ClusterStmt: { relation?: RangeVar } }).ClusterStmt;
        if (created.has(stmt.relation)) break;
        const what = stmt.relation ? relName(stmt.relation) : 'every previously clustered table';
        locks(`CLUSTER locks ${what} against reads and writes`);
        report({ rule: 'cluster', ...stmtAt(), message: `CLUSTER rewrites ${what} under an ACCESS EXCLUSIVE lock` });
        break;
      }
      case 'LockStmt': {
        const stmt = (node as { LockStmt: { relations?: Node[]; mode?: number } }).LockStmt;
        const mode = stmt.mode ?? ACCESS_EXCLUSIVE;
        const rels = (stmt.relations ?? []).flatMap((r) => ('RangeVar' in r ? [r.RangeVar] : [])).filter((rv) => !created.has(rv));
        if (mode < SHARE_LOCK || rels.length === 0) break;
        const names = rels.map(relName).join(', ');
        locks(`LOCK TABLE ${names} IN ${LOCK_MODES[mode]} MODE`);
        report({
          rule: 'lock-table', ...stmtAt(),
          message: `LOCK TABLE ${names} IN ${LOCK_MODES[mode]} MODE blocks ${mode === ACCESS_EXCLUSIVE ? 'reads and writes' : 'writes'} until the migration commits`,
        });
        break;
      }
      case 'TruncateStmt': {
        const stmt = (node as { TruncateStmt: { relations?: Node[] } }).TruncateStmt;
        const rels = (stmt.relations ?? []).flatMap((r) => ('RangeVar' in r ? [r.RangeVar] : [])).filter((rv) => !created.has(rv));
        if (rels.length) locks(`TRUNCATE locks ${rels.map(relName).join(', ')} against reads and writes`);
        break;
      }
      case 'CreateTrigStmt': {
        const stmt = (node as { CreateTrigStmt: { relation?: RangeVar } }).CreateTrigStmt;
        if (!created.has(stmt.relation)) locks(`CREATE TRIGGER locks ${relName(stmt.relation)} against writes`);
        break;
      }
      case 'ReindexStmt': {
        const stmt = (node as { ReindexStmt: { params?: Node[]; relation?: RangeVar } }).ReindexStmt;
        const concurrent = (stmt.params ?? []).some((p) => 'DefElem' in p && p.DefElem.defname === 'concurrently' && constText(p.DefElem.arg) !== 'false');
        if (concurrent) concurrently('REINDEX CONCURRENTLY');
        else if (!created.has(stmt.relation)) locks(`REINDEX ${relName(stmt.relation)} blocks writes`);
        break;
      }
      case 'RefreshMatViewStmt': {
        const stmt = (node as { RefreshMatViewStmt: { concurrent?: boolean; relation?: RangeVar } }).RefreshMatViewStmt;
        if (!stmt.concurrent && !created.has(stmt.relation)) locks(`REFRESH MATERIALIZED VIEW ${relName(stmt.relation)} locks it against reads`);
        break;
      }
      case 'UpdateStmt':
      case 'DeleteStmt': {
        const verb = kindOf(node) === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
        const stmt = (node as { UpdateStmt?: { relation?: RangeVar; whereClause?: Node } } & { DeleteStmt?: { relation?: RangeVar; whereClause?: Node } });
        const body = stmt.UpdateStmt ?? stmt.DeleteStmt;
        if (body?.whereClause === undefined && !created.has(body?.relation)) {
          wholeTableDml.push({ statement: index, verb, table: relName(body?.relation) });
        }
        break;
      }
      case 'VariableSetStmt': {
        const stmt = (node as { VariableSetStmt: VariableSetStmt }).VariableSetStmt;
        if (stmt.kind === 'VAR_RESET_ALL') lockTimeout = false;
        if (stmt.name !== 'lock_timeout') break;
        // SET LOCAL outside a transaction block (a no-transaction file) lasts for no statement.
        if (stmt.is_local && options.noTransaction) break;
        lockTimeout = stmt.kind === 'VAR_SET_VALUE' && !isZeroTimeout(constText(stmt.args?.[0]));
        break;
      }
      case 'SelectStmt': {
        const stmt = (node as { SelectStmt: SelectStmt }).SelectStmt;
        for (const target of stmt.targetList ?? []) {
          if (!('ResTarget' in target)) continue;
          const value = target.ResTarget.val;
          if (value === undefined || !('FuncCall' in value)) continue;
          const call = value.FuncCall;
          if (stringsOf(call.funcname).at(-1) !== 'set_config' || constText(call.args?.[0]) !== 'lock_timeout') continue;
          if (constText(call.args?.[2]) === 'true' && options.noTransaction) continue;
          lockTimeout = !isZeroTimeout(constText(call.args?.[1]));
        }
        break;
      }
      default:
        break;
    }
  });

  if (lockingDdl) {
    for (const dml of wholeTableDml) {
      findings.push({
        rule: 'whole-table-dml-with-ddl', statement: dml.statement,
        byte: parsed.statements[dml.statement]?.byteOffset ?? 0,
        ...(options.noTransaction ? { severity: 'warning' as const } : {}),
        message: `${dml.verb} of every row of ${dml.table} (no WHERE) in a migration that also locks tables with DDL` +
          (options.noTransaction ? '; the file runs without a transaction, so the lock is not held throughout, but it is still one huge statement' : ''),
      });
    }
  }
  return findings;
}

type CommandFinding = Omit<RawFinding, 'statement' | 'byte'>;

function alterTableCommand(
  cmd: AlterTableCmd,
  table: string,
  relname: string,
  state: {
    addedColumns: Set<string>;
    validated: readonly Validated[];
  },
): CommandFinding[] {
  const out: CommandFinding[] = [];
  switch (cmd.subtype) {
    case 'AT_AddColumn': {
      if (!cmd.def || !('ColumnDef' in cmd.def)) break;
      out.push(...addColumn(cmd.def.ColumnDef, table));
      break;
    }
    case 'AT_DropColumn': {
      if (state.addedColumns.has(`${relname}.${cmd.name}`)) break;
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
      break;
    }
    case 'AT_SetNotNull': {
      const column = cmd.name ?? '?';
      if (provenNotNull(state.validated, relname, column)) break;
      out.push({
        rule: 'set-not-null',
        message: `SET NOT NULL on column ${column} of the existing table ${table} scans it under an ACCESS EXCLUSIVE lock`,
        fix: setNotNullFix(table, relname, column),
      });
      break;
    }
    case 'AT_AddConstraint': {
      if (!cmd.def || !('Constraint' in cmd.def)) break;
      const c = cmd.def.Constraint;
      const name = c.conname ? ` ${c.conname}` : '';
      if ((c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') && !c.skip_validation) {
        const kind = c.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK';
        out.push({
          rule: 'constraint-without-not-valid',
          message: `adds ${kind} constraint${name} to ${table} without NOT VALID` +
            (c.contype === 'CONSTR_FOREIGN' ? `, checking every row while ${table} and ${relName(c.pktable)} are locked against writes` : ', checking every row while the table is locked'),
          fix: `ALTER TABLE ${table} ADD CONSTRAINT ${c.conname ?? '<name>'} ... NOT VALID; then, in a later statement or migration, ALTER TABLE ${table} VALIDATE CONSTRAINT ${c.conname ?? '<name>'}.`,
        });
      } else if ((c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY') && !c.indexname) {
        const kind = c.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY';
        const cols = stringsOf(c.keys).join(', ');
        out.push({
          rule: 'unique-without-index',
          message: `adds ${kind} constraint${name} to ${table}, building its index under an ACCESS EXCLUSIVE lock`,
          fix: `CREATE UNIQUE INDEX CONCURRENTLY <index> ON ${table} (${cols}) in a ${NO_TX} migration, then ALTER TABLE ${table} ADD CONSTRAINT ${c.conname ?? '<name>'} ${kind} USING INDEX <index>.`,
        });
      } else if (c.contype === 'CONSTR_NOTNULL' && !c.skip_validation) {
        const column = stringsOf(c.keys)[0] ?? '?';
        if (provenNotNull(state.validated, relname, column)) break;
        out.push({
          rule: 'set-not-null',
          message: `adds NOT NULL constraint${name} on column ${column} of the existing table ${table}, which scans it under an ACCESS EXCLUSIVE lock`,
          fix: `${setNotNullFix(table, relname, column)} On PostgreSQL 18 you can also ADD CONSTRAINT ... NOT NULL ${column} NOT VALID, then VALIDATE CONSTRAINT.`,
        });
      }
      break;
    }
    default:
      break;
  }
  return out;
}

function addColumn(col: ColumnDef, table: string): CommandFinding[] {
  const out: CommandFinding[] = [];
  const name = col.colname ?? '?';
  const constraints = (col.constraints ?? []).flatMap((c) => ('Constraint' in c ? [c.Constraint] : []));
  const has = (type: Constraint['contype']) => constraints.some((c) => c.contype === type);
  const serial = SERIAL_TYPES.has(baseTypeName(col.typeName)) && (col.typeName?.names?.length ?? 0) === 1;
  const defaultExpr = constraints.find((c) => c.contype === 'CONSTR_DEFAULT')?.raw_expr;
  const generated = constraints.find((c) => c.contype === 'CONSTR_GENERATED');
  const identity = has('CONSTR_IDENTITY');

  const rewrite = (message: string, severity?: Severity): void => {
    out.push({
      rule: 'volatile-default', ...(severity ? { severity } : {}),
      message: `adds column ${name} to ${table} ${message}`,
    });
  };
  if (serial) rewrite(`as ${baseTypeName(col.typeName)}: every existing row gets a nextval(), so the table is rewritten`);
  else if (identity) rewrite('as an identity column: every existing row gets a value, so the table is rewritten');
  // PostgreSQL 18's VIRTUAL generated columns are computed on read: no rewrite.
  else if (generated && generated.generated_kind !== 'v') rewrite('as a STORED generated column: every row is computed and the table is rewritten');
  else if (defaultExpr !== undefined) {
    const calls = functionCalls(defaultExpr).map((parts) => parts.at(-1) ?? '');
    const volatile = calls.find((f) => VOLATILE_FUNCTIONS.has(f));
    const unknown = calls.find((f) => !VOLATILE_FUNCTIONS.has(f) && !NON_VOLATILE_FUNCTIONS.has(f));
    if (volatile !== undefined) rewrite(`with DEFAULT ${volatile}(), which is volatile: the table is rewritten`);
    else if (unknown !== undefined) {
      rewrite(`with DEFAULT ${unknown}(), which rewrites the table if the function is VOLATILE (the default for CREATE FUNCTION; berth cannot see its definition)`, 'warning');
    }
  }

  const notNull = has('CONSTR_NOTNULL') || has('CONSTR_PRIMARY');
  if (notNull && defaultExpr === undefined && !serial && !identity && !generated) {
    out.push({
      rule: 'not-null-without-default',
      message: `adds column ${name} to the existing table ${table} as NOT NULL without a DEFAULT`,
    });
  }
  for (const c of constraints) {
    if (c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') {
      const kind = c.contype === 'CONSTR_FOREIGN' ? `REFERENCES ${relName(c.pktable)}` : 'CHECK';
      out.push({
        rule: 'constraint-without-not-valid',
        message: `adds column ${name} to ${table} with an inline ${kind} constraint, which is validated against every row while the table is locked`,
        fix: `Add the column without the constraint, then ALTER TABLE ${table} ADD CONSTRAINT <name> ${c.contype === 'CONSTR_FOREIGN' ? `FOREIGN KEY (${name}) ${kind}` : 'CHECK (...)'} NOT VALID, and VALIDATE CONSTRAINT <name> later.`,
      });
    } else if (c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY') {
      const kind = c.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY';
      out.push({
        rule: 'unique-without-index',
        message: `adds column ${name} to ${table} as ${kind}, building its index under an ACCESS EXCLUSIVE lock`,
        fix: `Add the column plain, CREATE UNIQUE INDEX CONCURRENTLY <index> ON ${table} (${name}) in a ${NO_TX} migration, then ADD CONSTRAINT <name> ${kind} USING INDEX <index>.`,
      });
    }
  }
  return out;
}

function rememberConstraint(
  constraints: Map<string, KnownConstraint>,
  validated: Validated[],
  table: string,
  c: Constraint,
): void {
  let notNullColumn: string | undefined;
  if (c.contype === 'CONSTR_NOTNULL') notNullColumn = stringsOf(c.keys)[0];
  if (c.contype === 'CONSTR_CHECK' && c.raw_expr && 'NullTest' in c.raw_expr) {
    const test = c.raw_expr.NullTest;
    const arg = test.arg;
    if (test.nulltesttype === 'IS_NOT_NULL' && arg && 'ColumnRef' in arg) {
      const fields = stringsOf(arg.ColumnRef.fields);
      if (fields.length === 1) notNullColumn = fields[0];
    }
  }
  if (c.conname) constraints.set(c.conname, { table, ...(notNullColumn === undefined ? {} : { notNullColumn }) });
  // Added without NOT VALID: valid at once (and flagged by its own rule).
  if (!c.skip_validation && notNullColumn !== undefined) validated.push({ table, notNullColumn, known: true });
}

/**
 * SET NOT NULL is fine after a constraint proving it was validated in the same file: PostgreSQL
 * 12+ then skips the scan. A VALIDATE of a constraint this file did not define (added by an
 * earlier migration, the usual two-step pattern) gets the benefit of the doubt.
 */
function provenNotNull(
  validated: readonly Validated[],
  table: string,
  column: string,
): boolean {
  return validated.some((v) => v.table === table && (v.known ? v.notNullColumn === column : true));
}

function setNotNullFix(table: string, relname: string, column: string): string {
  const check = `${relname}_${column}_not_null`;
  return `ALTER TABLE ${table} ADD CONSTRAINT ${check} CHECK (${column} IS NOT NULL) NOT VALID; ` +
    `then (in a later migration) ALTER TABLE ${table} VALIDATE CONSTRAINT ${check}; ` +
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
