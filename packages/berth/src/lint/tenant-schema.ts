/**
 * `outside-tenant-schema`, for files a `--schema-per-target` fleet runs (docs/fleets.md): every
 * tenant runs the same file with search_path set to its own schema, so an unqualified name is the
 * tenant's own. What names one object for all tenants instead: a schema-qualified name of what a
 * DDL statement creates, changes or drops; CREATE or DROP SCHEMA; CREATE EXTENSION without SCHEMA
 * (it lands in the first tenant's schema, and IF NOT EXISTS skips it for every other) and DROP
 * EXTENSION; a change of search_path. References to shared objects (a foreign key to public.plans, an INSERT into a
 * shared log) are left alone: they are how tenants use what is shared on purpose.
 */
import type { Node, RangeVar } from 'libpg-query';
import { constText, stringsOf } from './ast.js';

/** What a statement reaches outside the tenant's schema, as a finding's message; undefined if nothing. */
export function outsideTenantSchema(kind: string, body: unknown): string | undefined {
  const b = body as Record<string, unknown>;
  const verb = VERBS[kind];
  if (verb !== undefined) {
    const named = qualified(verb.target(b));
    return named && `${verb.text} ${named} names schema ${named.split('.')[0]}: every tenant's run reaches that one object, so the second fails ("already exists") or they all share it`;
  }
  switch (kind) {
    case 'DropStmt': {
      const what = String(b.removeType ?? '').replace(/^OBJECT_/, '');
      const objects = (b.objects as Node[] | undefined) ?? [];
      if (what === 'SCHEMA' || what === 'EXTENSION') {
        return `DROP ${what} ${stringsOf(objects).join(', ')}: there is one for all tenants, so the first tenant's run drops it for every other`;
      }
      // [access method, (schema,) name]: rare in migrations, and not worth a parse of their own.
      if (what === 'OPCLASS' || what === 'OPFAMILY') return undefined;
      // DROP TRIGGER t ON orders is [orders, t]: the table's schema, if any, comes before it.
      const prefixed = PREFIXED.has(what);
      const named = objects
        .map((o) => qualified('List' in o ? stringsOf(o.List.items) : 'ObjectWithArgs' in o ? stringsOf(o.ObjectWithArgs.objname) : 'TypeName' in o ? stringsOf(o.TypeName.names) : undefined, prefixed))
        .find(Boolean);
      return named && `DROP ${what} ${named} names schema ${named.split('.')[0]}: the first tenant's run drops it for all, and the next ones fail (or, with IF EXISTS, find nothing)`;
    }
    case 'CreateSchemaStmt':
      return `CREATE SCHEMA ${String(b.schemaname ?? '?')} makes one schema for all tenants: the second tenant's run fails ("already exists") or, with IF NOT EXISTS, shares it`;
    case 'CreateExtensionStmt': {
      const schema = ((b.options as Node[] | undefined) ?? []).some((o) => 'DefElem' in o && o.DefElem.defname === 'schema');
      return schema ? undefined : `CREATE EXTENSION ${String(b.extname ?? '?')} without SCHEMA installs it into the first tenant's schema: an extension exists once per database, so every other tenant skips it (IF NOT EXISTS) or fails, and cannot see its functions unqualified`;
    }
    case 'VariableSetStmt':
      return b.name === 'search_path' && b.kind !== 'VAR_RESET' && b.kind !== 'VAR_RESET_ALL'
        ? 'SET search_path moves the rest of this migration out of the tenant\'s schema (berth sets it to the tenant\'s schema before each migration)'
        : undefined;
    case 'SelectStmt':
      return setsSearchPath(body) ? 'set_config(\'search_path\', ...) moves the rest of this migration out of the tenant\'s schema (pg_dump output starts with it)' : undefined;
    default:
      return undefined;
  }
}

const rel = (rv: unknown): string[] | undefined => {
  const r = rv as RangeVar | undefined;
  return r?.relname === undefined ? undefined : r.schemaname ? [r.schemaname, r.relname] : [r.relname];
};
const names = (list: unknown): string[] => stringsOf(list as Node[] | undefined);

/** DDL whose object is one name: how its message says it, and where the parser keeps the name. */
const VERBS: Record<string, { text: string; target: (b: Record<string, unknown>) => string[] | undefined }> = {
  CreateStmt: { text: 'CREATE TABLE', target: (b) => rel(b.relation) },
  CreateTableAsStmt: { text: 'CREATE TABLE AS', target: (b) => rel((b.into as { rel?: RangeVar } | undefined)?.rel) },
  ViewStmt: { text: 'CREATE VIEW', target: (b) => rel(b.view) },
  CreateSeqStmt: { text: 'CREATE SEQUENCE', target: (b) => rel(b.sequence) },
  AlterSeqStmt: { text: 'ALTER SEQUENCE', target: (b) => rel(b.sequence) },
  IndexStmt: { text: 'CREATE INDEX on', target: (b) => rel(b.relation) },
  AlterTableStmt: { text: 'ALTER TABLE', target: (b) => rel(b.relation) },
  RenameStmt: { text: 'ALTER ... RENAME of', target: (b) => rel(b.relation) },
  CreateTrigStmt: { text: 'CREATE TRIGGER on', target: (b) => rel(b.relation) },
  CompositeTypeStmt: { text: 'CREATE TYPE', target: (b) => rel(b.typevar) },
  CreateEnumStmt: { text: 'CREATE TYPE', target: (b) => names(b.typeName) },
  AlterEnumStmt: { text: 'ALTER TYPE', target: (b) => names(b.typeName) },
  CreateRangeStmt: { text: 'CREATE TYPE', target: (b) => names(b.typeName) },
  CreateDomainStmt: { text: 'CREATE DOMAIN', target: (b) => names(b.domainname) },
  CreateFunctionStmt: { text: 'CREATE FUNCTION', target: (b) => names(b.funcname) },
  DefineStmt: { text: 'CREATE', target: (b) => names(b.defnames) },
};

/** Objects a DROP names after their table: [schema,] table, name. */
const PREFIXED: ReadonlySet<string> = new Set(['TRIGGER', 'RULE', 'POLICY']);

/**
 * `schema.name` when the name is qualified with a schema a tenant's run shares (pg_temp is per
 * session); for an object named after its table, `schema.table.name`.
 */
function qualified(parts: readonly string[] | undefined, prefixed = false): string | undefined {
  const size = prefixed ? 3 : 2;
  if (parts === undefined || parts.length < size) return undefined;
  const named = parts.slice(-size);
  const schema = named[0]!;
  return schema === 'pg_temp' || schema.startsWith('pg_temp_') ? undefined : named.join('.');
}

/** A call of set_config('search_path', ...) anywhere in the statement. */
function setsSearchPath(node: unknown): boolean {
  if (node === null || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some(setsSearchPath);
  const n = node as Record<string, unknown>;
  const call = n.FuncCall as { funcname?: Node[]; args?: Node[] } | undefined;
  if (call && stringsOf(call.funcname).at(-1) === 'set_config') {
    if (constText(call.args?.[0]) === 'search_path') return true;
  }
  return Object.values(n).some(setsSearchPath);
}
