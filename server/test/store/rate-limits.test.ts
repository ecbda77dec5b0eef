/**
 * The Redis auth limiters against a real redis-server: the same limits as the in-memory ones, one budget shared by
 * every instance (consume, checkLimit and penalize seen across two clients), RELAY_ERR_RATE_LIMITED when spent,
 * and the behaviour while Redis is down (in-memory fallback, or the error).
 */
import { RelayError } from '@oppie/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLimit, consumeLimit, createAuthLimiters, type LimitName, penalize } from '../../src/auth/rate-limits.js';
import { createMetrics } from '../../src/metrics.js';
import { createRedisAuthLimiters } from '../../src/store/redis/rate-limits.js';
import { freePort, HAVE_REDIS, startTestRedis, type TestRedis } from '../redis-server.js';

const CONFIG = { authRequestsPerIpPerMinute: 3, registrationsPerIpPerHour: 2 };
const LIMITS = { pairingFailuresPerIp: 4, otpAttemptsPerDevice: 5 };
const NAMES: LimitName[] = ['auth', 'registration', 'pairing', 'otp'];

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof RelayError ? err.code : `not a RelayError: ${String(err)}`;
  }
}

describe.runIf(HAVE_REDIS)('Redis auth limiters on a real redis-server', () => {
  let server: TestRedis;
  let otherClient: Redis;
  const metrics = createMetrics();

  beforeAll(async () => {
    server = await startTestRedis();
    otherClient = await server.connect();
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** Two relay instances: each its own client and limiter set, on one Redis and one key prefix. */
  const twoInstances = () => {
    const keyPrefix = server.prefix();
    return [
      createRedisAuthLimiters(server.client, CONFIG, { ...LIMITS, keyPrefix }),
      createRedisAuthLimiters(otherClient, CONFIG, { ...LIMITS, keyPrefix }),
    ] as const;
  };

  it('has the points and durations of the in-memory limiters', () => {
    const memory = createAuthLimiters(CONFIG, LIMITS);
    const redis = createRedisAuthLimiters(server.client, CONFIG, LIMITS);
    for (const name of NAMES) {
      expect([redis[name].points, redis[name].duration], name).toEqual([memory[name].points, memory[name].duration]);
    }
  });

  it('shares one budget between instances: points spent on one are refused on the other', async () => {
    const [a, b] = twoInstances();
    await consumeLimit(a, 'auth', '10.0.0.1', metrics);
    await consumeLimit(b, 'auth', '10.0.0.1', metrics);
    await consumeLimit(a, 'auth', '10.0.0.1', metrics);
    expect(await codeOf(consumeLimit(b, 'auth', '10.0.0.1', metrics))).toBe('RELAY_ERR_RATE_LIMITED');
    expect(await codeOf(consumeLimit(a, 'auth', '10.0.0.1', metrics))).toBe('RELAY_ERR_RATE_LIMITED');
    // Another address and another limit have their own budgets.
    expect(await codeOf(consumeLimit(b, 'auth', '10.0.0.2', metrics))).toBeUndefined();
    expect(await codeOf(consumeLimit(b, 'registration', '10.0.0.1', metrics))).toBeUndefined();
  });

  it('refuses with a retry delay within the limit duration', async () => {
    const [a, b] = twoInstances();
    await consumeLimit(a, 'registration', 'ip', metrics);
    await consumeLimit(a, 'registration', 'ip', metrics);
    const err = await consumeLimit(b, 'registration', 'ip', metrics).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe('RELAY_ERR_RATE_LIMITED');
    expect((err as RelayError).message).toMatch(/too many requests \(registration\); retry in \d+ s/);
    const seconds = Number(/retry in (\d+) s/.exec((err as RelayError).message)?.[1]);
    expect(seconds).toBeGreaterThan(3500);
    expect(seconds).toBeLessThanOrEqual(3600);
  });

  it('sees penalties of one instance in checkLimit of the other', async () => {
    const [a, b] = twoInstances();
    for (let i = 0; i < LIMITS.pairingFailuresPerIp - 1; i++) await penalize(a, 'pairing', 'ip');
    expect(await codeOf(checkLimit(b, 'pairing', 'ip', metrics))).toBeUndefined();
    await penalize(b, 'pairing', 'ip');
    expect(await codeOf(checkLimit(a, 'pairing', 'ip', metrics))).toBe('RELAY_ERR_RATE_LIMITED');
    expect(await codeOf(checkLimit(b, 'pairing', 'ip', metrics))).toBe('RELAY_ERR_RATE_LIMITED');
    expect(await codeOf(checkLimit(b, 'pairing', 'other-ip', metrics))).toBeUndefined();
  });

  it('keeps key prefixes apart and expires its counters', async () => {
    const keyPrefix = server.prefix();
    const a = createRedisAuthLimiters(server.client, CONFIG, { ...LIMITS, keyPrefix });
    const c = createRedisAuthLimiters(server.client, CONFIG, { ...LIMITS, keyPrefix: server.prefix() });
    for (let i = 0; i < LIMITS.otpAttemptsPerDevice; i++) await consumeLimit(a, 'otp', 'dev', metrics);
    expect(await codeOf(consumeLimit(a, 'otp', 'dev', metrics))).toBe('RELAY_ERR_RATE_LIMITED');
    expect(await codeOf(consumeLimit(c, 'otp', 'dev', metrics))).toBeUndefined();
    const ttl = await server.client.pttl(`${keyPrefix}rl:otp:dev`);
    expect(ttl).toBeGreaterThan(290_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
  });

  it('falls back to per-instance memory limits while Redis is unreachable', async () => {
    const down = await server.connect();
    down.disconnect();
    const l = createRedisAuthLimiters(down, CONFIG, { ...LIMITS, keyPrefix: server.prefix() });
    for (let i = 0; i < CONFIG.authRequestsPerIpPerMinute; i++) await consumeLimit(l, 'auth', 'ip', metrics);
    expect(await codeOf(consumeLimit(l, 'auth', 'ip', metrics))).toBe('RELAY_ERR_RATE_LIMITED');
  });

  it('surfaces the Redis error without the fallback', async () => {
    const down = new Redis({
      host: '127.0.0.1',
      port: await freePort(),
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    down.on('error', () => {});
    const l = createRedisAuthLimiters(down, CONFIG, { ...LIMITS, memoryFallback: false });
    const err = await consumeLimit(l, 'auth', 'ip', metrics).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(RelayError);
    down.disconnect();
  });
});
