/**
 * What every Redis store of the relay shares: the client (borrowed or owned), its close, Lua scripts as commands,
 * input checks, and `RedisStoreError` around any failed operation.
 */
import { Redis, type RedisOptions } from 'ioredis';

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
