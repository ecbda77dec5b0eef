import { describe, expect, it } from 'vitest';
import { RedisStoreError } from '../../src/store/redis/client.js';
import { RedisEnrollmentStore } from '../../src/store/redis/enrollments.js';
import { SqliteEnrollmentStore } from '../../src/store/sqlite/index.js';
import { freePort, HAVE_REDIS, useTestRedis } from '../redis-server.js';
import { enrollmentRecord, enrollmentStoreSuite } from './enrollments.suite.js';
import { onTempDatabase } from './temp-database.js';

enrollmentStoreSuite('sqlite', async () => onTempDatabase((db) => new SqliteEnrollmentStore(db)));

describe.runIf(HAVE_REDIS)('RedisEnrollmentStore on a real redis-server', () => {
  const redis = useTestRedis();

  // A fresh key prefix per store isolates the tests on one redis.server.
  enrollmentStoreSuite(
    'redis',
    async () => new RedisEnrollmentStore({ redis: redis.server.client, keyPrefix: redis.server.prefix() }),
  );

  it('is shared by two instances: uses are spent across both, exactly `uses` times under a race', async () => {
    const keyPrefix = redis.server.prefix();
    const a = new RedisEnrollmentStore({ redis: redis.server.client, keyPrefix });
    const b = new RedisEnrollmentStore({ redis: redis.other, keyPrefix });
    const r = enrollmentRecord({ uses: 5 });
    await a.create(r);
    await expect(b.create(r)).rejects.toBeInstanceOf(RedisStoreError);
    const spent = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).consume(r.tokenHash, r.createdAt)),
    );
    expect(spent.filter(Boolean)).toHaveLength(5);
    expect(await b.deleteExpired(r.createdAt)).toBe(1);
    expect(await a.deleteExpired(r.createdAt)).toBe(0);
  });

  it('keeps tokens and their uses across a redis-server restart (AOF)', async () => {
    const keyPrefix = redis.server.prefix();
    const owned = new RedisEnrollmentStore({ redis: { host: '127.0.0.1', port: redis.server.port }, keyPrefix });
    const r = enrollmentRecord({ uses: 2 });
    await owned.create(r);
    expect(await owned.consume(r.tokenHash, r.createdAt)).toBe(true);
    await redis.server.restart();
    // The owned client reconnects by itself; scripts are loaded again (EVALSHA falls back to EVAL on NOSCRIPT).
    expect(await owned.consume(r.tokenHash, r.createdAt)).toBe(true);
    expect(await owned.consume(r.tokenHash, r.createdAt)).toBe(false);
    expect(await owned.deleteExpired(r.createdAt)).toBe(1);
    await owned.close();
  });

  it('wraps Redis failures in RedisStoreError (RELAY_ERR_STORE)', async () => {
    const s = new RedisEnrollmentStore({
      redis: { host: '127.0.0.1', port: await freePort(), maxRetriesPerRequest: 0, retryStrategy: () => null },
      onError: () => {},
    });
    const codes = await Promise.all(
      [s.create(enrollmentRecord()), s.consume('x', 1), s.deleteExpired(1)].map((p) =>
        (p as Promise<unknown>).then(
          () => 'resolved',
          (e: unknown) => (e as RedisStoreError).code,
        ),
      ),
    );
    expect(codes).toEqual(['RELAY_ERR_STORE', 'RELAY_ERR_STORE', 'RELAY_ERR_STORE']);
    await s.close();
  });

  it('refuses a token with a non-numeric field before writing anything', async () => {
    const s = new RedisEnrollmentStore({ redis: redis.server.client, keyPrefix: redis.server.prefix() });
    const r = enrollmentRecord({ expiresAt: Number.NaN });
    await expect(s.create(r)).rejects.toBeInstanceOf(RedisStoreError);
    await expect(s.create({ ...enrollmentRecord(), tokenHash: r.tokenHash, uses: Number.NaN })).rejects.toBeInstanceOf(
      RedisStoreError,
    );
    await s.create({ ...enrollmentRecord(), tokenHash: r.tokenHash });
    expect(await s.consume(r.tokenHash, r.createdAt)).toBe(true);
  });

  it('takes token hashes that look like its internal names', async () => {
    const s = new RedisEnrollmentStore({ redis: redis.server.client, keyPrefix: redis.server.prefix() });
    for (const tokenHash of ['exp', 'spent', 't:exp', '']) {
      const r = enrollmentRecord({ tokenHash, uses: 1 });
      await s.create(r);
      expect(await s.consume(tokenHash, r.createdAt)).toBe(true);
      expect(await s.consume(tokenHash, r.createdAt)).toBe(false);
    }
    expect(await s.deleteExpired(0)).toBe(4);
  });
});
