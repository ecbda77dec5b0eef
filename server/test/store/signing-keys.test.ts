import { describe, expect, it } from 'vitest';
import { RedisStoreError } from '../../src/store/redis/client.js';
import { RedisSigningKeyStore } from '../../src/store/redis/signing-keys.js';
import { SqliteSigningKeyStore } from '../../src/store/sqlite/index.js';
import { freePort, HAVE_REDIS, useTestRedis } from '../redis-server.js';
import { signingKey, signingKeyStoreSuite } from './signing-keys.suite.js';
import { onTempDatabase } from './temp-database.js';

signingKeyStoreSuite('sqlite', async () => onTempDatabase((db) => new SqliteSigningKeyStore(db)));

describe.runIf(HAVE_REDIS)('RedisSigningKeyStore on a real redis-server', () => {
  const redis = useTestRedis();

  // A fresh key prefix per store isolates the tests on one redis.server.
  signingKeyStoreSuite(
    'redis',
    async () => new RedisSigningKeyStore({ redis: redis.server.client, keyPrefix: redis.server.prefix() }),
  );

  it('is shared by two instances: a rotation on one is seen by the redis.other', async () => {
    const keyPrefix = redis.server.prefix();
    const a = new RedisSigningKeyStore({ redis: redis.server.client, keyPrefix });
    const b = new RedisSigningKeyStore({ redis: redis.other, keyPrefix });
    const k1 = signingKey({ createdAt: 1 });
    const k2 = signingKey({ createdAt: 2 });
    await a.activate(k1, 0);
    expect(await b.list()).toEqual([k1]);
    await b.activate(k2, 500);
    expect(await a.list()).toEqual([{ ...k1, active: false, verifyUntil: 500 }, k2]);
    expect(await a.deleteExpired(500)).toEqual([k1.kid]);
    expect(await b.list()).toEqual([k2]);
  });

  it('keeps the key ring across a redis-server restart (AOF)', async () => {
    const keyPrefix = redis.server.prefix();
    const owned = new RedisSigningKeyStore({ redis: { host: '127.0.0.1', port: redis.server.port }, keyPrefix });
    const k1 = signingKey({ createdAt: 1 });
    const k2 = signingKey({ createdAt: 2, privatePem: null });
    await owned.activate(k1, 0);
    await redis.server.restart();
    // The owned client reconnects by itself; scripts are loaded again (EVALSHA falls back to EVAL on NOSCRIPT).
    await owned.activate(k2, 900);
    expect(await owned.list()).toEqual([{ ...k1, active: false, verifyUntil: 900 }, k2]);
    await owned.close();
  });

  it('wraps Redis failures in RedisStoreError (RELAY_ERR_STORE)', async () => {
    const s = new RedisSigningKeyStore({
      redis: { host: '127.0.0.1', port: await freePort(), maxRetriesPerRequest: 0, retryStrategy: () => null },
      onError: () => {},
    });
    const codes = await Promise.all(
      [s.list(), s.activate(signingKey(), 1), s.deleteExpired(1)].map((p) =>
        p.then(
          () => 'resolved',
          (e: unknown) => (e as RedisStoreError).code,
        ),
      ),
    );
    expect(codes).toEqual(['RELAY_ERR_STORE', 'RELAY_ERR_STORE', 'RELAY_ERR_STORE']);
    await s.close();
  });

  it('refuses a key with a non-numeric time, and a known kid, as RELAY_ERR_STORE before writing', async () => {
    const s = new RedisSigningKeyStore({ redis: redis.server.client, keyPrefix: redis.server.prefix() });
    await expect(s.activate(signingKey({ createdAt: Number.NaN }), 1)).rejects.toBeInstanceOf(RedisStoreError);
    await expect(s.activate(signingKey(), Number.POSITIVE_INFINITY)).rejects.toBeInstanceOf(RedisStoreError);
    expect(await s.list()).toEqual([]);
    const k = signingKey();
    await s.activate(k, 1);
    await expect(s.activate({ ...signingKey(), kid: k.kid }, 2)).rejects.toBeInstanceOf(RedisStoreError);
    expect(await s.list()).toEqual([k]);
  });
});
