/**
 * Facts about the repository a new user meets first: the README's links lead to files that exist
 * in it, and `npm ci` on the supported Node.js prints no engine warning.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');

describe('repository', () => {
  it.each(['README.md', 'docs/errors.md', 'docs/lint-rules.md', 'docs/orchestration.md', 'docs/reference-system.md'])(
    '%s links only files inside the repository, and they exist',
    (file) => {
      const links = [...read(file).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z]+:|^#/.test(target));
      for (const target of links) {
        const resolved = path.resolve(REPO_ROOT, path.dirname(file), target.split('#')[0]!);
        expect(resolved.startsWith(REPO_ROOT), `${file} links ${target}, outside the repository`).toBe(true);
        expect(existsSync(resolved), `${file} links ${target}, which does not exist`).toBe(true);
      }
    },
  );

  it('every locked package accepts the lowest Node.js the project declares (npm ci would warn EBADENGINE)', () => {
    // Development needs the repository's minimum; berth's own dependencies, the package's.
    const lowest = (file: string) => semver.minVersion(JSON.parse(read(file)).engines.node as string)!.version;
    const develop = lowest('package.json');
    const run = lowest('packages/berth/package.json');
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[] }> };
    const refusing = Object.entries(lock.packages).flatMap(([name, info]) => {
      const range = Array.isArray(info.engines) ? undefined : info.engines?.node;
      const node = info.dev || name === '' ? develop : run;
      return range && !semver.satisfies(node, range) ? [`${name || '(root)'}: node ${range} refuses ${node}`] : [];
    });
    expect(refusing).toEqual([]);
  });
});
