import { createHash } from 'node:crypto';

/** A deterministic generator seeded from text: the same prompt always gives the same plan and diff. */
export interface Seeded {
  /** An integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

/**
 * mulberry32 over a seed taken from the SHA-256 of `text`.
 *
 * @example
 * const r = seeded('Add a health endpoint');
 * r.pick(['a', 'b']); // always the same for this prompt
 */
export function seeded(text: string): Seeded {
  let state = createHash('sha256').update(text).digest().readUInt32LE(0);
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { int, pick: (items) => items[int(items.length)] as (typeof items)[number] };
}
