/**
 * The auth rate limits in Redis: the same limits, points and durations as `createAuthLimiters`, but counted in
 * Redis, so every relay instance spends from one budget per address or device (an attacker spreading guesses over
 * instances gets no more of them).
 *
 * Keys, for prefix `p` (default `oppie:`): `p rl:<limit>:<key>` (rate-limiter-flexible's atomic INCR + expiry
 * script). When Redis fails, each limiter falls back to an in-memory limiter of this instance with the same points
 * (rate-limiter-flexible's `insuranceLimiter`), so an outage degrades to per-instance limits instead of failing
 * every auth request; pass `memoryFallback: false` to surface the Redis error instead. A limiter does not wait for
 * a connection that is not ready (not yet connected, or reconnecting): it fails over (or fails) at once, so the
 * client should be connected eagerly (no `lazyConnect`).
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { type AuthLimiters, type AuthLimitOptions, DEFAULT_LIMITS } from '../../auth/rate-limits.js';
import type { RelayConfig } from '../../config.js';

/** The limiters of `createAuthLimiters`, counted in Redis. */
export type RedisAuthLimiters = AuthLimiters;

export interface RedisLimitOptions extends Partial<AuthLimitOptions> {
  /** Prefix of every key; default `oppie:`. */
  readonly keyPrefix?: string;
  /** Count in this instance's memory while Redis fails (default true). */
  readonly memoryFallback?: boolean;
}

/**
 * @example
 * const limiters = createRedisAuthLimiters(redis, config);
 * await consumeLimit(limiters, 'auth', request.ip, metrics);
 */
export function createRedisAuthLimiters(
  redis: Redis,
  config: Pick<RelayConfig, 'authRequestsPerIpPerMinute' | 'registrationsPerIpPerHour'>,
  opts: RedisLimitOptions = {},
): RedisAuthLimiters {
  const o = { ...DEFAULT_LIMITS, ...opts };
  const prefix = `${opts.keyPrefix ?? 'oppie:'}rl:`;
  const fallback = opts.memoryFallback ?? true;
  const limiter = (keyPrefix: string, points: number, duration: number) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: prefix + keyPrefix,
      points,
      duration,
      // Fail over at once while the connection is down, instead of waiting in ioredis' offline queue.
      rejectIfRedisNotReady: true,
      ...(fallback && { insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration }) }),
    });
  return {
    auth: limiter('auth', config.authRequestsPerIpPerMinute, 60),
    registration: limiter('reg', config.registrationsPerIpPerHour, 3600),
    pairing: limiter('pair', o.pairingFailuresPerIp, 600),
    otp: limiter('otp', o.otpAttemptsPerDevice, 300),
  };
}
