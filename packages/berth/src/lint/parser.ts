/**
 * The PostgreSQL parser `berth lint` uses: libpg-query, PostgreSQL 18's own grammar compiled to
 * WebAssembly. It is loaded on first use only, so commands that do not lint never pay for it,
 * and the build keeps it external because it locates its .wasm file next to its own code.
 *
 * berth talks to the package's Emscripten module (`wasm/libpg-query.js`) itself rather than
 * through its `parseSync` wrapper, for time and memory (bench/lint.mjs): the wrapper finds the
 * end of each result with a JavaScript loop over the WebAssembly memory and keeps the 1.7 MB
 * .wasm file's bytes alive for the whole run; here the end is found with `indexOf`, the text
 * decoded by TextDecoder, and the bytes dropped once compiled. The calls are the package's own
 * exports (`_wasm_parse_query_raw`, `_wasm_scan`, `_malloc`...); test/unit/lint-parser.test.ts
 * pins their behaviour, so an upgrade that changes them fails there.
 *
 * The rest of the lint code sees only this interface, and only plain data comes out of it, so the
 * rules are pure functions over (file name, text, parse results).
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Node } from 'libpg-query';

export interface RawStatement {
  readonly stmt: Node;
  /** Byte offset of the statement in the parsed text (UTF-8), absent for 0. */
  readonly stmt_location?: number;
  /** Length in bytes; absent (0) for a last statement that runs to the end of the text. */
  readonly stmt_len?: number;
}

export type ParseOutcome =
  | {
      readonly ok: true;
      readonly stmts: readonly RawStatement[];
      /** The parse tree as the parser printed it (identifier checks look for names in it). */
      readonly json: string;
    }
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

/** What berth uses of the Emscripten module. */
interface PgQueryModule {
  readonly HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _wasm_parse_query_raw(query: number): number;
  _wasm_free_parse_result(result: number): void;
  _wasm_scan(query: number): number;
  _wasm_free_string(ptr: number): void;
}

type ModuleFactory = (options: {
  instantiateWasm: (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => object;
}) => Promise<PgQueryModule>;

let loading: Promise<SqlParser> | undefined;

/** The parser, instantiated once per process. */
export function loadParser(): Promise<SqlParser> {
  loading ??= instantiate();
  return loading;
}

async function instantiate(): Promise<SqlParser> {
  const require = createRequire(import.meta.url);
  const glue = (await import('libpg-query/wasm/libpg-query.js')) as { default?: ModuleFactory } & ModuleFactory;
  const factory = glue.default ?? glue;
  const wasmPath = require.resolve('libpg-query/wasm/libpg-query.wasm');
  const pg = await factory({
    instantiateWasm(imports, done) {
      // Compiled asynchronously, from bytes that nothing keeps (V8 holds its own copy): V8
      // decodes and validates the 1.7 MB module on another thread while the caller reads and
      // scans the files, so start loadParser() before that work (lintTargets does).
      void WebAssembly.compile(readFileSync(wasmPath))
        .then((module) => WebAssembly.instantiate(module, imports).then((instance) => done(instance, module)));
      return {};
    },
  });
  return new WasmParser(pg);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class WasmParser implements SqlParser {
  readonly version: number;
  readonly #pg: PgQueryModule;
  /**
   * One input buffer in the module's memory, reused by every call and grown when a text does not
   * fit: each call from JavaScript into WebAssembly costs microseconds without V8's optimising
   * compiler (which the CLI turns off), so a malloc/free pair per parse shows on 1,000 files.
   */
  #input = 0;
  #inputSize = 0;

  constructor(pg: PgQueryModule) {
    this.#pg = pg;
    const probe = this.parse('SELECT 1');
    this.version = probe.ok ? Number(/"version":(\d+)/.exec(probe.json)?.[1] ?? 0) : 0;
  }

  parse(sql: string): ParseOutcome {
    const pg = this.#pg;
    const query = this.#copyIn(sql);
    const result = pg._wasm_parse_query_raw(query);
    try {
      if (result === 0) throw new Error('libpg-query: out of memory');
      // struct PgQueryParseResult { char *parse_tree; char *stderr_buffer; PgQueryError *error; }
      const tree = this.#word(result);
      const error = this.#word(result + 8);
      if (error !== 0) {
        // struct PgQueryError { char *message; char *funcname; char *filename; int lineno; int cursorpos; ... }
        const message = this.#string(this.#word(error)) || 'syntax error';
        const cursor = this.#word(error + 16);
        return { ok: false, message, position: cursor > 0 ? cursor - 1 : -1 };
      }
      const json = this.#string(tree);
      return { ok: true, stmts: (JSON.parse(json) as { stmts?: RawStatement[] }).stmts ?? [], json };
    } finally {
      if (result !== 0) pg._wasm_free_parse_result(result);
    }
  }

  scan(sql: string): readonly ScanToken[] {
    const pg = this.#pg;
    const query = this.#copyIn(sql);
    const result = pg._wasm_scan(query);
    try {
      const text = this.#string(result);
      // The scanner reports failure as text instead of JSON.
      if (!text.startsWith('{')) return [];
      return (JSON.parse(text) as { tokens?: ScanToken[] }).tokens ?? [];
    } finally {
      if (result !== 0) pg._wasm_free_string(result);
    }
  }

  /** `sql` as NUL-terminated UTF-8 in the module's input buffer. */
  #copyIn(sql: string): number {
    const pg = this.#pg;
    const room = sql.length * 3 + 1;
    if (room > this.#inputSize) {
      if (this.#input !== 0) pg._free(this.#input);
      const size = Math.max(room, 64 * 1024);
      this.#input = pg._malloc(size);
      if (this.#input === 0) {
        this.#inputSize = 0;
        throw new Error('libpg-query: out of memory');
      }
      this.#inputSize = size;
    }
    // Read HEAPU8 after _malloc: growing the memory replaces the view.
    const { written } = encoder.encodeInto(sql, pg.HEAPU8.subarray(this.#input, this.#input + room - 1));
    pg.HEAPU8[this.#input + written] = 0;
    return this.#input;
  }

  #word(ptr: number): number {
    const heap = this.#pg.HEAPU8;
    return (heap[ptr]! | (heap[ptr + 1]! << 8) | (heap[ptr + 2]! << 16) | (heap[ptr + 3]! << 24)) >>> 0;
  }

  #string(ptr: number): string {
    if (ptr === 0) return '';
    const heap = this.#pg.HEAPU8;
    const end = heap.indexOf(0, ptr);
    return decoder.decode(heap.subarray(ptr, end < 0 ? heap.length : end));
  }
}
