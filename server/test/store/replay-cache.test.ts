import { describe, expect, it } from 'vitest';
import { MemoryReplayCache } from '../../src/store/memory/replay-cache.js';
import { RedisStoreError } from '../../src/store/redis/client.js';
import { RedisReplayCache } from '../../src/store/redis/replay-cache.js';
import { freePort, HAVE_REDIS, useTestRedis } from '../redis-server.js';
import { replayCacheSuite } from './replay-cache.suite.js';

replayCacheSuite('memory', async () => new MemoryReplayCache());

describe.runIf(HAVE_REDIS)('RedisReplayCache on a real redis-server', () => {
  const redis = useTestRedis();

  // A fresh key prefix per cache isolates the tests on one redis.server.
  replayCacheSuite(
    'redis',
    async () => new RedisReplayCache({ redis: redis.server.client, keyPrefix: redis.server.prefix() }),
  );

  it('is shared by two instances: issued on one, taken once on either', async () => {
    const keyPrefix = redis.server.prefix();
    const a = new RedisReplayCache({ redis: redis.server.client, keyPrefix });
    const b = new RedisReplayCache({ redis: redis.other, keyPrefix });
    expect(await a.add('challenge:c1', Date.now() + 60_000)).toBe(true);
    expect(await b.add('challenge:c1', Date.now() + 60_000)).toBe(false);
    expect(await b.take('challenge:c1')).toBe(true);
    expect(await a.take('challenge:c1')).toBe(false);
  });

  it('keeps the key prefix apart and sets a Redis expiry on every key', async () => {
    const keyPrefix = redis.server.prefix();
    const a = new RedisReplayCache({ redis: redis.server.client, keyPrefix });
    const b = new RedisReplayCache({ redis: redis.server.client, keyPrefix: redis.server.prefix() });
    expect(await a.add('k', Date.now() + 60_000)).toBe(true);
    expect(await b.add('k', Date.now() + 60_000)).toBe(true);
    const ttl = await redis.server.client.pttl(`${keyPrefix}replay:k`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('computes the lifetime with its own clock, not the Redis server clock', async () => {
    const keyPrefix = redis.server.prefix();
    const skewed = { t: Date.now() + 3_600_000 };
    const a = new RedisReplayCache({ redis: redis.server.client, keyPrefix, now: () => skewed.t });
    expect(await a.add('k', skewed.t + 30_000)).toBe(true);
    const ttl = await redis.server.client.pttl(`${keyPrefix}replay:k`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('keeps live keys across a redis-server restart (AOF)', async () => {
    const keyPrefix = redis.server.prefix();
    const owned = new RedisReplayCache({ redis: { host: '127.0.0.1', port: redis.server.port }, keyPrefix });
    expect(await owned.add('nonce:n1', Date.now() + 60_000)).toBe(true);
    await redis.server.restart();
    // The owned client reconnects by itself.
    expect(await owned.add('nonce:n1', Date.now() + 60_000)).toBe(false);
    expect(await owned.take('nonce:n1')).toBe(true);
    await owned.close();
  });

  it('wraps Redis failures in RedisStoreError (RELAY_ERR_STORE)', async () => {
    const cache = new RedisReplayCache({
      redis: { host: '127.0.0.1', port: await freePort(), maxRetriesPerRequest: 0, retryStrategy: () => null },
      onError: () => {},
    });
    const err = await cache.add('x', Date.now() + 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisStoreError);
    expect((err as RedisStoreError).code).toBe('RELAY_ERR_STORE');
    expect(await cache.take('x').catch((e: unknown) => (e as RedisStoreError).code)).toBe('RELAY_ERR_STORE');
    await cache.close();
  });
});
