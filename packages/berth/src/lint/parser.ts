/**
 * The PostgreSQL parser `berth lint` uses: libpg-query, PostgreSQL 18's own grammar compiled to
 * WebAssembly. It is loaded on first use only (about 20 ms to instantiate, 1.7 MB of WASM), so
 * commands that do not lint never pay for it, and the build keeps it external because it
 * locates its .wasm file next to its own code.
 *
 * The rest of the lint code sees only this interface, and only plain data comes out of it, so the
 * rules are pure functions over (file name, text, parse results).
 */

import type { Node } from 'libpg-query';

export interface RawStatement {
  readonly stmt: Node;
  /** Byte offset of the statement in the parsed text (UTF-8), absent for 0. */
  readonly stmt_location?: number;
  readonly stmt_len?: number;
}

export type ParseOutcome =
  | { readonly ok: true; readonly stmts: readonly RawStatement[] }
  | {
      readonly ok: false;
      readonly message: string;
      /** 0-based character (not byte) index of the error in the parsed text, or -1 when unknown. */
      readonly position: number;
    };

export interface ScanToken {
  /** Byte offsets (UTF-8) into the scanned text. */
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly tokenName: string;
}

export interface SqlParser {
  /** PostgreSQL version of the grammar, e.g. 180004. */
  readonly version: number;
  parse(sql: string): ParseOutcome;
  scan(sql: string): readonly ScanToken[];
}

let loading: Promise<SqlParser> | undefined;

/** The parser, instantiated once per process. */
export function loadParser(): Promise<SqlParser> {
  loading ??= instantiate();
  return loading;
}

async function instantiate(): Promise<SqlParser> {
  const pg = await import('libpg-query');
  await pg.loadModule();
  const version = (pg.parseSync('SELECT 1') as { version?: number }).version ?? 0;
  return {
    version,
    parse(sql: string): ParseOutcome {
      try {
        const result = pg.parseSync(sql) as { stmts?: RawStatement[] };
        return { ok: true, stmts: result.stmts ?? [] };
      } catch (err) {
        const details = (err as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
        const message = details?.message ?? (err instanceof Error ? err.message : String(err));
        return { ok: false, message, position: details?.cursorPosition ?? -1 };
      }
    },
    scan(sql: string): readonly ScanToken[] {
      return pg.scanSync(sql).tokens;
    },
  };
}
