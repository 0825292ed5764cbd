import { invalidUrl, type DatabaseTarget } from '../../config/database-url.js';

export interface PgliteTarget extends DatabaseTarget {
  readonly kind: 'pglite';
  /** `null` for `pglite://memory`. */
  readonly dataDir: string | null;
}

/** `pglite://memory` or `pglite://<directory>`: an embedded PostgreSQL in this process. */
export function parsePgliteUrl(input: string, origin: string): PgliteTarget {
  const rest = input.slice('pglite://'.length);
  if (!input.toLowerCase().startsWith('pglite://') || rest === '') {
    throw invalidUrl(origin, 'a PGlite URL is pglite://memory or pglite://<directory>');
  }
  const dataDir = rest === 'memory' ? null : rest;
  return Object.freeze({ kind: 'pglite', dataDir, redacted: `pglite://${rest}`, label: `pglite:${dataDir ?? 'memory'}`, secrets: Object.freeze([]) });
}
