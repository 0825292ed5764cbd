/**
 * `berth lint` remembers what it found, so that a second run lints only what changed: most of a
 * run on an unchanged directory is starting Node and the WebAssembly parser, and a warm run does
 * not load the parser at all (bench/lint.mjs).
 *
 * One cache file per set of linted paths and options, under the user's cache folder
 * (`$XDG_CACHE_HOME/berth/lint`, `~/.cache/berth/lint`, `~/Library/Caches/berth/lint`,
 * `%LOCALAPPDATA%\berth\cache\lint`; `BERTH_LINT_CACHE=<dir>` or `off`, `--no-cache`). It holds,
 * for each file in order, its sha256 and its report. Findings of a file depend on the files
 * before it (catalog.ts), so only an unchanged *prefix* of the list is reused: the first file
 * whose content, name or place changed, and every file after it, is linted again, starting from a
 * snapshot of the catalog kept every SNAPSHOT_EVERY files.
 *
 * The cache is an optimisation and never an error: a folder that cannot be created or written (a
 * read-only container, no home directory) or a file that cannot be read or parsed means no cache.
 * The key includes berth's version, the stamp of the code doing the linting and the parser's
 * version, so a different build never reads another's results.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BERTH_VERSION } from '../version.js';
import type { CatalogState } from './catalog.js';
import { RULES_BY_ID } from './rules.js';
import type { FileReport, Finding, SuppressedFinding } from './types.js';

const FORMAT = 1;
/** A catalog snapshot every this many files, so that a change half-way re-lints at most this many files before it. */
export const SNAPSHOT_EVERY = 100;
/** Cache files kept (one per set of linted folders); the least recently written go first. */
const KEEP_FILES = 64;

interface CachedFinding {
  readonly rule: string;
  readonly severity: Finding['severity'];
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** Only when not the rule's default. */
  readonly why?: string;
  readonly fix?: string;
  readonly reason?: string;
  readonly allowLine?: number;
}

interface CachedFile {
  readonly path: string;
  readonly hash: string;
  readonly statements: number;
  readonly findings: readonly CachedFinding[];
  readonly suppressed: readonly CachedFinding[];
}

interface CacheContent {
  readonly format: number;
  readonly files: readonly CachedFile[];
  /** Catalog after file `index` (0-based), for resuming after it. */
  readonly snapshots: readonly { readonly index: number; readonly catalog: CatalogState }[];
}

/** The cache folder, or undefined when there is none to use. */
export function lintCacheDir(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const setting = env.BERTH_LINT_CACHE;
  if (setting === 'off' || setting === '0' || setting === 'false') return undefined;
  if (setting) return setting;
  if (env.XDG_CACHE_HOME) return path.join(env.XDG_CACHE_HOME, 'berth', 'lint');
  const home = env.HOME ?? env.USERPROFILE;
  if (process.platform === 'win32' && env.LOCALAPPDATA) return path.join(env.LOCALAPPDATA, 'berth', 'cache', 'lint');
  if (!home) return undefined;
  return process.platform === 'darwin' ? path.join(home, 'Library', 'Caches', 'berth', 'lint') : path.join(home, '.cache', 'berth', 'lint');
}

export class LintCache {
  readonly #file: string;
  readonly #content: CacheContent | undefined;

  private constructor(file: string, content: CacheContent | undefined) {
    this.#file = file;
    this.#content = content;
  }

  /** The cache of this run: `key` names what was linted and how (paths, server version...). */
  static open(dir: string, key: unknown): LintCache {
    const name = createHash('sha256').update(JSON.stringify({ format: FORMAT, berth: BERTH_VERSION, code: codeStamp(), parser: parserVersion(), key })).digest('hex');
    const file = path.join(dir, `${name.slice(0, 32)}.json`);
    let content: CacheContent | undefined;
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as CacheContent;
      if (parsed.format === FORMAT && Array.isArray(parsed.files) && Array.isArray(parsed.snapshots)) content = parsed;
    } catch {
      // No cache yet, or one that cannot be read: lint everything.
    }
    return new LintCache(file, content);
  }

  /**
   * How far the run can reuse the cache: the reports of the unchanged prefix, and the catalog
   * snapshot to resume from (`resumeAfter` = -1: from nothing).
   */
  plan(files: readonly { path: string; hash: string }[]): { hits: number; resumeAfter: number; catalog?: CatalogState } {
    const cached = this.#content?.files ?? [];
    let hits = 0;
    while (hits < files.length && hits < cached.length && cached[hits]!.path === files[hits]!.path && cached[hits]!.hash === files[hits]!.hash) hits++;
    if (hits === files.length) return { hits, resumeAfter: hits - 1 };
    const snapshot = (this.#content?.snapshots ?? []).filter((s) => s.index < hits).at(-1);
    return snapshot ? { hits, resumeAfter: snapshot.index, catalog: snapshot.catalog } : { hits, resumeAfter: -1 };
  }

  /** The cached report of file `index` (part of the prefix `plan` found unchanged), named `display`. */
  report(index: number, display: string): FileReport {
    const cached = this.#content!.files[index]!;
    return {
      file: display,
      statements: cached.statements,
      findings: cached.findings.map((f) => expand(f, display)),
      suppressed: cached.suppressed.map((f) => expand(f, display) as SuppressedFinding),
    };
  }

  /** The stored snapshots up to file `index`. */
  snapshotsUpTo(index: number): CacheContent['snapshots'] {
    return (this.#content?.snapshots ?? []).filter((s) => s.index <= index);
  }

  /** Writes the new content; any failure (read-only folder, full disk) leaves the cache as it was. */
  store(files: readonly { path: string; hash: string; report: FileReport }[], snapshots: CacheContent['snapshots']): void {
    const content: CacheContent = {
      format: FORMAT,
      files: files.map((f) => ({
        path: f.path, hash: f.hash, statements: f.report.statements,
        findings: f.report.findings.map(compact), suppressed: f.report.suppressed.map(compact),
      })),
      snapshots,
    };
    const tmp = `${this.#file}.${process.pid}.tmp`;
    try {
      mkdirSync(path.dirname(this.#file), { recursive: true });
      writeFileSync(tmp, JSON.stringify(content));
      renameSync(tmp, this.#file);
      prune(path.dirname(this.#file));
    } catch {
      // A cache that cannot be written is no cache.
    }
  }
}

/** Keeps the folder to KEEP_FILES cache files: every temporary folder ever linted would otherwise leave one. */
function prune(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= KEEP_FILES) return;
  const byAge = names.map((n) => ({ n, at: statSync(path.join(dir, n)).mtimeMs })).sort((a, b) => a.at - b.at);
  for (const { n } of byAge.slice(0, names.length - KEEP_FILES)) rmSync(path.join(dir, n), { force: true });
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function compact(f: Finding | SuppressedFinding): CachedFinding {
  const info = RULES_BY_ID.get(f.rule);
  const s = f as Partial<SuppressedFinding>;
  return {
    rule: f.rule, severity: f.severity, line: f.line, column: f.column, message: f.message,
    ...(f.why === info?.why ? {} : { why: f.why }), ...(f.fix === info?.fix ? {} : { fix: f.fix }),
    ...(s.reason === undefined ? {} : { reason: s.reason, allowLine: s.allowLine }),
  };
}

function expand(f: CachedFinding, file: string): Finding {
  const info = RULES_BY_ID.get(f.rule);
  return {
    rule: f.rule, severity: f.severity, file, line: f.line, column: f.column, message: f.message,
    why: f.why ?? info?.why ?? '', fix: f.fix ?? info?.fix ?? '',
    ...(f.reason === undefined ? {} : { reason: f.reason, allowLine: f.allowLine }),
  } as Finding;
}

/** Size and modification time of the code doing the linting: a rebuilt berth never reads an older build's results. */
function codeStamp(): string {
  try {
    const info = statSync(fileURLToPath(import.meta.url));
    return `${info.size}-${info.mtimeMs}`;
  } catch {
    return 'unknown';
  }
}

function parserVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (JSON.parse(readFileSync(require.resolve('libpg-query/package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

