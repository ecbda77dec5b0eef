import type { ReplayCache } from '../../auth/stores.js';

/** Why an entry left the cache before it was taken: its lifetime ended, or room was needed. */
export type EvictionReason = 'expired' | 'capacity';

export interface MemoryReplayCacheOptions {
  /** Most entries held; the oldest is evicted beyond it. */
  readonly maxEntries?: number;
  readonly now?: () => number;
  /** Called once per evicted entry (wire it to a metric). */
  readonly onEvict?: (reason: EvictionReason) => void;
}

/**
 * Single-use keys with a lifetime (challenges, proof nonces), in process memory and bounded.
 *
 * Entries sit in a Map in insertion order, which is close to expiry order because lifetimes are short and similar;
 * each call drops expired entries from the front, so clean-up is amortised O(1) without a timer. When full, the
 * oldest entry goes first: for a challenge that only means a retry, and the eviction is counted so an operator sees
 * a cache too small for the traffic.
 *
 * @example
 * const replay = new MemoryReplayCache({ maxEntries: 100_000, onEvict: (r) => evictions.inc({ reason: r }) });
 * if (!(await replay.add(`nonce:${nonce}`, Date.now() + 120_000))) throw new RelayError('RELAY_ERR_NONCE_REPLAYED');
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #entries = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;
  readonly #onEvict: (reason: EvictionReason) => void;

  constructor(opts: MemoryReplayCacheOptions = {}) {
    this.#max = opts.maxEntries ?? 100_000;
    if (!Number.isInteger(this.#max) || this.#max < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#now = opts.now ?? Date.now;
    this.#onEvict = opts.onEvict ?? (() => {});
  }

  get size(): number {
    return this.#entries.size;
  }

  async add(key: string, expiresAt: number): Promise<boolean> {
    const now = this.#now();
    this.#dropExpiredHead(now);
    const existing = this.#entries.get(key);
    if (existing !== undefined && existing > now) return false;
    if (existing !== undefined) this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      this.#onEvict('capacity');
    }
    this.#entries.set(key, expiresAt);
    return true;
  }

  async take(key: string): Promise<boolean> {
    const now = this.#now();
    this.#dropExpiredHead(now);
    const expiresAt = this.#entries.get(key);
    if (expiresAt === undefined) return false;
    this.#entries.delete(key);
    if (expiresAt <= now) {
      this.#onEvict('expired');
      return false;
    }
    return true;
  }

  #dropExpiredHead(now: number): void {
    for (const [key, expiresAt] of this.#entries) {
      if (expiresAt > now) return;
      this.#entries.delete(key);
      this.#onEvict('expired');
    }
  }
}
