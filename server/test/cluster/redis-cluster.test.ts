/**
 * RedisCluster against a real redis-server: `locate` finds attached devices, and fails with RELAY_ERR_STORE when
 * Redis cannot answer (ioredis resolves a pipeline with one error per command; that is no "nobody online").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster } from '../../src/cluster/redis-cluster.js';
import { HAVE_REDIS, startTestRedis, type TestRedis } from '../redis-server.js';

describe.runIf(HAVE_REDIS)('RedisCluster.locate on a real redis-server', () => {
  let server: TestRedis;

  beforeAll(async () => {
    server = await startTestRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('finds an attached device, and fails with RELAY_ERR_STORE when Redis is gone', async () => {
    const client = await server.connect();
    const cluster = new RedisCluster({ redis: client, keyPrefix: server.prefix() });
    await cluster.attach('dev-1', {
      instance: cluster.instanceId,
      connectionId: 'x/c1',
      path: 'relay',
      connectedAt: 1,
    });
    const found = await cluster.locate(['dev-1', 'dev-2']);
    expect([...found.keys()]).toEqual(['dev-1']);
    client.disconnect();
    await expect(cluster.locate(['dev-1'])).rejects.toMatchObject({ code: 'RELAY_ERR_STORE' });
    await cluster.close();
  });
});
