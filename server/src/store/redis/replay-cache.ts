/**
 * The replay cache in Redis, shared by every relay instance: a challenge issued by one instance can be taken on
 * another, and a proof nonce used on one is refused on all of them.
 *
 * Keys, for prefix `p` (default `oppie:`): `p replay:<key>` = "1", with a Redis expiry at the entry's `expiresAt`.
 * The lifetime is sent as a relative PX computed from this instance's clock (the clock `expiresAt` was computed
 * with), so clock skew between the relay and Redis does not shorten or stretch it. Redis forgets expired keys by
 * itself (an expired key is never visible, even before it is reclaimed); memory is bounded by Redis' maxmemory,
 * not by an entry count, so there is no capacity eviction here.
 *
 * Also the shared bits of the Redis auth stores: `RedisStoreError` and the client options.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { ReplayCache } from '../../auth/stores.js';

/** A Redis failure in an auth store operation. The operation was applied entirely or not at all. */
export class RedisStoreError extends Error {
  readonly code = 'RELAY_ERR_STORE';
  constructor(op: string, cause: unknown) {
    super(`redis store: ${op} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'RedisStoreError';
  }
}

export interface RedisStoreOptions {
  /** A client (not closed by `close()`), a redis:// URL or client options (the store owns and closes that one). */
  readonly redis: Redis | string | RedisOptions;
  /** Prefix of every key; default `oppie:`. */
  readonly keyPrefix?: string;
  /** Connection errors of the client (ioredis reconnects by itself meanwhile). Without it ioredis logs them. */
  readonly onError?: (err: Error) => void;
  /** Clock of this instance (ms), the one lifetimes are computed with. */
  readonly now?: () => number;
}

/** The client of a store and whether the store owns (and closes) it. */
export function redisClient(opts: RedisStoreOptions): { redis: Redis; owned: boolean } {
  let redis: Redis;
  let owned: boolean;
  if (opts.redis instanceof Redis) {
    redis = opts.redis;
    owned = false;
  } else {
    redis = typeof opts.redis === 'string' ? new Redis(opts.redis) : new Redis(opts.redis);
    owned = true;
  }
  if (opts.onError !== undefined) redis.on('error', opts.onError);
  return { redis, owned };
}

/** Closes a client the store owns; leaves a borrowed one alone. */
export async function closeClient(redis: Redis, owned: boolean): Promise<void> {
  if (!owned) return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

/** Runs one Redis operation, wrapping its failure in `RedisStoreError`. */
export async function attempt<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new RedisStoreError(op, err);
  }
}

/**
 * Single-use keys with a lifetime (challenges, proof nonces) in Redis; same semantics as `MemoryReplayCache`
 * minus its capacity bound.
 *
 * @example
 * const replay = new RedisReplayCache({ redis: 'redis://127.0.0.1:6379' });
 * if (!(await replay.add(`nonce:${nonce}`, Date.now() + 120_000))) throw new RelayError('RELAY_ERR_NONCE_REPLAYED');
 */
/**
 * Registers Lua scripts as commands on the client and returns it typed as those commands. ioredis runs them with
 * EVALSHA and falls back to EVAL (loading the script) on NOSCRIPT, e.g. after a Redis restart.
 */
export function defineScripts<T>(redis: Redis, scripts: Record<string, { lua: string; numberOfKeys: number }>): T {
  for (const [name, def] of Object.entries(scripts)) redis.defineCommand(name, def);
  return redis as unknown as T;
}

/** Refuses NaN and infinite times and counts before a script runs (Lua would store them as garbage). */
export function checkNumbers(op: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new RedisStoreError(op, new Error(`${name} is not a finite number`));
    }
  }
}

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
