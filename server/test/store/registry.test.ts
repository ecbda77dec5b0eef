import { describe, expect, it } from 'vitest';
import { RedisStoreError } from '../../src/store/redis/client.js';
import { RedisRegistry } from '../../src/store/redis/registry.js';
import { SqliteRegistry } from '../../src/store/sqlite/index.js';
import { freePort, HAVE_REDIS, useTestRedis } from '../redis-server.js';
import { accountId, newDevice, registrySuite, stored } from './registry.suite.js';
import { onTempDatabase } from './temp-database.js';

registrySuite('sqlite', async () => onTempDatabase((db) => new SqliteRegistry(db)));

describe.runIf(HAVE_REDIS)('RedisRegistry on a real redis-server', () => {
  const redis = useTestRedis();

  // A fresh key prefix per registry isolates the tests on one redis.server.
  registrySuite(
    'redis',
    async () => new RedisRegistry({ redis: redis.server.client, keyPrefix: redis.server.prefix() }),
  );

  it('is shared by two instances: devices, revocations and OTP state', async () => {
    const keyPrefix = redis.server.prefix();
    const a = new RedisRegistry({ redis: redis.server.client, keyPrefix });
    const b = new RedisRegistry({ redis: redis.other, keyPrefix });
    const acct = accountId();
    const d1 = newDevice(acct);
    const d2 = newDevice(acct);
    await a.createAccount(acct, d1);
    await b.addDevice(d2);
    expect(await a.listDevices(acct)).toEqual([stored(d1), stored(d2)]);
    await expect(b.addDevice(newDevice(acct, { publicKey: d1.publicKey }))).rejects.toMatchObject({
      code: 'RELAY_ERR_DEVICE_EXISTS',
    });
    expect(await b.revokeDevice(d1.id, 10)).toBe(true);
    expect(await a.revokeDevice(d1.id, 11)).toBe(false);
    expect(await a.revokedSince(0)).toEqual([{ deviceId: d1.id, revokedAt: 10 }]);
    await a.touchDevice(d2.id, 20);
    expect(await b.listDevices(acct)).toEqual([{ ...stored(d2), lastSeenAt: 20 }]);

    expect(await a.setPendingOtp(acct, 'S')).toBe(true);
    expect(await b.acceptOtpCounter(acct, 7, 30)).toBe(true);
    expect(await a.acceptOtpCounter(acct, 7, 31)).toBe(false);
    expect(await a.setPendingOtp(acct, 'T')).toBe(false);
    expect(await a.getOtp(acct)).toEqual({ secret: 'S', confirmedAt: 30, lastCounter: 7 });
  });

  it('lets exactly one of racing requests with the same code pass across two instances', async () => {
    const keyPrefix = redis.server.prefix();
    const a = new RedisRegistry({ redis: redis.server.client, keyPrefix });
    const b = new RedisRegistry({ redis: redis.other, keyPrefix });
    const acct = accountId();
    await a.createAccount(acct, newDevice(acct));
    await a.setPendingOtp(acct, 'S');
    const passed = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).acceptOtpCounter(acct, 99, 1000 + i)),
    );
    expect(passed.filter(Boolean)).toHaveLength(1);
    expect((await b.getOtp(acct))?.lastCounter).toBe(99);
  });

  it('lets exactly one of two instances register the same public key', async () => {
    const keyPrefix = redis.server.prefix();
    const a = new RedisRegistry({ redis: redis.server.client, keyPrefix });
    const b = new RedisRegistry({ redis: redis.other, keyPrefix });
    const acct1 = accountId();
    const acct2 = accountId();
    const d1 = newDevice(acct1);
    const d2 = newDevice(acct2, { publicKey: d1.publicKey });
    const results = await Promise.allSettled([a.createAccount(acct1, d1), b.createAccount(acct2, d2)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 'RELAY_ERR_DEVICE_EXISTS' });
  });

  it('keeps accounts, devices and OTP state across a redis-server restart (AOF)', async () => {
    const keyPrefix = redis.server.prefix();
    const owned = new RedisRegistry({ redis: { host: '127.0.0.1', port: redis.server.port }, keyPrefix });
    const acct = accountId();
    const d = newDevice(acct);
    await owned.createAccount(acct, d);
    await owned.setPendingOtp(acct, 'S');
    expect(await owned.acceptOtpCounter(acct, 5, 50)).toBe(true);
    await owned.revokeDevice(d.id, 60);
    await redis.server.restart();
    // The owned client reconnects by itself; scripts are loaded again (EVALSHA falls back to EVAL on NOSCRIPT).
    expect(await owned.acceptOtpCounter(acct, 5, 70)).toBe(false);
    expect(await owned.acceptOtpCounter(acct, 6, 70)).toBe(true);
    expect(await owned.getDevice(d.id)).toEqual({ ...stored(d), revokedAt: 60 });
    expect(await owned.revokedSince(0)).toEqual([{ deviceId: d.id, revokedAt: 60 }]);
    await owned.ping();
    await owned.close();
  });

  it('wraps Redis failures in RedisStoreError (RELAY_ERR_STORE), ping included', async () => {
    const r = new RedisRegistry({
      redis: { host: '127.0.0.1', port: await freePort(), maxRetriesPerRequest: 0, retryStrategy: () => null },
      onError: () => {},
    });
    const acct = accountId();
    const codes = await Promise.all(
      [
        r.createAccount(acct, newDevice(acct)),
        r.addDevice(newDevice(acct)),
        r.getDevice('x'),
        r.listDevices(acct),
        r.revokeDevice('x', 1),
        r.revokedSince(0),
        r.touchDevice('x', 1),
        r.getOtp(acct),
        r.setPendingOtp(acct, 'S'),
        r.acceptOtpCounter(acct, 1, 1),
        r.ping(),
      ].map((p) =>
        (p as Promise<unknown>).then(
          () => 'resolved',
          (e: unknown) => (e as RedisStoreError).code,
        ),
      ),
    );
    expect(codes).toEqual(Array.from({ length: 11 }, () => 'RELAY_ERR_STORE'));
    await r.close();
  });

  it('refuses non-numeric times before writing anything', async () => {
    const r = new RedisRegistry({ redis: redis.server.client, keyPrefix: redis.server.prefix() });
    const acct = accountId();
    const d = newDevice(acct, { createdAt: Number.NaN });
    await expect(r.createAccount(acct, d)).rejects.toBeInstanceOf(RedisStoreError);
    expect(await r.getDevice(d.id)).toBeUndefined();
    const ok = newDevice(acct);
    await r.createAccount(acct, ok);
    await r.setPendingOtp(acct, 'S');
    await expect(r.acceptOtpCounter(acct, Number.NaN, 1)).rejects.toBeInstanceOf(RedisStoreError);
    await expect(r.revokeDevice(ok.id, Number.POSITIVE_INFINITY)).rejects.toBeInstanceOf(RedisStoreError);
    expect(await r.getOtp(acct)).toEqual({ secret: 'S', confirmedAt: null, lastCounter: null });
    expect(await r.getDevice(ok.id)).toEqual(stored(ok));
  });

  it('takes ids and keys that look like its internal names', async () => {
    const r = new RedisRegistry({ redis: redis.server.client, keyPrefix: redis.server.prefix() });
    const acct = 'ad:x';
    const d = newDevice(acct, { id: 'revoked', publicKey: 'd:revoked' });
    await r.createAccount(acct, d);
    const e = newDevice(acct, { id: 'pk:d:revoked' });
    await r.addDevice(e);
    expect(await r.listDevices(acct)).toEqual([stored(d), stored(e)]);
    expect(await r.revokeDevice('revoked', 5)).toBe(true);
    expect(await r.revokedSince(0)).toEqual([{ deviceId: 'revoked', revokedAt: 5 }]);
    expect(await r.listDevices('x')).toEqual([]);
  });
});
