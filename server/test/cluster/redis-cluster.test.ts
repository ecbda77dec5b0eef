/**
 * RedisCluster against a real redis-server: `locate` finds attached devices, and fails with RELAY_ERR_STORE when
 * Redis cannot answer (ioredis resolves a pipeline with one error per command; that is no "nobody online"); a
 * subscription to a device not held here is dropped at its first wake-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster } from '../../src/cluster/redis-cluster.js';
import { HAVE_REDIS, startTestRedis, type TestRedis } from '../redis-server.js';

describe.runIf(HAVE_REDIS)('RedisCluster on a real redis-server', () => {
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

  it('drops its subscription to a device whose wake-up finds it not held here', async () => {
    const prefix = server.prefix();
    const here = new RedisCluster({ redis: await server.connect(), keyPrefix: prefix });
    const other = new RedisCluster({ redis: await server.connect(), keyPrefix: prefix });
    const woken: string[] = [];
    const handlers = { replaced() {}, event() {}, availability() {} };
    const notHeld = (id: string) => {
      woken.push(id);
      return false;
    };
    await here.start({ ...handlers, wake: notHeld });
    await other.start({ ...handlers, wake: () => true });
    await here.attach('dev-1', { instance: here.instanceId, connectionId: 'x/c1', path: 'relay', connectedAt: 1 });
    expect(await other.wake('dev-1')).toBe(true); // `here` is subscribed: it gets the wake-up
    await expect.poll(() => woken).toEqual(['dev-1']);
    await expect.poll(() => other.wake('dev-1')).toBe(false); // and no longer is
    await here.close();
    await other.close();
  });
});
