import { describe, expect, it } from 'vitest';
import { RedisStoreError } from '../../src/store/redis/client.js';
import { RedisPairingStore } from '../../src/store/redis/pairings.js';
import { SqlitePairingStore } from '../../src/store/sqlite/index.js';
import { freePort, HAVE_REDIS, useTestRedis } from '../redis-server.js';
import { pairingRecord, pairingStoreSuite } from './pairings.suite.js';
import { onTempDatabase } from './temp-database.js';

pairingStoreSuite('sqlite', async () => onTempDatabase((db) => new SqlitePairingStore(db)));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(HAVE_REDIS)('RedisPairingStore on a real redis-server', () => {
  const redis = useTestRedis();

  // A fresh key prefix per store isolates the tests on one redis.server.
  pairingStoreSuite(
    'redis',
    async () => new RedisPairingStore({ redis: redis.server.client, keyPrefix: redis.server.prefix() }),
  );

  it('is shared by two instances: created on one, attempts and the claim counted on both', async () => {
    const keyPrefix = redis.server.prefix();
    const a = new RedisPairingStore({ redis: redis.server.client, keyPrefix });
    const b = new RedisPairingStore({ redis: redis.other, keyPrefix });
    const r = pairingRecord();
    await a.create(r);
    expect(await b.get(r.lookupId)).toEqual(r);
    expect(await a.recordFailedAttempt(r.lookupId)).toBe(1);
    expect(await b.recordFailedAttempt(r.lookupId)).toBe(2);
    expect(await b.markUsed(r.lookupId, 123)).toBe(true);
    expect(await a.markUsed(r.lookupId, 456)).toBe(false);
    expect(await a.get(r.lookupId)).toEqual({ ...r, attempts: 2, usedAt: 123 });
  });

  it('lets Redis drop a record `retentionMs` after its expiry, computed with the instance clock', async () => {
    const keyPrefix = redis.server.prefix();
    const skewed = Date.now() + 3_600_000;
    const s = new RedisPairingStore({ redis: redis.server.client, keyPrefix, retentionMs: 60_000, now: () => skewed });
    const r = pairingRecord({ expiresAt: skewed + 30_000 });
    await s.create(r);
    const ttl = await redis.server.client.pttl(`${keyPrefix}{pairing}:c:${r.lookupId}`);
    expect(ttl).toBeGreaterThan(85_000);
    expect(ttl).toBeLessThanOrEqual(90_000);

    const quick = new RedisPairingStore({ redis: redis.server.client, keyPrefix, retentionMs: 0 });
    const q = pairingRecord({ expiresAt: Date.now() + 100 });
    await quick.create(q);
    expect(await quick.get(q.lookupId)).toEqual(q);
    await sleep(200);
    expect(await quick.get(q.lookupId)).toBeUndefined();
    expect(await quick.recordFailedAttempt(q.lookupId)).toBe(0);
    // The expiry index forgets it on the next clean-up; the record is not counted twice.
    expect(await quick.deleteExpired(Date.now())).toBe(0);
    expect(await redis.server.client.zcard(`${keyPrefix}{pairing}:exp`)).toBe(1);
  });

  it('keeps codes and attempt counts across a redis-server restart (AOF)', async () => {
    const keyPrefix = redis.server.prefix();
    const owned = new RedisPairingStore({ redis: { host: '127.0.0.1', port: redis.server.port }, keyPrefix });
    const r = pairingRecord();
    await owned.create(r);
    expect(await owned.recordFailedAttempt(r.lookupId)).toBe(1);
    await redis.server.restart();
    // The owned client reconnects by itself; scripts are loaded again (EVALSHA falls back to EVAL on NOSCRIPT).
    expect(await owned.recordFailedAttempt(r.lookupId)).toBe(2);
    expect(await owned.markUsed(r.lookupId, 99)).toBe(true);
    expect(await owned.get(r.lookupId)).toEqual({ ...r, attempts: 2, usedAt: 99 });
    await owned.close();
  });

  it('wraps Redis failures in RedisStoreError (RELAY_ERR_STORE)', async () => {
    const s = new RedisPairingStore({
      redis: { host: '127.0.0.1', port: await freePort(), maxRetriesPerRequest: 0, retryStrategy: () => null },
      onError: () => {},
    });
    const err = await s.create(pairingRecord()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisStoreError);
    expect((err as RedisStoreError).code).toBe('RELAY_ERR_STORE');
    const codes = await Promise.all(
      [s.get('x'), s.recordFailedAttempt('x'), s.markUsed('x', 1), s.deleteExpired(1)].map((p) =>
        p.then(
          () => 'resolved',
          (e: unknown) => (e as RedisStoreError).code,
        ),
      ),
    );
    expect(codes).toEqual(['RELAY_ERR_STORE', 'RELAY_ERR_STORE', 'RELAY_ERR_STORE', 'RELAY_ERR_STORE']);
    await s.close();
  });

  it('refuses a record with a non-numeric time before writing anything', async () => {
    const keyPrefix = redis.server.prefix();
    const s = new RedisPairingStore({ redis: redis.server.client, keyPrefix });
    const r = pairingRecord({ expiresAt: Number.NaN });
    await expect(s.create(r)).rejects.toBeInstanceOf(RedisStoreError);
    expect(await s.get(r.lookupId)).toBeUndefined();
  });
});
