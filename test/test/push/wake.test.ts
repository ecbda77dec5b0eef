/**
 * Web Push wake-up end to end on real sockets: a relay, a local HTTPS push service, a sidecar sending and a phone
 * that is offline. The push is checked as a push service (VAPID) and a browser (RFC 8291 decryption) would.
 */
import { apiOk, pairDevice, requireBinary } from '@oppie/test-kit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  decryptPush,
  type PushSetup,
  pushCount,
  pushSetup,
  putSubscription,
  subscribedPhone,
  subscriptionKeys,
  verifyVapid,
} from './fixture.js';

const HAVE_OPENSSL = requireBinary('openssl', 'apt-get install openssl');

let p: PushSetup | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

describe.runIf(HAVE_OPENSSL)('Web Push wake-up', () => {
  it('wakes an offline PWA for a high-priority envelope with a VAPID-signed push holding only opaque ids', async () => {
    p = await pushSetup({ pushVapidSubject: 'mailto:push-test@example.com' });
    const s = await p.connect(p.sidecar);
    const secret = 'the secret plan text';
    const env = s.chat(p.phone.deviceId, secret, { priority: 'high' });
    expect((await s.ackFor(env.id)).payload.status).toBe('queued');

    const push = await p.ps.nth(0);
    expect(push.path).toBe(new URL(p.endpoint).pathname);
    expect(push.headers.urgency).toBe('high');
    expect(push.headers.ttl).toBe('3600');
    expect(push.headers['content-encoding']).toBe('aes128gcm');
    const { k, claims } = await verifyVapid(push.headers, p.endpoint);
    expect(claims.sub).toBe('mailto:push-test@example.com');
    const published = await apiOk<{ publicKey: string }>(p.t.url, 'GET', '/api/push/vapid-public-key');
    expect(k).toBe(published.publicKey);

    const text = decryptPush(push.body, p.sub);
    expect(JSON.parse(text)).toEqual({ t: 'wake', ids: [env.id], from: p.sidecar.deviceId });
    expect(text).not.toContain(secret);
    expect(text).not.toContain(env.payload);
    expect(push.body.toString('latin1')).not.toContain(env.payload);
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'sent')).toBe(1));

    // The envelope itself still waits in the queue for the phone.
    const ph = await p.connect(p.phone, { autoAck: true });
    expect((await ph.next('chat')).id).toBe(env.id);
  });

  it('sends nothing for normal priority or to an online PWA; the first push after is for the trigger alone', async () => {
    p = await pushSetup();
    const s = await p.connect(p.sidecar);
    const normal = s.chat(p.phone.deviceId, 'normal', { priority: 'normal' });
    expect((await s.ackFor(normal.id)).payload.status).toBe('queued');
    const low = s.routed('progress', p.phone.deviceId, 'step');
    expect((await s.ackFor(low.id)).payload.status).toBe('queued');

    const ph = await p.connect(p.phone, { autoAck: true });
    const online = s.chat(p.phone.deviceId, 'online', { priority: 'high' });
    expect((await s.ackFor(online.id)).payload.status).toBe('forwarded');
    await ph.next('chat', (f) => f.id === online.id);
    await ph.close();
    await s.next('presence', (f) => f.payload.deviceId === p!.phone.deviceId && f.payload.online === false);

    // A sentinel: pushes go out in trigger order, so had any earlier envelope triggered one, it would be first.
    const sentinel = s.routed('recover', p.phone.deviceId, 'recover'); // high by its type default
    expect((await s.ackFor(sentinel.id)).payload.status).toBe('queued');
    const push = await p.ps.nth(0);
    expect(JSON.parse(decryptPush(push.body, p.sub)).ids).toEqual([sentinel.id]);
    expect(p.ps.received).toHaveLength(1);
  });

  it('coalesces triggers within the interval, and starts a new interval when the PWA was online', async () => {
    p = await pushSetup();
    const s = await p.connect(p.sidecar);
    const ids = [0, 1, 2].map((i) => s.chat(p!.phone.deviceId, `m${i}`, { priority: 'high' }).id);
    // The relay batches acks: collect until every id was acknowledged.
    const acked = new Set<string>();
    while (acked.size < ids.length) for (const id of (await s.next('ack')).payload.ids) acked.add(id);
    const first = JSON.parse(decryptPush((await p.ps.nth(0)).body, p.sub)) as { ids: string[] };
    expect(first.ids[0]).toBe(ids[0]);
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'coalesced')).toBe(2));
    expect(p.ps.received).toHaveLength(1);
    expect(await pushCount(p.t.url, 'sent')).toBe(1);

    // Online, then offline again: the next high-priority envelope wakes at once.
    const ph = await p.connect(p.phone, { autoAck: true });
    await ph.close();
    await s.next('presence', (f) => f.payload.deviceId === p!.phone.deviceId && f.payload.online === false);
    const later = s.chat(p.phone.deviceId, 'later', { priority: 'high' });
    expect((await s.ackFor(later.id)).payload.status).toBe('queued');
    expect(JSON.parse(decryptPush((await p.ps.nth(1)).body, p.sub)).ids).toEqual([later.id]);
  });

  it('deletes the subscription when the push service answers 410; later triggers send nothing', async () => {
    p = await pushSetup({ pushCoalesceSeconds: 0, pushConcurrency: 1 });
    p.ps.answer = () => 410;
    const s = await p.connect(p.sidecar);
    s.chat(p.phone.deviceId, 'one', { priority: 'high' });
    await p.ps.nth(0);
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'gone')).toBe(1));
    await vi.waitFor(async () => expect(await p!.t.relay.push.subscription(p!.phone.deviceId)).toBeUndefined());

    const again = s.chat(p.phone.deviceId, 'two', { priority: 'high' });
    expect((await s.ackFor(again.id)).payload.status).toBe('queued');
    // A sentinel: a second PWA that is subscribed. Triggers run in order with one request slot, so had the second
    // trigger found a subscription, its push would arrive before the sentinel's.
    const { phone: phone2, sub: sub2 } = await subscribedPhone(p, 'phone2');
    p.ps.answer = () => 201;
    const sentinel = s.chat(phone2.deviceId, 'sentinel', { priority: 'high' });
    expect((await s.ackFor(sentinel.id)).payload.status).toBe('queued');
    const next = await p.ps.nth(1);
    expect(next.path).toBe('/push/phone2');
    expect(JSON.parse(decryptPush(next.body, sub2)).ids).toEqual([sentinel.id]);
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'sent')).toBe(1));
    expect(p.ps.received).toHaveLength(2);
    expect(await pushCount(p.t.url, 'failed')).toBe(0);
  });

  it('wakes a PWA whose connection died with high-priority envelopes in flight, once for all of them', async () => {
    p = await pushSetup();
    const s = await p.connect(p.sidecar);
    const ph = await p.connect(p.phone); // never acks: the envelopes stay in flight
    const ids = [0, 1, 2].map((i) => s.chat(p!.phone.deviceId, `m${i}`, { priority: 'high' }).id);
    const signal = s.routed('signal', p.phone.deviceId, 'sdp', { priority: 'high' }).id;
    const acked = new Map<string, string>();
    while (acked.size < ids.length + 1) {
      const ack = await s.next('ack');
      for (const id of ack.payload.ids) acked.set(id, ack.payload.status);
    }
    expect([...acked.values()]).toEqual(['forwarded', 'forwarded', 'forwarded', 'forwarded']);
    for (const id of [...ids, signal]) await ph.next(undefined, (f) => f.id === id);
    expect(p.ps.received).toHaveLength(0);

    ph.ws.terminate(); // a dead socket: no close handshake, nothing acknowledged
    const push = await p.ps.nth(0);
    const woken = JSON.parse(decryptPush(push.body, p.sub)) as { ids: string[]; from: string };
    expect(woken.ids.sort()).toEqual([...ids].sort()); // not the signal
    expect(woken.from).toBe(p.sidecar.deviceId);
    // The other two joined the one push (or were coalesced behind it): one push, every trigger counted.
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'coalesced')).toBe(2));
    expect(await pushCount(p.t.url, 'sent')).toBe(1);
    expect(p.ps.received).toHaveLength(1);

    // The envelopes themselves went back to the queue for the next connection.
    const again = await p.connect(p.phone, { autoAck: true });
    for (const id of ids) await again.next('chat', (f) => f.id === id);
  });

  it('deletes the subscription when the device is revoked', async () => {
    p = await pushSetup();
    expect(await p.t.relay.push.subscription(p.phone.deviceId)).toMatchObject({ endpoint: p.endpoint });
    await apiOk(p.t.url, 'DELETE', `/api/auth/devices/${p.phone.deviceId}`, undefined, { token: p.sidecar.token });
    await vi.waitFor(async () => expect(await p!.t.relay.push.subscription(p!.phone.deviceId)).toBeUndefined());
  });

  it('drops (and counts) triggers beyond the bounded queue while every request slot is busy', async () => {
    p = await pushSetup({ pushConcurrency: 1, pushQueueMax: 1, pushTimeoutSeconds: 1 });
    p.ps.answer = () => 'hang';
    const phones = [p.phone];
    for (const name of ['phone2', 'phone3']) {
      const phone = await pairDevice(p.t.url, p.sidecar.token, name);
      const keys = subscriptionKeys().keys;
      expect((await putSubscription(p.t.url, phone.token, { endpoint: `${p.ps.url}/${name}`, keys })).status).toBe(204);
      phones.push(phone);
    }
    const s = await p.connect(p.sidecar);
    // One request in flight (hanging), one waiting, the third has no room.
    const ids = phones.map((ph) => s.chat(ph.deviceId, 'x', { priority: 'high' }).id);
    const acked = new Set<string>();
    while (acked.size < ids.length) for (const id of (await s.next('ack')).payload.ids) acked.add(id);
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'dropped')).toBe(1));
    // The waiting one goes out when the hanging request times out.
    await p.ps.nth(1, 5_000);
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'failed')).toBe(2), { timeout: 5_000 });
  });

  it.each([
    ['answers 500', 500],
    ['never answers', 'hang'],
  ] as const)('keeps relaying when the push service %s, and counts the failure', async (_, answer) => {
    p = await pushSetup({ pushTimeoutSeconds: 1, pushConcurrency: 1 });
    p.ps.answer = () => answer;
    const s = await p.connect(p.sidecar);
    const first = s.chat(p.phone.deviceId, 'first', { priority: 'high' });
    expect((await s.ackFor(first.id)).payload.status).toBe('queued');
    await p.ps.nth(0);
    // The push is stuck or failed; envelopes flow regardless, queued and live.
    const ph = await p.connect(p.phone, { autoAck: true });
    expect((await ph.next('chat')).id).toBe(first.id);
    const live = s.chat(p.phone.deviceId, 'live', { priority: 'high' });
    expect((await ph.next('chat', (f) => f.id === live.id)).id).toBe(live.id);
    const back = ph.chat(p.sidecar.deviceId, 'reply');
    expect((await s.next('chat', (f) => f.id === back.id)).id).toBe(back.id);
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'failed')).toBe(1), { timeout: 5_000 });
    expect(await pushCount(p.t.url, 'sent')).toBe(0);
  });
});
