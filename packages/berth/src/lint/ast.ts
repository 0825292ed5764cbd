/**
 * Small readers over libpg-query's JSON parse tree. Nodes are `{ Kind: {...fields} }`; fields at
 * their protobuf default (0, false, "") are omitted, so `{ "ival": {} }` is the integer 0.
 */

import type { A_Const, Node, RangeVar, TypeName } from 'libpg-query';

/** The node's kind, e.g. `AlterTableStmt`. */
export function kindOf(node: Node): string {
  for (const key in node) return key;
  return '';
}

/** The `String` values of a name list such as `funcname` or `names`, lower-cased by the parser already. */
export function stringsOf(list: readonly Node[] | undefined): string[] {
  const out: string[] = [];
  for (const item of list ?? []) if ('String' in item) out.push(item.String.sval ?? '');
  return out;
}

/** A table reference as written, without quotes: `users` or `app.users`. */
export function relName(rv: RangeVar | undefined): string {
  if (rv === undefined) return '?';
  return rv.schemaname ? `${rv.schemaname}.${rv.relname ?? ''}` : rv.relname ?? '';
}

/** A constant's value as text (`5s`, `0`), or undefined when the node is not a constant. */
export function constText(node: Node | undefined): string | undefined {
  if (node === undefined) return undefined;
  if ('A_Const' in node) return aConstText(node.A_Const);
  if ('TypeCast' in node) return constText(node.TypeCast.arg);
  return undefined;
}

function aConstText(c: A_Const): string | undefined {
  if (c.isnull) return undefined;
  if (c.sval !== undefined) return c.sval.sval ?? '';
  if (c.ival !== undefined) return String(c.ival.ival ?? 0);
  if (c.fval !== undefined) return c.fval.fval ?? '0';
  if (c.boolval !== undefined) return c.boolval.boolval ? 'true' : 'false';
  return undefined;
}

/** `varchar(20)`, `numeric`, `text[]`: enough to name a type in a message. */
export function typeText(t: TypeName | undefined): string {
  if (t === undefined) return '?';
  const names = stringsOf(t.names);
  const base = names.length === 2 && names[0] === 'pg_catalog' ? names[1] ?? '' : names.join('.');
  const mods = (t.typmods ?? []).map((m) => constText(m) ?? '?');
  return `${PRETTY_TYPES[base] ?? base}${mods.length ? `(${mods.join(',')})` : ''}${t.arrayBounds?.length ? '[]' : ''}`;
}

/** The bare type name (`varchar`, `int4`, `bigserial`), without schema or modifiers. */
export function baseTypeName(t: TypeName | undefined): string {
  return stringsOf(t?.names).at(-1) ?? '';
}

const PRETTY_TYPES: Record<string, string> = {
  int2: 'smallint', int4: 'integer', int8: 'bigint', float4: 'real', float8: 'double precision', bool: 'boolean',
  bpchar: 'char', timestamptz: 'timestamptz',
};

/** Every `FuncCall` anywhere below `node` (default expressions, WHERE clauses...). */
export function functionCalls(node: unknown, out: string[][] = []): string[][] {
  if (Array.isArray(node)) {
    for (const item of node) functionCalls(item, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'FuncCall') out.push(stringsOf((value as { funcname?: Node[] }).funcname));
      functionCalls(value, out);
    }
  }
  return out;
}

/** The text of every string constant below `node` (`'refunded'` in `SET status = 'refunded'`). */
export function stringConstants(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) stringConstants(item, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'A_Const') {
        const sval = (value as { sval?: { sval?: string } }).sval;
        if (sval !== undefined) out.push(sval.sval ?? '');
      } else {
        stringConstants(value, out);
      }
    }
  }
  return out;
}
