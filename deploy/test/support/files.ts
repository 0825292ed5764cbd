/** Paths and YAML reading shared by the deploy/ tests. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Absolute path of a repository-relative path. */
export const repoPath = (...parts: string[]): string => path.join(REPO_ROOT, ...parts);

export const readRepoFile = (relative: string): string => readFileSync(repoPath(relative), 'utf8');

/** One YAML document of a file, as plain data. */
export interface YamlDocument {
  /** Repository-relative path (or a label for rendered output). */
  readonly file: string;
  /** 0-based position among the file's documents. */
  readonly index: number;
  readonly data: any;
}

/**
 * Parses every document of a YAML stream and fails on any YAML error or warning (duplicate keys
 * included). Empty documents (a leading `---`, a comment-only file) are skipped, as kubectl does.
 */
export function parseYamlDocuments(text: string, file: string): YamlDocument[] {
  const docs: YamlDocument[] = [];
  YAML.parseAllDocuments(text, { uniqueKeys: true }).forEach((doc, index) => {
    if ('errors' in doc && doc.errors.length > 0) throw new Error(`${file} (document ${index}): ${doc.errors.map((e) => e.message).join('; ')}`);
    if (doc.warnings.length > 0) throw new Error(`${file} (document ${index}): ${doc.warnings.map((w) => w.message).join('; ')}`);
    const data = doc.toJS();
    if (data !== null && data !== undefined) docs.push({ file, index: docs.length, data });
  });
  return docs;
}

export const readYamlDocuments = (relative: string): YamlDocument[] => parseYamlDocuments(readRepoFile(relative), relative);

/** Repository-relative paths of the files under `dir` (recursive) whose names match `pattern`. */
export function listFiles(dir: string, pattern: RegExp): string[] {
  const out: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(repoPath(relative), { withFileTypes: true })) {
      const child = path.posix.join(relative, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(child);
      } else if (pattern.test(entry.name)) {
        out.push(child);
      }
    }
  };
  walk(dir);
  return out.sort();
}

export const isDirectory = (relative: string): boolean => {
  try {
    return statSync(repoPath(relative)).isDirectory();
  } catch {
    return false;
  }
};

/**
 * The environment variables of the contract's "Service environment" table
 * (docs/reference-system.md), so the manifests cannot drift from it unnoticed.
 */
export function contractServiceVariables(): Set<string> {
  const doc = readRepoFile('docs/reference-system.md');
  const section = doc.slice(doc.indexOf('## Service environment'), doc.indexOf('\n## ', doc.indexOf('## Service environment') + 1));
  const names = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!);
  if (names.length < 5) throw new Error('docs/reference-system.md: the "Service environment" table was not found or changed shape');
  return new Set(names);
}

/**
 * An image reference is pinned: a tag with a dotted version (not `latest`), a commit SHA (the tag
 * CI gives the images it builds), or a digest.
 */
export function isPinnedImage(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0) return false;
  const tag = lastSegment.slice(colon + 1);
  if (/^[0-9a-f]{7,40}$/.test(tag)) return true;
  return !/latest|stable|edge|nightly/i.test(tag) && /^v?\d+\.\d+(\.\d+)?/.test(tag);
}
