/**
 * Web Push with REDIS_URL: the VAPID key and subscriptions are shared, and two instances queueing for the same
 * offline phone within the coalescing interval send one push between them.
 */
import {
  apiOk,
  connectDevice,
  hasRedis,
  pairDevice,
  type RedisServer,
  registerDevice,
  requireBinary,
  startPushService,
  startTestRedis,
  startTestRelay,
  type TestPushService,
  type TestRelay,
} from '@oppie/test-kit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decryptPush, pushCount, putSubscription, subscriptionKeys } from './fixture.js';

const READY = hasRedis() && requireBinary('openssl', 'apt-get install openssl');

describe.runIf(READY)('Web Push on instances sharing one Redis', () => {
  let redis: RedisServer;
  let ps: TestPushService;
  const relays: TestRelay[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    ps = await startPushService();
  });
  afterAll(async () => {
    for (const r of relays) await r.close();
    await ps?.close();
    await redis?.stop();
  });

  it('shares the VAPID key and sends exactly one push for triggers on two instances', async () => {
    const start = () =>
      startTestRelay({
        redisUrl: redis.url,
        publicUrl: 'http://relay.test',
        pushCaFile: ps.caFile,
        pushAllowPrivateEndpoints: true,
      });
    const a = await start();
    relays.push(a);
    const b = await start();
    relays.push(b);
    const keyA = await apiOk<{ publicKey: string }>(a.url, 'GET', '/api/push/vapid-public-key');
    const keyB = await apiOk<{ publicKey: string }>(b.url, 'GET', '/api/push/vapid-public-key');
    expect(keyB.publicKey).toBe(keyA.publicKey);

    const sidecar = await registerDevice(a.url, 'workstation');
    const phone = await pairDevice(b.url, sidecar.token, 'phone');
    const sub = subscriptionKeys();
    const endpoint = `${ps.url}/push/redis`;
    expect((await putSubscription(b.url, phone.token, { endpoint, keys: sub.keys })).status).toBe(204);

    // The sidecar queues on instance A, then (reconnected) on instance B, while the phone is offline.
    const onA = await connectDevice(a.url, sidecar);
    const first = onA.chat(phone.deviceId, 'one', { priority: 'high' });
    expect((await onA.ackFor(first.id)).payload.status).toBe('queued');
    await ps.nth(0);
    await onA.close();
    const onB = await connectDevice(b.url, sidecar);
    const second = onB.chat(phone.deviceId, 'two', { priority: 'high' });
    expect((await onB.ackFor(second.id)).payload.status).toBe('queued');
    await vi.waitFor(async () => expect(await pushCount(b.url, 'coalesced')).toBe(1));
    await onB.close();

    expect(ps.received).toHaveLength(1);
    expect(await pushCount(a.url, 'sent')).toBe(1);
    expect(await pushCount(b.url, 'sent')).toBe(0);
    expect(JSON.parse(decryptPush(ps.received[0]!.body, sub)).ids).toEqual([first.id]);
  });
});
