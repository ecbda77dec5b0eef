import { decodePayload } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, pairOnRelay } from './fixture.js';

let p: Pair | undefined;
afterEach(async () => {
  await p?.t.close();
  p = undefined;
});

describe('store and forward', () => {
  it('queues for an offline device and delivers in order on reconnect', async () => {
    p = await pairOnRelay();
    const s = await p.connect(p.sidecar);
    const sent = [];
    for (let i = 0; i < 50; i++) {
      const env = s.routed('progress', p.phone.deviceId, `step ${i}`, { seq: i });
      sent.push(env.id);
      expect((await s.ackFor(env.id)).payload.status).toBe('queued');
    }
    const ph = await p.connect(p.phone, { autoAck: true });
    const got: string[] = [];
    for (let i = 0; i < 50; i++) got.push((await ph.next('progress')).id);
    expect(got).toEqual(sent);
  });

  it('lets high priority overtake a backlog, keeping order inside each class', async () => {
    p = await pairOnRelay();
    const ph = await p.connect(p.phone);
    const lows = [];
    for (let i = 0; i < 20; i++) lows.push(ph.routed('chat', p.sidecar.deviceId, `c${i}`, { priority: 'low' }).id);
    const approve = ph.routed('approve', p.sidecar.deviceId, 'yes').id;
    const normal = ph.routed('runPlan', p.sidecar.deviceId, 'go').id;
    await ph.ackFor(normal);
    const s = await p.connect(p.sidecar, { autoAck: true });
    const order: string[] = [];
    for (let i = 0; i < 22; i++) order.push(String((await s.next(undefined, (f) => f.type !== 'presence')).id));
    expect(order).toEqual([approve, normal, ...lows]);
  });

  it('redelivers unacknowledged envelopes after a reconnect and deduplicates resends by id', async () => {
    p = await pairOnRelay();
    const ph = await p.connect(p.phone);
    const s1 = await p.connect(p.sidecar); // no acks
    const env = ph.chat(p.sidecar.deviceId, 'once');
    await s1.next('chat');
    await s1.close();
    ph.send(env); // the phone never saw an ack (say): it resends the same id
    expect((await ph.next('ack', (f) => f.payload.status === 'duplicate')).re).toBe(env.id);
    const s2 = await p.connect(p.sidecar);
    const again = await s2.next('chat');
    expect(again.id).toBe(env.id);
    s2.ack([env.id]);
    await s2.expectNone('chat', undefined, 300);
    const metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_duplicates_total 1/);
    expect(metrics).toMatch(/oppie_relay_delivery_latency_seconds_count\{priority="normal"\} 1/);
  });

  it('reports expiry to the sender with the ids, also when the sender was offline', async () => {
    p = await pairOnRelay();
    const s = await p.connect(p.sidecar);
    const env = s.routed('progress', p.phone.deviceId, 'stale soon', { ttl: 200 });
    await s.ackFor(env.id);
    await s.close();
    await new Promise((r) => setTimeout(r, 1500)); // the sweep runs every second
    const s2 = await p.connect(p.sidecar, { autoAck: false });
    const notice = await s2.next('expired', undefined, 3000);
    expect(notice.payload).toEqual({ ids: [env.id], to: p.phone.deviceId });
    s2.ack([notice.id]);
    const ph = await p.connect(p.phone);
    await ph.expectNone('progress', undefined, 300);
  });

  it('refuses an envelope already past its TTL at arrival with an expired notice', async () => {
    p = await pairOnRelay({ clockSkewSeconds: 0 });
    const s = await p.connect(p.sidecar);
    const env = s.routed('chat', p.phone.deviceId, 'old', { ttl: 1000, timestamp: Date.now() - 60_000 });
    const notice = await s.next('expired');
    expect(notice.payload.ids).toEqual([env.id]);
    const metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_queue_expired_total\{stage="enqueue"\} 1/);
  });

  it('drops the lowest-priority-oldest on overflow and tells the sender', async () => {
    p = await pairOnRelay({ queueMaxCount: 3, inflightMaxCount: 2 });
    const s = await p.connect(p.sidecar);
    const a = s.routed('progress', p.phone.deviceId, 'a'); // low
    const b = s.routed('recover', p.phone.deviceId, 'b'); // high
    const c = s.routed('progress', p.phone.deviceId, 'c'); // low
    await s.ackFor(c.id);
    const d = s.routed('chat', p.phone.deviceId, 'd'); // normal: evicts a
    const dropped = await s.next('dropped');
    expect(dropped.payload).toEqual({ ids: [a.id], to: p.phone.deviceId, reason: 'queue_full' });
    await s.ackFor(d.id);
    s.ack([dropped.id]);
    // A dropped id is forgotten: resending it is a new envelope, not a duplicate. The queue is full again, so the
    // oldest low-priority entry (c, older than the resent a) makes room.
    s.send(a);
    expect((await s.ackFor(a.id)).payload.status).toBe('queued');
    expect((await s.next('dropped')).payload.ids).toEqual([c.id]);
    const ph = await p.connect(p.phone, { autoAck: true });
    const routed = (f: { type: string }) => f.type !== 'presence';
    const got = [
      await ph.next(undefined, routed),
      await ph.next(undefined, routed),
      await ph.next(undefined, routed),
    ].map((f) => decodePayload(f));
    expect(got).toEqual(['b', 'd', 'a']);
    expect(b.id).toBeDefined();
    const metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_queue_drops_total\{reason="queue_full"\} 2/);
  });

  it('shows queue depth and connection state in /api/sessions', async () => {
    p = await pairOnRelay();
    const s = await p.connect(p.sidecar);
    for (let i = 0; i < 3; i++) await s.ackFor(s.routed('diff', p.phone.deviceId, `d${i}`).id);
    const res = await fetch(`${p.t.url}/api/sessions`, { headers: { authorization: `Bearer ${p.sidecar.token}` } });
    expect(res.status).toBe(200);
    const { sessions } = (await res.json()) as { sessions: Array<Record<string, unknown>> };
    const phone = sessions.find((x) => x.deviceId === p?.phone.deviceId);
    const side = sessions.find((x) => x.deviceId === p?.sidecar.deviceId);
    expect(phone).toMatchObject({ online: false, queueDepth: 3, path: null, role: 'pwa' });
    expect(side).toMatchObject({ online: true, queueDepth: 0, path: 'relay', role: 'sidecar' });
    expect(side?.connectionAgeMs).toBeGreaterThanOrEqual(0);
  });
});
