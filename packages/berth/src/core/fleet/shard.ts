import { ConfigError } from '../../errors.js';

/** One pod's share of a fleet: `index` in 0..count-1 (`--shard 2/4`, or JOB_COMPLETION_INDEX). */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/**
 * The shard a target belongs to: rendezvous (highest-random-weight) hashing of its name. Each pod
 * computes it alone, from the name only, so no two pods take one target and none is left out; a
 * target added or removed between two pods' starts (a `--targets-query` read at slightly
 * different moments) moves no other target, which sorted-order-mod-n would do to every name after
 * it. Balance is statistical: within a few percent from a few hundred targets per shard.
 */
export function shardOf(name: string, count: number): number {
  let best = 0;
  let bestWeight = -1;
  const h = fnv1a(name);
  for (let i = 0; i < count; i++) {
    const weight = mix32(h ^ mix32(i + 0x9e3779b9));
    if (weight > bestWeight) {
      best = i;
      bestWeight = weight;
    }
  }
  return best;
}

/** The targets of one shard, in their listed order. */
export function takeShard<T extends { readonly name: string }>(targets: readonly T[], shard: Shard | undefined): T[] {
  if (!shard || shard.count === 1) return [...targets];
  return targets.filter((t) => shardOf(t.name, shard.count) === shard.index);
}

/** `i/n` with 0 <= i < n. */
export function parseShard(text: string, origin: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count || count > 10_000) {
    throw new ConfigError('ERR_CONFIG_INVALID', `${origin}: "${text}" is not a shard: write i/n with 0 <= i < n (e.g. 0/4 ... 3/4)`);
  }
  return { index, count };
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: every input bit flips about half the output bits. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
