/**
 * Loads code migrations and code config files (SPEC §2: "TypeScript files load without a
 * separate build step").
 *
 * - `.js`, `.mjs`, `.cjs`: Node's own `import()`, so they behave exactly as in the application.
 * - `.ts`, `.mts`, `.cts`: jiti (unjs), imported only when such a file is loaded. Node 20 cannot
 *   strip types, and jiti's Babel transform handles everything a migration author writes:
 *   `import type`, interfaces, generics, enums, top-level `await`, ESM and CommonJS, with line
 *   numbers kept in stack traces. It runs in-process from a plain `node_modules` install (no
 *   loader hooks, no `--import` flag, no child process), which matters for a CLI started as
 *   PID 1 in a container and for host applications calling the library. Even on a Node that
 *   strips types natively, jiti is used for every `.ts` file, so one file does not load in one
 *   Node version and fail in another (native stripping refuses enums and namespaces).
 *
 * Nothing is written to disk (SPEC §4.8: any UID, no HOME, read-only root file system): jiti's
 * transform cache and its temp-file ESM evaluation are switched off explicitly, which also
 * beats a `JITI_FS_CACHE=1` in the environment.
 *
 * Every failure to load (syntax error, an exception while the module body runs, a missing
 * import) is a `ValidationError` with code `ERR_SOURCE_INVALID` that names the file, and the
 * line and column when they can be found.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { ValidationError } from './errors.js';
import { nativeImport } from './native-import.js';

/** Extensions loaded through jiti; everything else goes to Node's `import()`. */
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

/** The subset of jiti's instance berth uses (typed here so the import stays lazy). */
interface Jiti {
  import(id: string): Promise<unknown>;
  transform(options: { source: string; filename: string; ts?: boolean; async?: boolean }): string;
}

let jiti: Promise<Jiti> | undefined;

function getJiti(): Promise<Jiti> {
  jiti ??= import('jiti').then(({ createJiti }) =>
    createJiti(import.meta.url, {
      fsCache: false,
      rebuildFsCache: false,
      esmEvalTempFile: false,
      // Always transform: a native attempt first would make the outcome depend on the Node version.
      tryNative: false,
      debug: false,
      interopDefault: true,
      // Keep Node's module cache, like `import()` does: loading one file twice runs it once.
      moduleCache: true,
    }) as unknown as Jiti,
  );
  return jiti;
}

/**
 * Imports the module at `file` (absolute, or relative to the working directory) and returns its
 * namespace: named exports as properties, a default export as `default`.
 */
export async function loadModule(file: string): Promise<Record<string, unknown>> {
  const absolute = path.resolve(file);
  const typescript = TYPESCRIPT.has(path.extname(absolute).toLowerCase());
  let loaded: unknown;
  try {
    loaded = typescript
      ? await (await getJiti()).import(absolute)
      : await nativeImport(pathToFileURL(absolute).href);
  } catch (err) {
    throw await loadError(file, absolute, err, typescript);
  }
  if (loaded === null || (typeof loaded !== 'object' && typeof loaded !== 'function')) {
    // A CommonJS `module.exports = 42` through jiti's interop; nothing a caller can look up in.
    return { default: loaded };
  }
  return loaded as Record<string, unknown>;
}

/**
 * A code migration's exports. `Ctx` is what the runner passes (its `MigrationContext`); the
 * loader only checks that `up` and `down` are functions. The result may be a promise; the runner
 * awaits it.
 */
export interface CodeMigration<Ctx = unknown> {
  readonly up: (ctx: Ctx) => unknown;
  readonly down?: (ctx: Ctx) => unknown;
}

const EXPECTED_EXPORTS =
  'export a function up(ctx) and optionally down(ctx), e.g. `export async function up(ctx) { await ctx.sql(\'...\') }`, ' +
  'or a default object { up, down }';

/**
 * Loads a code migration (SPEC §2) and checks its shape: `up` must be a function, `down` a
 * function or absent. Accepts named exports, or a default export object `{ up, down }` (which is
 * also what a CommonJS `module.exports = { up, down }` becomes).
 */
export async function loadCodeMigration<Ctx = unknown>(file: string): Promise<CodeMigration<Ctx>> {
  const mod = await loadModule(file);
  const candidates = [mod, asRecord(mod.default), asRecord(asRecord(mod.default)?.default)];
  const source = candidates.find((c) => c !== undefined && c.up !== undefined);
  if (source === undefined) {
    throw invalid(file, `the code migration exports no up(); ${EXPECTED_EXPORTS}`, {});
  }
  const { up, down } = source;
  if (typeof up !== 'function') {
    throw invalid(file, `the code migration's up is ${describeType(up)}, not a function; ${EXPECTED_EXPORTS}`, {});
  }
  if (down !== undefined && typeof down !== 'function') {
    throw invalid(file, `the code migration's down is ${describeType(down)}, not a function; export down(ctx) as a function or do not export it`, {});
  }
  return Object.freeze({
    up: up as (ctx: Ctx) => unknown,
    ...(down === undefined ? {} : { down: down as (ctx: Ctx) => unknown }),
  });
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && (typeof value === 'object' || typeof value === 'function') ? value as Record<string, unknown> : undefined;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

interface Location {
  readonly line?: number;
  readonly column?: number;
}

async function loadError(file: string, absolute: string, err: unknown, typescript: boolean): Promise<ValidationError> {
  const error = err instanceof Error ? err : new Error(String(err));
  const message = error.message;

  // jiti reports Babel parse errors as "ParseError: <why>\n <file>:<line>:<column>".
  const parse = /^ParseError: ([^\n]*?)\s*\n\s*(.*):(\d+):(\d+)\s*$/s.exec(message);
  if (typescript && parse) {
    const [, why = '', , line, column] = parse;
    return invalid(file, `syntax error: ${why.trim()}`, { line: Number(line), column: Number(column) }, err);
  }

  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    return invalid(file, `an import cannot be resolved: ${firstLine(message)}; install the package or fix the path`, {}, err);
  }

  // V8 puts the position of an ESM syntax error only into the text it prints for an uncaught
  // error, not into the error object; parsing the file again (without running it) finds it. The
  // parse decides, not the error's class: a loader hook (or a test runner) may wrap the error.
  const parsed = typescript ? undefined : await locateSyntaxError(absolute);
  if (parsed !== undefined) {
    const why = error.name === 'SyntaxError' ? firstLine(message) : parsed.message;
    return invalid(file, `syntax error: ${why}`, parsed, err);
  }
  const hint = /Cannot use import statement outside a module|Unexpected token 'export'/.test(message)
    ? ' (the file uses ESM syntax but Node loads it as CommonJS: name it .mjs, or add "type": "module" to the nearest package.json)'
    : '';
  return invalid(file, `loading the file threw ${error.name}: ${firstLine(message)}${hint}`, locateInStack(error.stack, absolute), err);
}

function invalid(file: string, what: string, where: Location, cause?: unknown): ValidationError {
  const at = where.line === undefined ? '' : `:${where.line}${where.column === undefined ? '' : `:${where.column}`}`;
  return new ValidationError('ERR_SOURCE_INVALID', `cannot load ${file}${at}: ${what}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { file, ...(where.line === undefined ? {} : { line: where.line }), ...(where.column === undefined ? {} : { column: where.column }) },
  });
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

/** The first stack frame inside the file: where the module body threw. */
function locateInStack(stack: string | undefined, absolute: string): Location {
  if (!stack) return {};
  const url = pathToFileURL(absolute).href;
  for (const frame of stack.split('\n').slice(1)) {
    for (const name of [url, absolute]) {
      const at = frame.indexOf(`${name}:`);
      if (at === -1) continue;
      const match = /^:(\d+):(\d+)/.exec(frame.slice(at + name.length));
      if (match) return { line: Number(match[1]), column: Number(match[2]) };
    }
  }
  return {};
}

/**
 * Re-parses a JavaScript file that failed to load, with jiti's Babel parser (transform only; the
 * file is not run). Returns the parse error's position and message, or undefined when the file
 * parses (or cannot be read): then the failure was not a syntax error.
 */
async function locateSyntaxError(absolute: string): Promise<(Location & { message: string }) | undefined> {
  try {
    const source = await readFile(absolute, 'utf8');
    const out = (await getJiti()).transform({ source, filename: absolute, async: true });
    // On a parse error jiti returns code that throws `{ line, column, message }` when run.
    const marker = /^exports\.__JITI_ERROR__ = (\{.*\})\s*;?\s*$/s.exec(out.trim());
    if (!marker?.[1]) return undefined;
    const info = JSON.parse(marker[1]) as { line?: unknown; column?: unknown; message?: unknown };
    return {
      message: typeof info.message === 'string' ? info.message.trim() : 'the file does not parse',
      ...(typeof info.line === 'number' ? { line: info.line } : {}),
      ...(typeof info.column === 'number' ? { column: info.column } : {}),
    };
  } catch {
    return undefined;
  }
}
