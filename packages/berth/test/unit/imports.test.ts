/**
 * The dependency direction of STYLE §1, checked on the sources themselves: `cli` → library, never
 * back; the CLI reaches core through the public entry point; drivers stay dumb and never read the
 * environment. Files are parsed with the TypeScript compiler, so static, dynamic, type-only and
 * re-export imports all count, and comments and strings do not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

interface Import {
  /** As written: `../core/errors.js`, `pg`, `node:fs`. */
  readonly specifier: string;
  /** For relative imports: the target file relative to src/, with `.ts` (e.g. `core/errors.ts`). */
  readonly target?: string;
  readonly typeOnly: boolean;
  readonly line: number;
}

interface SourceFile {
  /** Relative to src/, with forward slashes: `cli/commands/migrate.ts`. */
  readonly file: string;
  readonly imports: readonly Import[];
  /** Lines that read `process.env` (any spelling: `process.env`, `process['env']`, `{ env } = process`, `import { env } from 'node:process'`). */
  readonly envReads: readonly number[];
}

function analyse(absolute: string, text = readFileSync(absolute, 'utf8')): SourceFile {
  const file = path.relative(SRC, absolute).split(path.sep).join('/');
  const source = ts.createSourceFile(absolute, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const imports: Import[] = [];
  const envReads: number[] = [];
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;

  const add = (node: ts.Node, specifier: string, typeOnly: boolean) => {
    let target: string | undefined;
    if (specifier.startsWith('.')) {
      const resolved = path.resolve(path.dirname(absolute), specifier).replace(/\.js$/, '.ts');
      target = path.relative(SRC, resolved).split(path.sep).join('/');
    }
    imports.push({ specifier, ...(target ? { target } : {}), typeOnly, line: lineOf(node) });
  };

  const isProcess = (node: ts.Expression): boolean =>
    (ts.isIdentifier(node) && node.text === 'process') ||
    (ts.isPropertyAccessExpression(node) && node.name.text === 'process');

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = Boolean(clause?.isTypeOnly) || Boolean(clause && !clause.name && named && named.length > 0 && named.every((e) => e.isTypeOnly));
      add(node, node.moduleSpecifier.text, typeOnly);
      if (/^(node:)?process$/.test(node.moduleSpecifier.text) && named?.some((e) => (e.propertyName ?? e.name).text === 'env')) envReads.push(lineOf(node));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      add(node, node.arguments[0].text, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node, node.argument.literal.text, true);
    } else if (ts.isPropertyAccessExpression(node) && node.name.text === 'env' && isProcess(node.expression)) {
      envReads.push(lineOf(node));
    } else if (ts.isElementAccessExpression(node) && isProcess(node.expression) && ts.isStringLiteralLike(node.argumentExpression) && node.argumentExpression.text === 'env') {
      envReads.push(lineOf(node));
    } else if (ts.isVariableDeclaration(node) && node.initializer && isProcess(node.initializer) && ts.isObjectBindingPattern(node.name)) {
      if (node.name.elements.some((e) => ((e.propertyName ?? e.name) as ts.Identifier).text === 'env')) envReads.push(lineOf(node));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { file, imports, envReads };
}

const FILES: readonly SourceFile[] = readdirSync(SRC, { withFileTypes: true, recursive: true })
  .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
  .map((e) => analyse(path.join(e.parentPath, e.name)))
  .sort((a, b) => a.file.localeCompare(b.file));

/** `cli`, `core`, `source`, `drivers`, `config`, `lint`, or the file name for top-level files (`index.ts`). */
const layerOf = (file: string): string => file.split('/')[0]!;
const inLayer = (...layers: string[]) => FILES.filter((f) => layers.includes(layerOf(f.file)));
const fmt = (f: SourceFile, i: Import) => `${f.file}:${i.line} imports ${i.specifier}${i.typeOnly ? ' (type only)' : ''}`;

/**
 * Imports from src/cli that bypass src/index.ts into core/source/drivers/lint today. The strict rule
 * (STYLE §1: the CLI uses only the public API) says each should go through index.ts, or the helper
 * belongs in cli/ or config/. The list may only shrink: a new deep import fails the test below,
 * and an entry that is no longer needed must be removed.
 */
const KNOWN_DEEP_CLI_IMPORTS: readonly string[] = [
  // parseMigrationFileName is not public; `berth new` needs the file-name rules.
  'cli/commands/new.ts -> source/file-name.ts',
];

/** Top-level helpers every folder may use; they import nothing of berth's but each other. */
const LEAVES = ['errors.ts', 'text.ts', 'duration.ts', 'defaults.ts', 'version.ts', 'load-module.ts', 'native-import.ts'];

/**
 * What the CLI may import directly: its own files, config/ (flags, environment, URL parsing),
 * the public entry point src/index.ts, and the lint module through its own entry point
 * (`berth lint` is a CLI feature; lint/ is not part of the library's public API).
 */
const cliMayImport = (target: string): boolean =>
  ['cli', 'config', 'index.ts', ...LEAVES].includes(layerOf(target)) || target === 'lint/index.ts';

describe('the import scanner', () => {
  it('sees the sources and their static, dynamic, type-only and re-export imports', () => {
    const byFile = new Map(FILES.map((f) => [f.file, f]));
    expect(byFile.has('index.ts')).toBe(true);
    expect(byFile.get('cli/main.ts')?.imports.map((i) => i.target)).toContain('index.ts');
    // Dynamic: the registry loads drivers lazily.
    expect(byFile.get('drivers/registry.ts')?.imports.some((i) => i.target === 'drivers/postgres/postgres-driver.ts' && !i.typeOnly)).toBe(true);
    // Type only, and re-exports.
    expect(byFile.get('core/plan.ts')?.imports.find((i) => i.target === 'drivers/driver.ts')?.typeOnly).toBe(true);
    expect(byFile.get('index.ts')?.imports.some((i) => i.target === 'errors.ts' && !i.typeOnly)).toBe(true);
    // `process.env` is seen in the one place that reads it.
    expect(byFile.get('cli/main.ts')?.envReads.length).toBeGreaterThan(0);
  });

  const probe = (code: string, file = 'drivers/probe.ts') => analyse(path.join(SRC, file), code);

  it.each([
    'const a = process.env.X;',
    "const a = process['env'].X;",
    'const a = globalThis.process.env.X;',
    'const { env } = process;',
    'const { env: e } = process;',
    "import { env } from 'node:process';",
    "import { env as e } from 'process';",
  ])('sees the environment read in %j', (code) => {
    expect(probe(code).envReads).toEqual([1]);
  });

  it('ignores comments, strings and other properties of process', () => {
    expect(probe('// process.env.X\n/* process.env */\nconst s = "process.env";\nconst p = process.pid;\nconst { argv } = process;').envReads).toEqual([]);
  });

  it('resolves each kind of import to its target under src/', () => {
    const f = probe([
      "import { a } from '../core/errors.js';",
      "import type { B } from '../cli/main.js';",
      "import { type C } from '../cli/output.js';",
      "export { d } from './x.js';",
      "const m = await import('../source/types.js');",
      "let t: typeof import('../config/settings.js');",
      "import pg from 'pg';",
    ].join('\n'));
    expect(f.imports.map((i) => [i.target ?? i.specifier, i.typeOnly, i.line])).toEqual([
      ['core/errors.ts', false, 1],
      ['cli/main.ts', true, 2],
      ['cli/output.ts', true, 3],
      ['drivers/x.ts', false, 4],
      ['source/types.ts', false, 5],
      ['config/settings.ts', true, 6],
      ['pg', false, 7],
    ]);
  });
});

describe('dependency direction (STYLE §1)', () => {
  it('nothing outside src/cli imports from src/cli', () => {
    const violations = FILES.filter((f) => layerOf(f.file) !== 'cli')
      .flatMap((f) => f.imports.filter((i) => i.target && layerOf(i.target) === 'cli').map((i) => fmt(f, i)));
    expect(violations).toEqual([]);
  });

  it.each(['core', 'source', 'drivers', 'config'])('src/%s never imports from src/cli', (layer) => {
    const files = inLayer(layer);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(f.imports.filter((i) => i.target?.startsWith('cli/')).map((i) => fmt(f, i))).toEqual([]);
  });

  it('the library never loads the CLI framework (commander)', () => {
    const violations = FILES.filter((f) => layerOf(f.file) !== 'cli')
      .flatMap((f) => f.imports.filter((i) => i.specifier === 'commander' || i.specifier.startsWith('commander/')).map((i) => fmt(f, i)));
    expect(violations).toEqual([]);
  });

  it('src/cli reaches core, source and drivers only through src/index.ts, lint/ only through lint/index.ts (known exceptions listed)', () => {
    const deep = inLayer('cli').flatMap((f) =>
      f.imports.filter((i) => i.target && !cliMayImport(i.target)).map((i) => ({ edge: `${f.file} -> ${i.target}`, where: fmt(f, i) })));
    const unexpected = deep.filter((d) => !KNOWN_DEEP_CLI_IMPORTS.includes(d.edge)).map((d) => d.where);
    expect(unexpected, 'import these through src/index.ts (export them there if they are public), or move the helper into cli/ or config/').toEqual([]);
    const stale = KNOWN_DEEP_CLI_IMPORTS.filter((edge) => !deep.some((d) => d.edge === edge));
    expect(stale, 'these exceptions are no longer needed: remove them from KNOWN_DEEP_CLI_IMPORTS').toEqual([]);
  });

  it('src/index.ts re-exports only from the library (core, config, drivers, errors, version), never from cli', () => {
    const index = FILES.find((f) => f.file === 'index.ts')!;
    for (const i of index.imports) {
      expect(i.target, i.specifier).toBeDefined();
      expect(['core', 'config', 'drivers', ...LEAVES], fmt(index, i)).toContain(layerOf(i.target!));
    }
  });

  it.each(LEAVES)('%s is a leaf: it imports nothing of berth\'s but other leaves', (leaf) => {
    const file = FILES.find((f) => f.file === leaf);
    expect(file).toBeDefined();
    expect(file!.imports.filter((i) => i.target && !LEAVES.includes(i.target)).map((i) => fmt(file!, i))).toEqual([]);
  });

  it('config/ and source/ never import each other', () => {
    const violations = [
      ...inLayer('config').flatMap((f) => f.imports.filter((i) => i.target && layerOf(i.target) === 'source').map((i) => fmt(f, i))),
      ...inLayer('source').flatMap((f) => f.imports.filter((i) => i.target && layerOf(i.target) === 'config').map((i) => fmt(f, i))),
    ];
    expect(violations).toEqual([]);
  });

  it('core never imports a concrete driver: only the contract (drivers/driver.ts, dialect.ts) and the registry', () => {
    const allowed = ['drivers/driver.ts', 'drivers/dialect.ts', 'drivers/registry.ts'];
    const violations = inLayer('core', 'source').flatMap((f) =>
      f.imports.filter((i) => i.target && layerOf(i.target) === 'drivers' && !allowed.includes(i.target)).map((i) => fmt(f, i)));
    expect(violations).toEqual([]);
  });

  it('drivers never depend on core or source/', () => {
    const violations = inLayer('drivers').flatMap((f) =>
      f.imports.filter((i) => i.target && (layerOf(i.target) === 'core' || layerOf(i.target) === 'source')).map((i) => fmt(f, i)));
    expect(violations).toEqual([]);
  });

  it('source/, config/ and lint/ never depend on core: the folders import each other in one direction', () => {
    const violations = inLayer('source', 'config', 'lint').flatMap((f) =>
      f.imports.filter((i) => i.target && layerOf(i.target) === 'core').map((i) => fmt(f, i)));
    expect(violations).toEqual([]);
  });
});

describe('environment reads (STYLE §2, §7)', () => {
  it('drivers never read process.env', () => {
    const drivers = inLayer('drivers');
    expect(drivers.length).toBeGreaterThan(0);
    expect(drivers.flatMap((f) => f.envReads.map((line) => `${f.file}:${line}`))).toEqual([]);
  });

  it('only src/cli reads process.env; the library gets every value through its options', () => {
    const readers = FILES.filter((f) => layerOf(f.file) !== 'cli').flatMap((f) => f.envReads.map((line) => `${f.file}:${line}`));
    expect(readers).toEqual([]);
  });
});
