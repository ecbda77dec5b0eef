/**
 * The semantics of a `QueueStore`, written once against the interface and run on every engine (memory, Redis):
 * order, priority, overflow eviction, byte bounds, TTL on take and sweep, window and budget, ack, release, purge,
 * stats and totals, oldestInflightAt, plus a randomised comparison with the embedded `MemoryQueueStore`.
 */
import type { Priority } from '@oppie/protocol';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueBounds } from '../../src/queue/device-queue.js';
import { MemoryQueueStore, type QueueStore } from '../../src/queue/queue-store.js';
import type { QueuedEnvelope } from '../../src/queue/queued-envelope.js';

export type MakeStore = (bounds: QueueBounds) => Promise<QueueStore>;

const NEVER = Number.MAX_SAFE_INTEGER;
const WIDE: QueueBounds = { maxCount: 1000, maxBytes: 1_000_000 };
let n = 0;

function entry(
  priority: Priority,
  opts: { to?: string; bytes?: number; expiresAt?: number; from?: string; id?: string } = {},
): QueuedEnvelope {
  n++;
  return {
    id: opts.id ?? `e${n}`,
    from: opts.from ?? 'sender-a',
    to: opts.to ?? 'dev',
    type: 'chat',
    priority,
    text: `{"n":${n},"s":"héllo ✓"}`,
    bytes: opts.bytes ?? 10,
    acceptedAt: 1_700_000_000_000 + n,
    expiresAt: opts.expiresAt ?? NEVER,
  };
}

const ids = (es: readonly QueuedEnvelope[]) => es.map((e) => e.id);
const sortedIds = (es: readonly QueuedEnvelope[]) => ids(es).sort();

export function queueStoreSuite(name: string, makeStore: MakeStore, cleanup?: () => Promise<void>): void {
  describe(`QueueStore semantics: ${name}`, () => {
    const open: QueueStore[] = [];
    const make = async (bounds: QueueBounds = WIDE) => {
      const s = await makeStore(bounds);
      open.push(s);
      return s;
    };
    const fill = async (s: QueueStore, es: readonly QueuedEnvelope[]) => {
      for (const e of es) expect(await s.enqueue(e)).toEqual([]);
    };

    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
      await cleanup?.();
    });

    it('drains high before normal before low, FIFO inside a class, entries unchanged', async () => {
      const s = await make();
      const low1 = entry('low');
      const norm1 = entry('normal');
      const low2 = entry('low');
      const high1 = entry('high');
      const norm2 = entry('normal');
      await fill(s, [low1, norm1, low2, high1, norm2]);
      const { entries, expired } = await s.take('dev', 10, 0);
      expect(entries).toEqual([high1, norm1, norm2, low1, low2]);
      expect(expired).toEqual([]);
    });

    it('keeps devices apart', async () => {
      const s = await make();
      const a = entry('normal', { to: 'dev-a' });
      const b = entry('normal', { to: 'dev-b' });
      await fill(s, [a, b]);
      expect((await s.take('dev-a', 10, 0)).entries).toEqual([a]);
      expect((await s.take('dev-b', 10, 0)).entries).toEqual([b]);
      expect((await s.take('dev-c', 10, 0)).entries).toEqual([]);
    });

    it('evicts the oldest entry of the lowest class present on overflow, possibly the new one', async () => {
      const s = await make({ maxCount: 2, maxBytes: 10_000 });
      const a = entry('normal');
      const b = entry('low');
      await fill(s, [a, b]);
      const c = entry('high');
      expect(await s.enqueue(c)).toEqual([b]);
      const d = entry('low');
      expect(await s.enqueue(d)).toEqual([d]);
      const e = entry('normal');
      expect(await s.enqueue(e)).toEqual([a]);
      expect((await s.take('dev', 10, 0)).entries).toEqual([c, e]);
    });

    it('bounds bytes as well as count, evicting as many as needed', async () => {
      const s = await make({ maxCount: 100, maxBytes: 25 });
      const a = entry('normal', { bytes: 10 });
      const b = entry('normal', { bytes: 10 });
      await fill(s, [a, b]);
      expect(await s.enqueue(entry('high', { bytes: 10 }))).toEqual([a]);
      expect(await s.stats('dev')).toEqual({ depth: 2, bytes: 20, inflight: 0 });
      const big = entry('high', { bytes: 24 });
      const evicted = await s.enqueue(big);
      expect(evicted).toHaveLength(2);
      expect(evicted[0]).toEqual(b);
      expect(await s.stats('dev')).toEqual({ depth: 1, bytes: 24, inflight: 0 });
      const huge = entry('high', { bytes: 26 });
      expect(await s.enqueue(huge)).toEqual([big, huge]);
      expect(await s.stats('dev')).toEqual({ depth: 0, bytes: 0, inflight: 0 });
    });

    it('counts in-flight entries against the bounds but never evicts them', async () => {
      const s = await make({ maxCount: 2, maxBytes: 10_000 });
      const a = entry('low');
      const b = entry('low');
      await fill(s, [a, b]);
      expect((await s.take('dev', 10, 0)).entries).toEqual([a, b]);
      const c = entry('high');
      expect(await s.enqueue(c)).toEqual([c]);
      expect(await s.stats('dev')).toEqual({ depth: 2, bytes: 20, inflight: 2 });
      expect(await s.ack('dev', [a.id], undefined)).toEqual([a]);
      expect(await s.enqueue(c)).toEqual([]);
      expect(await s.stats('dev')).toEqual({ depth: 2, bytes: 20, inflight: 1 });
    });

    it('returns expired entries apart on take; they use neither window nor budget', async () => {
      const s = await make();
      const old1 = entry('high', { expiresAt: 100 });
      const live1 = entry('high', { expiresAt: 1000 });
      const old2 = entry('normal', { expiresAt: 200 });
      const live2 = entry('normal');
      const boundary = entry('low', { expiresAt: 500 });
      await fill(s, [old1, live1, old2, live2, boundary]);
      const { entries, expired } = await s.take('dev', 2, 500, 15);
      expect(entries).toEqual([live1, live2]);
      expect(expired).toEqual([old1, old2]);
      expect(await s.stats('dev')).toEqual({ depth: 3, bytes: 30, inflight: 2 });
      // `expiresAt <= now` is expired.
      expect(await s.take('dev', 3, 500)).toEqual({ entries: [], expired: [boundary] });
      expect(await s.stats('dev')).toEqual({ depth: 2, bytes: 20, inflight: 2 });
    });

    it('sweeps expired pending entries of every device, not in-flight ones until released', async () => {
      const s = await make();
      const a1 = entry('normal', { to: 'a', expiresAt: 100 });
      const a2 = entry('normal', { to: 'a', expiresAt: 1000 });
      const a3 = entry('low', { to: 'a', expiresAt: 300 });
      const b1 = entry('high', { to: 'b', expiresAt: 50 });
      const b2 = entry('high', { to: 'b', expiresAt: 50 });
      const c1 = entry('high', { to: 'c' });
      await fill(s, [a1, a2, a3, b1, b2, c1]);
      expect((await s.take('b', 1, 0)).entries).toEqual([b1]);
      expect(await s.sweep(40)).toEqual([]);
      expect(sortedIds(await s.sweep(500))).toEqual(sortedIds([a1, a3, b2]));
      expect(await s.sweep(500)).toEqual([]);
      expect(await s.stats('a')).toEqual({ depth: 1, bytes: 10, inflight: 0 });
      expect(await s.stats('b')).toEqual({ depth: 1, bytes: 10, inflight: 1 });
      expect(await s.stats('c')).toEqual({ depth: 1, bytes: 10, inflight: 0 });
      await s.release('b');
      expect(await s.sweep(500)).toEqual([b1]);
      expect(await s.sweep(2000)).toEqual([a2]);
      expect(s.totals()).toEqual({ depth: 1, bytes: 10 });
      expect((await s.take('a', 10, 0)).entries).toEqual([]);
      expect((await s.take('c', 10, 0)).entries).toEqual([c1]);
    });

    it('takes up to the window, counting entries already in flight', async () => {
      const s = await make();
      const es = [1, 2, 3, 4, 5].map(() => entry('normal'));
      await fill(s, es);
      expect((await s.take('dev', 3, 0)).entries).toEqual(es.slice(0, 3));
      expect((await s.take('dev', 3, 0)).entries).toEqual([]);
      expect((await s.take('dev', 4, 0)).entries).toEqual([es[3]]);
      expect(await s.ack('dev', [es[0]!.id, es[1]!.id], 'sender-a')).toEqual([es[0], es[1]]);
      expect((await s.take('dev', 4, 0)).entries).toEqual([es[4]]);
      expect((await s.take('dev', 4, 0)).entries).toEqual([]);
      expect(await s.stats('dev')).toEqual({ depth: 3, bytes: 30, inflight: 3 });
    });

    it('takes about the byte budget, and at least one entry', async () => {
      const s = await make();
      const es = [1, 2, 3, 4, 5, 6].map(() => entry('normal', { bytes: 10 }));
      await fill(s, es);
      // 25: takes 10 (15 left), 10 (5 left), 10 (overdrawn): about the budget.
      expect((await s.take('dev', 100, 0, 25)).entries).toEqual(es.slice(0, 3));
      expect((await s.take('dev', 100, 0, 1)).entries).toEqual([es[3]]);
      expect((await s.take('dev', 100, 0, 0)).entries).toEqual([]);
      expect((await s.take('dev', 100, 0)).entries).toEqual(es.slice(4));
    });

    it('acks by id, with `from` only that sender, without `from` every sender', async () => {
      const s = await make();
      const a = entry('normal', { id: 'same', from: 'sender-a' });
      const b = entry('normal', { id: 'same', from: 'sender-b' });
      const c = entry('normal', { id: 'same', from: 'sender-c' });
      const d = entry('normal');
      const pending = entry('normal');
      await fill(s, [a, b, c, d, pending]);
      expect((await s.take('dev', 4, 0)).entries).toEqual([a, b, c, d]);
      expect(await s.ack('dev', [pending.id, 'unknown'], undefined)).toEqual([]);
      expect(await s.ack('other-dev', ['same'], undefined)).toEqual([]);
      expect(await s.ack('dev', ['same'], 'sender-b')).toEqual([b]);
      expect(await s.ack('dev', ['same'], 'sender-b')).toEqual([]);
      expect(await s.ack('dev', [d.id], 'sender-x')).toEqual([]);
      expect(await s.ack('dev', [d.id, 'same', d.id], undefined)).toEqual([d, a, c]);
      expect(await s.stats('dev')).toEqual({ depth: 1, bytes: 10, inflight: 0 });
      expect((await s.take('dev', 4, 0)).entries).toEqual([pending]);
    });

    it('releases in-flight entries back in front, in their original order', async () => {
      const s = await make();
      const h1 = entry('high');
      const n1 = entry('normal');
      const n2 = entry('normal');
      const l1 = entry('low');
      const n3 = entry('normal');
      await fill(s, [h1, n1, n2, l1, n3]);
      expect((await s.take('dev', 2, 0)).entries).toEqual([h1, n1]);
      expect((await s.take('dev', 3, 0)).entries).toEqual([n2]);
      const h2 = entry('high');
      const n4 = entry('normal');
      await fill(s, [h2, n4]);
      expect(await s.ack('dev', [n1.id], undefined)).toEqual([n1]);
      // release returns what went back, in take order; a second release has nothing in flight.
      expect(await s.release('dev')).toEqual([h1, n2]);
      expect(await s.stats('dev')).toEqual({ depth: 6, bytes: 60, inflight: 0 });
      expect(await s.release('dev')).toEqual([]);
      expect((await s.take('dev', 100, 0)).entries).toEqual([h1, h2, n2, n3, n4, l1]);
      await s.release('dev');
      expect((await s.take('dev', 2, 0)).entries).toEqual([h1, h2]);
    });

    it('evicts released entries first: they are the oldest of their class again', async () => {
      const s = await make({ maxCount: 3, maxBytes: 10_000 });
      const a = entry('low');
      const b = entry('low');
      await fill(s, [a, b]);
      expect((await s.take('dev', 1, 0)).entries).toEqual([a]);
      await s.release('dev');
      await fill(s, [entry('high')]);
      expect(await s.enqueue(entry('high'))).toEqual([a]);
    });

    it('purges a device: in-flight then pending entries, nothing left', async () => {
      const s = await make();
      const l1 = entry('low');
      const h1 = entry('high');
      const n1 = entry('normal');
      const n2 = entry('normal');
      const other = entry('normal', { to: 'other' });
      await fill(s, [l1, h1, n1, n2, other]);
      expect((await s.take('dev', 2, 0)).entries).toEqual([h1, n1]);
      expect(await s.purge('dev')).toEqual([h1, n1, n2, l1]);
      expect(await s.purge('dev')).toEqual([]);
      expect(await s.stats('dev')).toEqual({ depth: 0, bytes: 0, inflight: 0 });
      expect(await s.oldestInflightAt('dev')).toBeUndefined();
      expect((await s.take('dev', 10, 0)).entries).toEqual([]);
      expect(s.totals()).toEqual({ depth: 1, bytes: 10 });
      // The device starts afresh.
      const again = entry('low');
      await fill(s, [again]);
      expect((await s.take('dev', 10, 0)).entries).toEqual([again]);
    });

    it('keeps stats per device and totals over all devices', async () => {
      const s = await make({ maxCount: 3, maxBytes: 10_000 });
      expect(s.totals()).toEqual({ depth: 0, bytes: 0 });
      expect(await s.stats('a')).toEqual({ depth: 0, bytes: 0, inflight: 0 });
      await fill(s, [entry('normal', { to: 'a', bytes: 5 }), entry('normal', { to: 'a', bytes: 7 })]);
      await fill(s, [entry('low', { to: 'b', bytes: 11 })]);
      expect(s.totals()).toEqual({ depth: 3, bytes: 23 });
      const taken = (await s.take('a', 1, 0)).entries;
      expect(await s.stats('a')).toEqual({ depth: 2, bytes: 12, inflight: 1 });
      expect(s.totals()).toEqual({ depth: 3, bytes: 23 });
      await s.ack('a', ids(taken), undefined);
      expect(s.totals()).toEqual({ depth: 2, bytes: 18 });
      await s.enqueue(entry('high', { to: 'b', bytes: 1 }));
      await s.enqueue(entry('high', { to: 'b', bytes: 1 }));
      await s.enqueue(entry('high', { to: 'b', bytes: 1 }));
      expect(await s.stats('b')).toEqual({ depth: 3, bytes: 3, inflight: 0 });
      expect(s.totals()).toEqual({ depth: 4, bytes: 10 });
      await s.purge('a');
      await s.purge('b');
      expect(s.totals()).toEqual({ depth: 0, bytes: 0 });
    });

    it('reports the send time of the oldest unacknowledged entry', async () => {
      const s = await make();
      const es = [1, 2, 3].map(() => entry('normal'));
      const h = entry('high');
      await fill(s, es);
      expect(await s.oldestInflightAt('dev')).toBeUndefined();
      expect(await s.oldestInflightAt('nobody')).toBeUndefined();
      await s.take('dev', 1, 1_700_000_000_100);
      await fill(s, [h]);
      await s.take('dev', 3, 1_700_000_000_200.5);
      expect(await s.oldestInflightAt('dev')).toBe(1_700_000_000_100);
      expect(await s.ack('dev', [es[0]!.id], undefined)).toEqual([es[0]]);
      expect(await s.oldestInflightAt('dev')).toBe(1_700_000_000_200.5);
      await s.release('dev');
      expect(await s.oldestInflightAt('dev')).toBeUndefined();
      await s.take('dev', 1, 300);
      expect(await s.oldestInflightAt('dev')).toBe(300);
    });

    it('orders in flight by envelope id like the embedded queue when senders share an id', async () => {
      const s = await make();
      const a = entry('normal', { id: 'x', from: 's1' });
      const b = entry('normal', { id: 'y', from: 's1' });
      const c = entry('normal', { id: 'x', from: 's2' });
      await fill(s, [a, b, c]);
      await s.take('dev', 1, 1);
      await s.take('dev', 2, 2);
      await s.take('dev', 3, 3);
      // Entries sharing an id stay grouped where the id first went in flight (the embedded queue's map order).
      expect(await s.ack('dev', ['x'], 's1')).toEqual([a]);
      expect(await s.oldestInflightAt('dev')).toBe(3);
      expect(await s.purge('dev')).toEqual([c, b]);
    });

    it('behaves like the embedded MemoryQueueStore under random operations', async () => {
      const devices = ['d1', 'd2'];
      const prio = fc.constantFrom<Priority>('high', 'normal', 'low');
      const op = fc.oneof(
        {
          weight: 5,
          arbitrary: fc.record({
            k: fc.constant('enqueue' as const),
            d: fc.constantFrom(...devices),
            p: prio,
            bytes: fc.integer({ min: 0, max: 40 }),
            ttl: fc.integer({ min: 1, max: 60 }),
            from: fc.constantFrom('s1', 's2'),
            id: fc.constantFrom('x', 'y', 'z'),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            k: fc.constant('take' as const),
            d: fc.constantFrom(...devices),
            window: fc.integer({ min: 1, max: 5 }),
            budget: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            k: fc.constant('ack' as const),
            d: fc.constantFrom(...devices),
            ids: fc.array(fc.constantFrom('x', 'y', 'z'), { maxLength: 3 }),
            from: fc.option(fc.constantFrom('s1', 's2'), { nil: undefined }),
          }),
        },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('release' as const), d: fc.constantFrom(...devices) }) },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('sweep' as const) }) },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('purge' as const), d: fc.constantFrom(...devices) }) },
        { weight: 2, arbitrary: fc.record({ k: fc.constant('tick' as const), dt: fc.integer({ min: 1, max: 20 }) }) },
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
          const bounds = { maxCount: 4, maxBytes: 70 };
          const s = await make(bounds);
          const ref = new MemoryQueueStore(bounds);
          let now = 0;
          let k = 0;
          for (const o of ops) {
            switch (o.k) {
              case 'enqueue': {
                // Ids collide on purpose (per-sender uniqueness only); the sequence number keeps texts distinct.
                const e: QueuedEnvelope = {
                  id: o.id,
                  from: o.from,
                  to: o.d,
                  type: 'chat',
                  priority: o.p,
                  text: `t${k++}`,
                  bytes: o.bytes,
                  acceptedAt: now,
                  expiresAt: now + o.ttl,
                };
                expect(await s.enqueue(e)).toEqual(await ref.enqueue(e));
                break;
              }
              case 'take':
                expect(await s.take(o.d, o.window, now, o.budget)).toEqual(
                  await ref.take(o.d, o.window, now, o.budget),
                );
                break;
              case 'ack':
                expect(await s.ack(o.d, o.ids, o.from)).toEqual(await ref.ack(o.d, o.ids, o.from));
                break;
              case 'release':
                await s.release(o.d);
                await ref.release(o.d);
                break;
              case 'sweep': {
                const key = (e: QueuedEnvelope) => `${e.to}/${e.text}`;
                const got = (await s.sweep(now)).map(key).sort();
                expect(got).toEqual((await ref.sweep(now)).map(key).sort());
                break;
              }
              case 'purge':
                expect(await s.purge(o.d)).toEqual(await ref.purge(o.d));
                break;
              case 'tick':
                now += o.dt;
                break;
            }
            for (const d of devices) {
              expect(await s.stats(d)).toEqual(await ref.stats(d));
              expect(await s.oldestInflightAt(d)).toEqual(await ref.oldestInflightAt(d));
            }
            expect(s.totals()).toEqual(ref.totals());
          }
          for (const d of devices) await s.purge(d);
        }),
        { numRuns: 100 },
      );
    });
  });
}
