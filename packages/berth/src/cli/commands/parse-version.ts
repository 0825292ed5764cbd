import { ConfigError } from '../../index.js';

/** A `<version>` argument: a non-negative integer, leading zeros allowed (SPEC §2). */
export function parseVersionArg(flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new ConfigError('ERR_USAGE', `${flag} "${text}" is not a migration version (a whole number such as 0, 3 or 20260101120000)`);
  }
  return n;
}
