import { seededRandom } from '@oppie/test-kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../src/delivery/inbox.js';
import { Outbox } from '../../src/delivery/outbox.js';
import { decodeReceipt, encodeReceipt } from '../../src/delivery/receipt.js';
import { OppieError } from '../../src/errors.js';
import { MemoryStore } from '../../src/platform.js';

/** Accepts a frame the way a client does: a frame beyond the window is dropped unacknowledged and comes back. */
async function receive(inbox: Inbox<number>, peer: string, seq: number, app: number[]): Promise<void> {
  try {
    const r = await inbox.accept(peer, seq, `id-${seq}`, seq);
    if (r.kind === 'deliver') app.push(...r.frames.map((f) => f.value));
  } catch (err) {
    if (!(err instanceof OppieError && err.code === 'OPPIE_ERR_REPLAY')) throw err;
  }
}

describe('delivery properties', () => {
  it('the app receives 0..N-1 exactly once, in order, for any duplicates, reorders, drops and restarts', async () => {
    const event = (n: number) => fc.oneof(fc.nat(n - 1), fc.constant('restart' as const));
    const scenario = fc
      .integer({ min: 1, max: 40 })
      .chain((n) => fc.record({ n: fc.constant(n), window: fc.constantFrom(1, 4, 1024), events: fc.array(event(n)) }));
    await fc.assert(
      fc.asyncProperty(scenario, async ({ n, window, events }) => {
        const store = new MemoryStore();
        let inbox = await Inbox.open<number>(store, { window });
        const app: number[] = [];
        for (const e of events) {
          if (e === 'restart') inbox = await Inbox.open<number>(store, { window });
          else await receive(inbox, 'p', e, app);
        }
        // Retransmission: the sender resends everything after the acknowledged position until all is acknowledged.
        for (let round = 0; inbox.ackState('p') < n - 1; round++) {
          expect(round).toBeLessThan(n + 1);
          for (let s = inbox.ackState('p') + 1; s < n; s++) await receive(inbox, 'p', s, app);
        }
        expect(app).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
      { numRuns: 300 },
    );
  });

  it('outbox and inbox over a lossy link with retransmission deliver everything exactly once', async () => {
    const run = fc.record({
      n: fc.integer({ min: 1, max: 30 }),
      seed: fc.integer(),
      loss: fc.double({ min: 0, max: 0.5, noNaN: true }),
      dup: fc.double({ min: 0, max: 0.5, noNaN: true }),
      restart: fc.double({ min: 0, max: 0.2, noNaN: true }),
      window: fc.constantFrom(2, 16, 1024),
    });
    await fc.assert(
      fc.asyncProperty(run, async ({ n, seed, loss, dup, restart, window }) => {
        const rand = seededRandom(seed);
        const [sStore, rStore] = [new MemoryStore(), new MemoryStore()];
        let outbox = await Outbox.open(sStore);
        let inbox = await Inbox.open<number>(rStore, { window });
        const app: number[] = [];
        let created = 0;
        for (let round = 0; created < n || outbox.size.entries > 0; round++) {
          expect(round).toBeLessThan(500);
          // The application sends a few messages; each keeps the seq it was given.
          for (let k = Math.floor(rand() * 4); k > 0 && created < n; k--, created++) {
            const seq = outbox.nextSeq('phone');
            await outbox.add({
              peer: 'phone',
              id: `id-${seq}`,
              type: 'chat',
              seq,
              payload: String(created),
              createdAt: round,
              bytes: 1,
            });
          }
          // Resend every pending frame (as after a reconnect or a transport switch) through a lossy, reordering link.
          const wire = outbox.pending('phone').flatMap((e) => (rand() < loss ? [] : rand() < dup ? [e, e] : [e]));
          wire.sort(() => rand() - 0.5);
          const receipts: string[] = [];
          for (const e of wire) {
            await receive(inbox, 'sidecar', e.seq, app);
            if (rand() >= loss) receipts.push(encodeReceipt({ v: 1, upTo: inbox.ackState('sidecar') }));
          }
          receipts.sort(() => rand() - 0.5); // receipts may arrive out of order too
          for (const r of receipts) await outbox.acknowledge('phone', decodeReceipt(r).upTo);
          if (rand() < restart) outbox = await Outbox.open(sStore);
          if (rand() < restart) inbox = await Inbox.open<number>(rStore, { window });
        }
        expect(app).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(outbox.pending()).toEqual([]);
        expect(await sStore.keys('outbox/e/')).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
