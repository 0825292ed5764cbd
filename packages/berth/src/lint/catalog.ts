/**
 * What the migrations linted so far say about the schema: which columns are NOT NULL, which
 * columns an index covers, what a named constraint is, the values of an enum. `berth lint <dir>`
 * reads the files in version order and shares one Catalog between them, so a later migration's
 * `PRIMARY KEY USING INDEX` or `VALIDATE CONSTRAINT` is judged with what an earlier one created.
 *
 * Knowledge only, never an exemption of its own: a table created by an earlier migration has
 * rows by the time a later one runs, so "created in this file" (analyze.ts) stays per file.
 * Names are matched without their schema, as most migration sets use one schema.
 */

export type ConstraintKind = 'check' | 'foreign' | 'unique' | 'primary' | 'exclusion' | 'notnull' | 'other';

export interface KnownConstraint {
  readonly table: string;
  readonly kind: ConstraintKind;
  /** Set when the constraint is `CHECK (col IS NOT NULL)` or a `NOT NULL col` constraint. */
  readonly notNullColumn?: string;
  /** Added without NOT VALID, or validated since. */
  readonly valid: boolean;
}

export interface KnownIndex {
  readonly table: string;
  /** Key columns; undefined for an expression. */
  readonly columns: readonly (string | undefined)[];
}

/** A Catalog as plain data, for the lint cache (cache.ts). */
export interface CatalogState {
  readonly columns: [string, [string, boolean][]][];
  readonly indexes: [string, KnownIndex][];
  readonly constraints: [string, KnownConstraint][];
  readonly enums: [string, string[]][];
}

export class Catalog {
  /** table → column → NOT NULL */
  readonly #columns = new Map<string, Map<string, boolean>>();
  readonly #indexes = new Map<string, KnownIndex>();
  readonly #constraints = new Map<string, KnownConstraint>();
  /** table → column → names of valid constraints proving it NOT NULL, kept in step with #constraints. */
  readonly #proofs = new Map<string, Map<string, Set<string>>>();
  readonly #enums = new Map<string, string[]>();

  static fromState(state: CatalogState): Catalog {
    const catalog = new Catalog();
    for (const [table, columns] of state.columns) catalog.#columns.set(table, new Map(columns));
    for (const [name, index] of state.indexes) catalog.#indexes.set(name, index);
    for (const [name, constraint] of state.constraints) catalog.addConstraint(name, constraint);
    for (const [name, values] of state.enums) catalog.#enums.set(name, [...values]);
    return catalog;
  }

  state(): CatalogState {
    return {
      columns: [...this.#columns].map(([table, columns]) => [table, [...columns]]),
      indexes: [...this.#indexes],
      constraints: [...this.#constraints],
      enums: [...this.#enums].map(([name, values]) => [name, [...values]]),
    };
  }

  /** True/false when a migration defined the column, undefined when unknown. */
  notNull(table: string, column: string): boolean | undefined {
    return this.#columns.get(table)?.get(column);
  }

  setColumn(table: string, column: string, notNull: boolean): void {
    let columns = this.#columns.get(table);
    if (columns === undefined) this.#columns.set(table, (columns = new Map()));
    columns.set(column, notNull);
  }

  /** SET NOT NULL / DROP NOT NULL on a column: only known columns change. */
  changeNotNull(table: string, column: string, notNull: boolean): void {
    const columns = this.#columns.get(table);
    if (columns === undefined) {
      // A table created before the linted migrations: the column is now known to be that.
      this.setColumn(table, column, notNull);
      return;
    }
    columns.set(column, notNull);
  }

  dropColumn(table: string, column: string): void {
    this.#columns.get(table)?.delete(column);
  }

  renameColumn(table: string, from: string, to: string): void {
    const columns = this.#columns.get(table);
    const notNull = columns?.get(from);
    if (columns === undefined || notNull === undefined) return;
    columns.delete(from);
    columns.set(to, notNull);
  }

  renameTable(from: string, to: string): void {
    const columns = this.#columns.get(from);
    if (columns !== undefined) {
      this.#columns.delete(from);
      this.#columns.set(to, columns);
    }
  }

  dropTable(table: string): void {
    this.#columns.delete(table);
  }

  index(name: string): KnownIndex | undefined {
    return this.#indexes.get(name);
  }

  addIndex(name: string, index: KnownIndex): void {
    this.#indexes.set(name, index);
  }

  dropIndex(name: string): void {
    this.#indexes.delete(name);
  }

  constraint(name: string): KnownConstraint | undefined {
    return this.#constraints.get(name);
  }

  addConstraint(name: string, constraint: KnownConstraint): void {
    this.dropConstraint(name);
    this.#constraints.set(name, constraint);
    this.#prove(name, constraint);
  }

  validateConstraint(name: string): void {
    const known = this.#constraints.get(name);
    if (known !== undefined) this.addConstraint(name, { ...known, valid: true });
  }

  dropConstraint(name: string): void {
    const known = this.#constraints.get(name);
    if (known?.notNullColumn !== undefined) this.#proofs.get(known.table)?.get(known.notNullColumn)?.delete(name);
    this.#constraints.delete(name);
  }

  /** A valid CHECK (col IS NOT NULL) on the table proves the column NOT NULL (PostgreSQL 12+). */
  provesNotNull(table: string, column: string): boolean {
    return (this.#proofs.get(table)?.get(column)?.size ?? 0) > 0;
  }

  #prove(name: string, c: KnownConstraint): void {
    if (!c.valid || c.notNullColumn === undefined) return;
    let columns = this.#proofs.get(c.table);
    if (columns === undefined) this.#proofs.set(c.table, (columns = new Map()));
    let names = columns.get(c.notNullColumn);
    if (names === undefined) columns.set(c.notNullColumn, (names = new Set()));
    names.add(name);
  }

  enumValues(type: string): readonly string[] | undefined {
    return this.#enums.get(type);
  }

  setEnum(type: string, values: string[]): void {
    this.#enums.set(type, values);
  }

  addEnumValue(type: string, value: string, neighbor: string | undefined, after: boolean): void {
    const values = this.#enums.get(type);
    if (values === undefined || values.includes(value)) return;
    const at = neighbor === undefined ? -1 : values.indexOf(neighbor);
    if (at < 0) values.push(value);
    else values.splice(after ? at + 1 : at, 0, value);
  }

  renameEnumValue(type: string, from: string, to: string): void {
    const values = this.#enums.get(type);
    const at = values?.indexOf(from) ?? -1;
    if (values !== undefined && at >= 0) values[at] = to;
  }
}
