/**
 * The QueueStore suite on RedisQueueStore against a real redis-server (AOF on, RDB off) started on a free port, plus
 * a restart showing queued entries survive in the append-only file. Needs redis-server: CI fails without it,
 * elsewhere the file is skipped loudly.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueuedEnvelope } from '../../src/queue/queued-envelope.js';
import { QueueStoreError, RedisQueueStore } from '../../src/queue/redis-queue-store.js';
import { freePort, HAVE_REDIS, startRedisProcess, stopRedisProcess } from '../redis-server.js';
import { queueStoreSuite } from './queue-store.suite.js';

describe.runIf(HAVE_REDIS)('RedisQueueStore on a real redis-server', () => {
  let dir = '';
  let port = 0;
  let server: ChildProcess | undefined;
  let client: Redis;
  let prefixes = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oppie-redis-'));
    port = await freePort();
    server = await startRedisProcess(dir, port);
    client = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    await client.connect();
  });

  afterAll(async () => {
    client?.disconnect();
    if (server !== undefined) await stopRedisProcess(server);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  // A fresh key prefix per store isolates the tests on one server.
  queueStoreSuite(
    'redis',
    async (bounds) => new RedisQueueStore({ redis: client, bounds, keyPrefix: `test${++prefixes}:` }),
  );

  const entry = (id: string, priority: QueuedEnvelope['priority']): QueuedEnvelope => ({
    id,
    from: 'sender-a',
    to: 'dev',
    type: 'chat',
    priority,
    text: `{"id":"${id}"}`,
    bytes: 12,
    acceptedAt: 1_700_000_000_000,
    expiresAt: Number.MAX_SAFE_INTEGER,
  });

  it('keeps queued and in-flight entries across a redis-server restart (AOF)', async () => {
    const bounds = { maxCount: 100, maxBytes: 100_000 };
    const prefix = `restart${++prefixes}:`;
    const store = new RedisQueueStore({ redis: { host: '127.0.0.1', port }, bounds, keyPrefix: prefix });
    const [l1, n1, h1, n2] = [entry('l1', 'low'), entry('n1', 'normal'), entry('h1', 'high'), entry('n2', 'normal')];
    for (const e of [l1, n1, h1, n2]) await store.enqueue(e);
    expect((await store.take('dev', 2, 1000)).entries).toEqual([h1, n1]);

    await stopRedisProcess(server as ChildProcess);
    server = await startRedisProcess(dir, port);

    // The same client reconnects by itself; scripts are loaded again (EVALSHA falls back to EVAL on NOSCRIPT).
    expect(await store.stats('dev')).toEqual({ depth: 4, bytes: 48, inflight: 2 });
    expect(await store.oldestInflightAt('dev')).toBe(1000);
    const fresh = new RedisQueueStore({ redis: client, bounds, keyPrefix: prefix });
    expect(await fresh.refreshTotals()).toEqual({ depth: 4, bytes: 48 });
    await fresh.release('dev');
    expect((await fresh.take('dev', 10, 2000)).entries).toEqual([h1, n1, n2, l1]);
    expect(await fresh.ack('dev', ['h1', 'n1', 'n2', 'l1'], 'sender-a')).toEqual([h1, n1, n2, l1]);
    expect(fresh.totals()).toEqual({ depth: 0, bytes: 0 });
    await store.close();
    await fresh.close();
  });

  it('wraps Redis failures in QueueStoreError (RELAY_ERR_STORE)', async () => {
    const store = new RedisQueueStore({
      redis: { host: '127.0.0.1', port: await freePort(), maxRetriesPerRequest: 0, retryStrategy: () => null },
      bounds: { maxCount: 10, maxBytes: 1000 },
      onError: () => {},
    });
    const err = await store.enqueue(entry('x', 'normal')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueStoreError);
    expect((err as QueueStoreError).code).toBe('RELAY_ERR_STORE');
    await store.close();
  });
});
