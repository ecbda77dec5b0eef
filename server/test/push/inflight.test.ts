import { describe, expect, it } from 'vitest';
import { INFLIGHT_REF_MAX_IDLE_MS, InflightWakeRefs } from '../../src/push/inflight.js';
import { MemoryQueueStore } from '../../src/queue/queue-store.js';
import type { QueuedEnvelope } from '../../src/queue/queued-envelope.js';

const entry = (id: string, to = 'pwa-1'): QueuedEnvelope => ({
  id,
  from: 'sidecar-1',
  to,
  type: 'progress',
  priority: 'high',
  text: `{"id":"${id}"}`,
  bytes: 12,
  acceptedAt: 0,
  expiresAt: Number.MAX_SAFE_INTEGER,
});

function setup() {
  let now = 1_000_000;
  const refs = new InflightWakeRefs(
    (e) => e.priority === 'high',
    () => now,
  );
  const queues = refs.watch(new MemoryQueueStore({ maxCount: 100, maxBytes: 100_000 }));
  return { refs, queues, advance: (ms: number) => (now += ms), now: () => now };
}

describe('InflightWakeRefs', () => {
  it('records taken entries, forgets acked ones, and take() hands out what is left once', async () => {
    const { refs, queues, now } = setup();
    for (const id of ['a', 'b', 'c']) await queues.enqueue(entry(id));
    await queues.take('pwa-1', 10, now());
    await queues.ack('pwa-1', ['b'], 'sidecar-1');
    expect(refs.take('pwa-1').map((r) => r.id)).toEqual(['a', 'c']);
    expect(refs.take('pwa-1')).toEqual([]);
    expect(refs.devices).toBe(0);
  });

  it('forget() drops a device without handing anything out (it went on elsewhere)', async () => {
    const { refs, queues, now } = setup();
    await queues.enqueue(entry('a'));
    await queues.take('pwa-1', 10, now());
    refs.forget('pwa-1');
    expect(refs.take('pwa-1')).toEqual([]);
  });

  it('the sweep forgets devices nobody touched for the idle limit, and keeps the others', async () => {
    const { refs, queues, advance, now } = setup();
    await queues.enqueue(entry('a', 'pwa-1'));
    await queues.take('pwa-1', 10, now());
    advance(INFLIGHT_REF_MAX_IDLE_MS - 1_000);
    await queues.enqueue(entry('b', 'pwa-2'));
    await queues.take('pwa-2', 10, now());
    await queues.sweep(now());
    expect(refs.devices).toBe(2);
    advance(2_000);
    await queues.sweep(now());
    expect(refs.devices).toBe(1);
    expect(refs.take('pwa-1')).toEqual([]);
    expect(refs.take('pwa-2').map((r) => r.id)).toEqual(['b']);
  });
});
