import { seededRandom } from '@oppie/test-kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../src/delivery/inbox.js';
import { Outbox } from '../../src/delivery/outbox.js';
import { decodeReceipt, encodeReceipt } from '../../src/delivery/receipt.js';
import { OppieError } from '../../src/errors.js';
import { MemoryStore } from '../../src/platform.js';

/** What the application saw: frames in handling order, and the repeats it recognised by the `redelivered` flag. */
class App {
  readonly got: number[] = [];
  readonly repeats: number[] = [];
  take(frames: ReadonlyArray<{ value: number }>, redelivered: boolean): void {
    for (const f of frames) {
      if (redelivered && this.got.includes(f.value)) this.repeats.push(f.value);
      else this.got.push(f.value);
    }
  }
}

/**
 * Accepts a frame the way a client does: a frame beyond the window is dropped unacknowledged and comes back; a
 * delivered batch goes to the app, then its position is stored, unless the process `dies` in between.
 */
async function receive(inbox: Inbox<number>, peer: string, seq: number, app: App, dies = false): Promise<void> {
  try {
    const r = await inbox.accept(peer, seq, `id-${seq}`, seq);
    if (r.kind !== 'deliver') return;
    app.take(r.frames, r.redelivered);
    if (!dies) await inbox.delivered(peer, seq + r.frames.length - 1);
  } catch (err) {
    if (!(err instanceof OppieError && err.code === 'OPPIE_ERR_REPLAY')) throw err;
  }
}

describe('delivery properties', () => {
  it('the app receives 0..N-1 in order, losing nothing, for any duplicates, reorders, drops, restarts and crashes', async () => {
    // 'crash': the process dies after handing a frame's batch to the app and before storing the position.
    const event = (n: number) =>
      fc.oneof(fc.nat(n - 1), fc.constant('restart' as const), fc.record({ crash: fc.nat(n - 1) }));
    const scenario = fc
      .integer({ min: 1, max: 40 })
      .chain((n) => fc.record({ n: fc.constant(n), window: fc.constantFrom(1, 4, 1024), events: fc.array(event(n)) }));
    await fc.assert(
      fc.asyncProperty(scenario, async ({ n, window, events }) => {
        const store = new MemoryStore();
        let inbox = await Inbox.open<number>(store, { window });
        const app = new App();
        let crashes = 0;
        for (const e of events) {
          if (e === 'restart') inbox = await Inbox.open<number>(store, { window });
          else if (typeof e === 'number') await receive(inbox, 'p', e, app);
          else {
            await receive(inbox, 'p', e.crash, app, true);
            inbox = await Inbox.open<number>(store, { window });
            crashes++;
          }
        }
        // Retransmission: the sender resends everything after the acknowledged position until all is acknowledged.
        for (let round = 0; inbox.ackState('p') < n - 1; round++) {
          expect(round).toBeLessThan(n + 1);
          for (let s = inbox.ackState('p') + 1; s < n; s++) await receive(inbox, 'p', s, app);
        }
        expect(app.got).toEqual(Array.from({ length: n }, (_, i) => i));
        // Only a crash repeats anything, and the app could tell each repeat by the flag.
        if (crashes === 0) expect(app.repeats).toEqual([]);
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
        const app = new App();
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
        expect(app.got).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(app.repeats).toEqual([]);
        expect(outbox.pending()).toEqual([]);
        // The newest frame's record stays as the record of the seqs used (acknowledge); nothing else does.
        expect(await sStore.keys('outbox/e/')).toEqual([`outbox/e/phone/${String(n - 1).padStart(16, '0')}`]);
      }),
      { numRuns: 200 },
    );
  });
});
