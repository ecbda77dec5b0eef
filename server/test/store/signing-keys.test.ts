/**
 * The SigningKeyStore suite on SqliteSigningKeyStore (a fresh relay.db per store) and on RedisSigningKeyStore against
 * a real redis-server, plus what only Redis does: two instances share the key ring, keys survive a restart (AOF), and
 * failures are RELAY_ERR_STORE.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStoreError } from '../../src/store/redis/replay-cache.js';
import { RedisSigningKeyStore } from '../../src/store/redis/signing-keys.js';
import { openDatabase, SqliteSigningKeyStore } from '../../src/store/sqlite/index.js';
import { freePort, HAVE_REDIS, startTestRedis, type TestRedis } from '../redis-server.js';
import { signingKey, signingKeyStoreSuite } from './signing-keys.suite.js';

signingKeyStoreSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oppie-signing-keys-'));
  const db = openDatabase(dir);
  const store = new SqliteSigningKeyStore(db);
  return Object.assign(store, {
    async close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
});

describe.runIf(HAVE_REDIS)('RedisSigningKeyStore on a real redis-server', () => {
  let server: TestRedis;
  let other: Redis;

  beforeAll(async () => {
    server = await startTestRedis();
    other = await server.connect();
  });

  afterAll(async () => {
    await server?.stop();
  });

  // A fresh key prefix per store isolates the tests on one server.
  signingKeyStoreSuite(
    'redis',
    async () => new RedisSigningKeyStore({ redis: server.client, keyPrefix: server.prefix() }),
  );

  it('is shared by two instances: a rotation on one is seen by the other', async () => {
    const keyPrefix = server.prefix();
    const a = new RedisSigningKeyStore({ redis: server.client, keyPrefix });
    const b = new RedisSigningKeyStore({ redis: other, keyPrefix });
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
    const keyPrefix = server.prefix();
    const owned = new RedisSigningKeyStore({ redis: { host: '127.0.0.1', port: server.port }, keyPrefix });
    const k1 = signingKey({ createdAt: 1 });
    const k2 = signingKey({ createdAt: 2, privatePem: null });
    await owned.activate(k1, 0);
    await server.restart();
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
    const s = new RedisSigningKeyStore({ redis: server.client, keyPrefix: server.prefix() });
    await expect(s.activate(signingKey({ createdAt: Number.NaN }), 1)).rejects.toBeInstanceOf(RedisStoreError);
    await expect(s.activate(signingKey(), Number.POSITIVE_INFINITY)).rejects.toBeInstanceOf(RedisStoreError);
    expect(await s.list()).toEqual([]);
    const k = signingKey();
    await s.activate(k, 1);
    await expect(s.activate({ ...signingKey(), kid: k.kid }, 2)).rejects.toBeInstanceOf(RedisStoreError);
    expect(await s.list()).toEqual([k]);
  });
});
