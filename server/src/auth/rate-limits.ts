/**
 * Per-address and per-device limits of the auth endpoints. In memory: each instance limits what it receives, which
 * is what a brute-force guard needs; the Redis deployment can swap in RateLimiterRedis with the same points.
 */
import { RelayError } from '@oppie/protocol';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { RelayConfig } from '../config.js';
import type { Metrics } from '../metrics.js';

/** The limit names, also the `limit` label of oppie_relay_rate_limited_total. */
export type LimitName = 'auth' | 'registration' | 'pairing' | 'otp';

export interface AuthLimitOptions {
  /** Wrong or unknown pairing codes per address per 10 minutes. */
  readonly pairingFailuresPerIp: number;
  /** OTP verify attempts per device per 5 minutes (6 digits need far more guesses than this allows). */
  readonly otpAttemptsPerDevice: number;
}

export const DEFAULT_LIMITS: AuthLimitOptions = { pairingFailuresPerIp: 20, otpAttemptsPerDevice: 10 };

/** Any rate-limiter-flexible limiter: in memory by default, RateLimiterRedis from store/redis/rate-limits.ts. */
export type AuthLimiters = Record<LimitName, RateLimiterAbstract>;

/**
 * @example
 * const limiters = createAuthLimiters(config);
 * await consumeLimit(limiters, 'auth', request.ip, metrics);
 */
export function createAuthLimiters(
  config: Pick<RelayConfig, 'authRequestsPerIpPerMinute' | 'registrationsPerIpPerHour'>,
  opts: Partial<AuthLimitOptions> = {},
): AuthLimiters {
  const o = { ...DEFAULT_LIMITS, ...opts };
  return {
    auth: new RateLimiterMemory({ keyPrefix: 'auth', points: config.authRequestsPerIpPerMinute, duration: 60 }),
    registration: new RateLimiterMemory({ keyPrefix: 'reg', points: config.registrationsPerIpPerHour, duration: 3600 }),
    pairing: new RateLimiterMemory({ keyPrefix: 'pair', points: o.pairingFailuresPerIp, duration: 600 }),
    otp: new RateLimiterMemory({ keyPrefix: 'otp', points: o.otpAttemptsPerDevice, duration: 300 }),
  };
}

function limited(name: LimitName, msBeforeNext: number, metrics: Metrics): RelayError {
  metrics.rateLimited.inc({ limit: name });
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new RelayError('RELAY_ERR_RATE_LIMITED', `too many requests (${name}); retry in ${seconds} s`);
}

/**
 * Spends one point of a limit; throws RELAY_ERR_RATE_LIMITED (429) when none is left.
 *
 * @example
 * await consumeLimit(limiters, 'registration', ip, metrics);
 */
export async function consumeLimit(
  limiters: AuthLimiters,
  name: LimitName,
  key: string,
  metrics: Metrics,
): Promise<void> {
  try {
    await limiters[name].consume(key);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw limited(name, err.msBeforeNext, metrics);
    throw err;
  }
}

/** Throws RELAY_ERR_RATE_LIMITED when a limit is already used up, without spending a point. */
export async function checkLimit(
  limiters: AuthLimiters,
  name: LimitName,
  key: string,
  metrics: Metrics,
): Promise<void> {
  const res = await limiters[name].get(key);
  if (res !== null && res.remainingPoints <= 0) throw limited(name, res.msBeforeNext, metrics);
}

/** Spends one point without refusing: for failures, which the next `checkLimit` then sees. */
export async function penalize(limiters: AuthLimiters, name: LimitName, key: string): Promise<void> {
  await limiters[name].penalty(key, 1);
}
