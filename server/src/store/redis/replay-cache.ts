/**
 * The replay cache in Redis, shared by every relay instance: a challenge issued by one instance can be taken on
 * another, and a proof nonce used on one is refused on all of them.
 *
 * Keys, for prefix `p` (default `oppie:`): `p replay:<key>` = "1", with a Redis expiry at the entry's `expiresAt`.
 * The lifetime is sent as a relative PX computed from this instance's clock (the clock `expiresAt` was computed
 * with), so clock skew between the relay and Redis does not shorten or stretch it. Redis forgets expired keys by
 * itself (an expired key is never visible, even before it is reclaimed); memory is bounded by Redis' maxmemory,
 * not by an entry count, so there is no capacity eviction here.
 */

import type { Redis } from 'ioredis';
import type { ReplayCache } from '../../auth/stores.js';
import { attempt, closeClient, RedisStoreError, type RedisStoreOptions, redisClient } from './client.js';

/**
 * Single-use keys with a lifetime (challenges, proof nonces) in Redis; same semantics as `MemoryReplayCache`
 * minus its capacity bound.
 *
 * @example
 * const replay = new RedisReplayCache({ redis: 'redis://127.0.0.1:6379' });
 * if (!(await replay.add(`nonce:${nonce}`, Date.now() + 120_000))) throw new RelayError('RELAY_ERR_NONCE_REPLAYED');
 */
export class RedisReplayCache implements ReplayCache {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #now: () => number;

  constructor(opts: RedisStoreOptions) {
    ({ redis: this.#redis, owned: this.#owned } = redisClient(opts));
    this.#prefix = `${opts.keyPrefix ?? 'oppie:'}replay:`;
    this.#now = opts.now ?? Date.now;
  }

  async add(key: string, expiresAt: number): Promise<boolean> {
    if (Number.isNaN(expiresAt)) throw new RedisStoreError('replay add', new Error('expiresAt is not a number'));
    const ttl = Math.ceil(expiresAt - this.#now());
    // Already expired: like the memory cache, accepted and never seen again (nothing to store).
    if (ttl <= 0) return true;
    const ms = Math.min(ttl, Number.MAX_SAFE_INTEGER);
    const res = await attempt('replay add', () => this.#redis.set(this.#prefix + key, '1', 'PX', ms, 'NX'));
    return res === 'OK';
  }

  async take(key: string): Promise<boolean> {
    const removed = await attempt('replay take', () => this.#redis.del(this.#prefix + key));
    return removed === 1;
  }

  async close(): Promise<void> {
    await closeClient(this.#redis, this.#owned);
  }
}
