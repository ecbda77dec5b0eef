import type { Priority } from '@oppie/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceQueue } from '../../src/queue/device-queue.js';
import type { QueuedEnvelope } from '../../src/queue/queued-envelope.js';

const RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 };
let n = 0;
function entry(priority: Priority, bytes = 10, expiresAt = Number.MAX_SAFE_INTEGER, from = 'sender-a'): QueuedEnvelope {
  n++;
  return { id: `e${n}`, from, to: 'dev', type: 'chat', priority, text: 'x', bytes, acceptedAt: n, expiresAt };
}

describe('DeviceQueue', () => {
  it('drains high before normal before low, FIFO inside a class', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 100, maxBytes: 10_000 };
    const low1 = entry('low');
    const norm1 = entry('normal');
    const low2 = entry('low');
    const high1 = entry('high');
    for (const e of [low1, norm1, low2, high1]) q.push(e, bounds);
    expect(q.take(10, 0).entries.map((e) => e.id)).toEqual([high1.id, norm1.id, low1.id, low2.id]);
  });

  it('evicts the oldest entry of the lowest class present on overflow, possibly the new one', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 2, maxBytes: 10_000 };
    const a = entry('normal');
    const b = entry('low');
    q.push(a, bounds);
    q.push(b, bounds);
    const c = entry('high');
    expect(q.push(c, bounds)).toEqual([b]);
    const d = entry('low');
    expect(q.push(d, bounds)).toEqual([d]);
    expect([...q.drainOrder()].map((e) => e.id)).toEqual([c.id, a.id]);
  });

  it('bounds bytes as well as count', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 100, maxBytes: 25 };
    q.push(entry('normal', 10), bounds);
    q.push(entry('normal', 10), bounds);
    const evicted = q.push(entry('high', 10), bounds);
    expect(evicted).toHaveLength(1);
    expect(q.bytes).toBe(20);
  });

  it('keeps taken entries in flight until acked, and returns them in order on release', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 100, maxBytes: 10_000 };
    const es = [entry('normal'), entry('normal'), entry('normal')];
    for (const e of es) q.push(e, bounds);
    expect(q.take(2, 0).entries).toEqual([es[0], es[1]]);
    expect(q.inflightCount).toBe(2);
    expect(q.ack([es[0]!.id], 'sender-a')).toEqual([es[0]]);
    expect(q.ack([es[0]!.id], 'sender-a')).toEqual([]);
    q.release();
    expect(q.take(10, 0).entries).toEqual([es[1], es[2]]);
    expect(q.count).toBe(2);
  });

  it('acks by id alone across senders, or exactly with from', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 100, maxBytes: 10_000 };
    const a = { ...entry('normal', 10, Number.MAX_SAFE_INTEGER, 'sender-a'), id: 'same' };
    const b = { ...entry('normal', 10, Number.MAX_SAFE_INTEGER, 'sender-b'), id: 'same' };
    q.push(a, bounds);
    q.push(b, bounds);
    q.take(10, 0);
    expect(q.ack(['same'], 'sender-b')).toEqual([b]);
    expect(q.ack(['same'], undefined)).toEqual([a]);
    expect(q.count).toBe(0);
  });

  it('expires on take and on sweep', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 100, maxBytes: 10_000 };
    const old = entry('normal', 10, 5);
    const fresh = entry('normal', 10, 100);
    const older = entry('low', 10, 3);
    q.push(old, bounds);
    q.push(fresh, bounds);
    q.push(older, bounds);
    expect(q.sweep(4)).toEqual([older]);
    const r = q.take(10, 50);
    expect(r.expired).toEqual([old]);
    expect(r.entries).toEqual([fresh]);
  });

  it('purges everything, in flight included', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 100, maxBytes: 10_000 };
    for (let i = 0; i < 5; i++) q.push(entry('low'), bounds);
    q.take(2, 0);
    expect(q.purge()).toHaveLength(5);
    expect(q.count).toBe(0);
    expect(q.bytes).toBe(0);
  });

  const opArb = fc.oneof(
    fc.record({
      op: fc.constant('push' as const),
      priority: fc.constantFrom<Priority>('high', 'normal', 'low'),
      bytes: fc.integer({ min: 1, max: 50 }),
    }),
    fc.record({ op: fc.constant('take' as const), max: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ op: fc.constant('ackFirst' as const) }),
    fc.record({ op: fc.constant('release' as const) }),
  );

  it('property: bounds hold, nothing is lost, order inside a class is kept, higher classes drain first', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 120 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 50, max: 400 }),
        (ops, maxCount, maxBytes) => {
          const q = new DeviceQueue();
          const bounds = { maxCount, maxBytes };
          const live = new Map<string, QueuedEnvelope>();
          const inflight: QueuedEnvelope[] = [];
          const delivered: QueuedEnvelope[] = [];
          for (const o of ops) {
            if (o.op === 'push') {
              const e = entry(o.priority, o.bytes);
              live.set(e.id, e);
              for (const v of q.push(e, bounds)) {
                // The victim is the oldest of the lowest class that had pending entries.
                for (const other of q.drainOrder()) {
                  const lower = RANK[other.priority] > RANK[v.priority];
                  const olderSame = other.priority === v.priority && other.acceptedAt < v.acceptedAt;
                  expect(lower || olderSame).toBe(false);
                }
                live.delete(v.id);
              }
            } else if (o.op === 'take') {
              const got = q.take(o.max, 0).entries;
              for (let i = 1; i < got.length; i++) {
                const a = got[i - 1] as QueuedEnvelope;
                const b = got[i] as QueuedEnvelope;
                expect(RANK[a.priority] <= RANK[b.priority]).toBe(true);
              }
              inflight.push(...got);
              delivered.push(...got);
            } else if (o.op === 'ackFirst') {
              const first = inflight.shift();
              if (first) {
                expect(q.ack([first.id], first.from)).toEqual([first]);
                live.delete(first.id);
              }
            } else {
              q.release();
              inflight.length = 0;
            }
            const pending = [...q.drainOrder()];
            expect(q.count).toBe(pending.length + q.inflightCount);
            expect(q.bytes).toBe([...live.values()].reduce((s, e) => s + e.bytes, 0));
            expect(q.count).toBe(live.size);
            expect(pending.length).toBeLessThanOrEqual(maxCount);
          }
          // Within one class, each take sequence delivers in acceptance order (first delivery of each entry).
          const firstSeen = new Map<string, number>();
          delivered.forEach((e, i) => {
            if (!firstSeen.has(e.id)) firstSeen.set(e.id, i);
          });
          for (const p of ['high', 'normal', 'low'] as const) {
            const firsts = delivered.filter((e, i) => e.priority === p && firstSeen.get(e.id) === i);
            for (let i = 1; i < firsts.length; i++) {
              expect((firsts[i] as QueuedEnvelope).acceptedAt).toBeGreaterThan(
                (firsts[i - 1] as QueuedEnvelope).acceptedAt,
              );
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('DeviceQueue id collisions across senders', () => {
  it('releases colliding in-flight entries in take order, per sender', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 100, maxBytes: 10_000 };
    const x = { ...entry('normal', 1, Number.MAX_SAFE_INTEGER, 'sender-a'), id: '1' };
    const w = { ...entry('normal', 1, Number.MAX_SAFE_INTEGER, 'sender-b'), id: '0' };
    const y = { ...entry('normal', 1, Number.MAX_SAFE_INTEGER, 'sender-b'), id: '1' };
    for (const e of [x, w, y]) q.push(e, bounds);
    expect(q.take(10, 0).entries).toEqual([x, w, y]);
    q.release();
    expect(q.take(10, 0).entries).toEqual([x, w, y]);
    expect(q.ack(['1'], 'sender-b')).toEqual([y]);
    expect(q.ack(['1', '0'], undefined)).toEqual([x, w]);
    expect(q.inflightCount).toBe(0);
  });
});

describe('DeviceQueue sweep', () => {
  it('skips the scan until the earliest expiry, and sees entries released from flight', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 100, maxBytes: 10_000 };
    const a = entry('normal', 1, 100);
    const b = entry('normal', 1, 50);
    q.push(a, bounds);
    q.push(b, bounds);
    expect(q.sweep(49)).toEqual([]);
    q.take(10, 0); // both in flight
    expect(q.sweep(60)).toEqual([]); // in flight entries are not swept
    q.release();
    expect(q.sweep(60)).toEqual([b]);
    expect(q.sweep(99)).toEqual([]);
    expect(q.sweep(100)).toEqual([a]);
    expect(q.count).toBe(0);
  });

  it('takes within a byte budget, at least one entry', () => {
    const q = new DeviceQueue();
    const bounds = { maxCount: 100, maxBytes: 10_000 };
    for (let i = 0; i < 5; i++) q.push(entry('normal', 100), bounds);
    expect(q.take(10, 0, 250).entries).toHaveLength(3);
    expect(q.take(10, 0, 1).entries).toHaveLength(1);
  });
});
