/**
 * When the sender sends a window again, on a fake clock: receipts that stall on the relay resend the window; a message
 * sent after an idle spell is measured from when it went; receipts that stall on an open data channel drop the
 * channel (frames move to the relay).
 */
import type { WelcomePayload } from '@oppie/protocol';
import mittModule from 'mitt';
import { describe, expect, it } from 'vitest';
import { toB64u } from '../../src/crypto/sodium.js';
import { Inbox } from '../../src/delivery/inbox.js';
import { Outbox } from '../../src/delivery/outbox.js';
import { encodeReceipt } from '../../src/delivery/receipt.js';
import type { OppieError } from '../../src/errors.js';
import type { ClientEvents } from '../../src/events.js';
import { type DirectChannel, Messaging } from '../../src/messaging.js';
import { defaultPlatform, MemoryStore, type Timers } from '../../src/platform.js';
import { type InboxValue, SEALED_BYTES, SEALED_HEADROOM } from '../../src/wire.js';
import { NoSocket, pairedSessions } from '../paired-sessions.js';
import { HeldStore, until } from './helpers.js';

// mitt ships CommonJS typings; under NodeNext its default import is the module object (as in client.ts).
const mitt = mittModule as unknown as typeof import('mitt').default;

/** Timers that run only when the test moves the clock. */
class FakeClock {
  t = 0;
  private next = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  readonly timers: Timers = {
    setTimeout: (fn, ms) => {
      const id = ++this.next;
      this.due.set(id, { at: this.t + ms, fn });
      return id;
    },
    clearTimeout: (h) => void this.due.delete(h as number),
  };
  readonly now = () => this.t;

  /** Runs every timer due up to `to`, in time order, then lets the promises they started settle. */
  async advance(to: number): Promise<void> {
    for (;;) {
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.due) if (e[1].at <= to && (first === undefined || e[1].at < first[1].at)) first = e;
      if (first === undefined) break;
      this.due.delete(first[0]);
      this.t = first[1].at;
      first[1].fn();
      await settle();
    }
    this.t = to;
    await settle();
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));

async function sender(direct?: (m: () => Messaging) => DirectChannel, store = new MemoryStore()) {
  const { sender: peer, receiver, frame, receiverPeers } = await pairedSessions();
  const clock = new FakeClock();
  const events = mitt<ClientEvents>();
  const errors: OppieError[] = [];
  events.on('error', (e) => errors.push(e));
  const onRelay: string[] = [];
  const relayFrames: object[] = [];
  const platform = defaultPlatform({
    WebSocket: NoSocket,
    storage: store,
    rtc: undefined,
    timers: clock.timers,
    now: clock.now,
  });
  const outbox = await Outbox.open(store);
  const messaging: Messaging = new Messaging({
    deviceId: receiver,
    platform,
    peers: await receiverPeers(store),
    outbox,
    inbox: await Inbox.open<InboxValue>(store),
    events,
    send: (f) => {
      relayFrames.push(f);
      const { type, id } = f as { type: string; id: string };
      if (type === 'chat') onRelay.push(id);
      return true;
    },
    ...(direct && { direct: direct(() => messaging) }),
  });
  messaging.connected({ limits: { envelopesPerSecond: 100 } } as WelcomePayload);
  /** The peer's receipt for everything up to `upTo`. */
  const receipt = (upTo: number) =>
    messaging.received(frame('receipt', new TextEncoder().encode(encodeReceipt({ v: 1, upTo })), { seq: upTo }));
  const send = async (n: number) => {
    void messaging.send(peer, 'chat', { n }).catch(() => {});
    await settle();
  };
  return { peer, clock, store, outbox, messaging, onRelay, relayFrames, receipt, send, errors };
}

describe('resending a window', () => {
  it('settles sends on their receipt even when the store fails to delete their records, and reports it', async () => {
    class NoDeletes extends MemoryStore {
      override async delete(key: string) {
        if (key.startsWith('outbox/e/')) throw new Error('EIO');
        return super.delete(key);
      }
    }
    const s = await sender(undefined, new NoDeletes());
    const settled: number[] = [];
    for (const n of [0, 1]) void s.messaging.send(s.peer, 'chat', { n }).then(() => settled.push(n));
    await settle();
    await s.receipt(0); // seq 1 is still out: seq 0's record is deleted, and that fails
    expect(settled).toEqual([0]);
    expect(s.errors.map((e) => e.code)).toEqual(['OPPIE_ERR_STORAGE']);
    await s.receipt(1); // seq 0's record is tried again (and fails again); seq 1's stays as the record of the seqs
    expect(settled).toEqual([0, 1]);
    expect(s.errors.map((e) => e.code)).toEqual(['OPPIE_ERR_STORAGE', 'OPPIE_ERR_STORAGE']);
    expect(s.outbox.pending(s.peer)).toEqual([]);
    expect((await s.store.keys('outbox/e/')).length).toBe(2); // tried again by the next receipt, or a restart resends
    s.messaging.close();
  });

  it('overlaps the writes of consecutive sends, and sends each frame once it and every frame before it are stored', async () => {
    const store = new HeldStore();
    const s = await sender(undefined, store);
    await s.send(0); // stored and sent: the writes after it may overlap
    store.held = 'write';
    const settled: number[] = [];
    for (const n of [1, 2, 3]) void s.messaging.send(s.peer, 'chat', { n }).then(() => settled.push(n));
    await until(() => store.waiting.length === 3); // the third and fourth sends did not wait for the second's write
    const [first, ...later] = store.waiting.splice(0);
    for (const go of later) go();
    await settle();
    expect(s.onRelay).toHaveLength(1); // seq 1 is not stored yet: nothing after it may go
    first?.();
    await until(() => s.onRelay.length === 4);
    expect(chatSeqs(s.relayFrames)).toEqual([0, 1, 2, 3]);
    await s.receipt(3);
    expect(settled).toEqual([1, 2, 3]);
    s.messaging.close();
  });

  it("settles sends on their receipt without waiting for their records' deletes", async () => {
    const store = new HeldStore();
    const s = await sender(undefined, store);
    const settled: number[] = [];
    for (const n of [0, 1]) void s.messaging.send(s.peer, 'chat', { n }).then(() => settled.push(n));
    await settle();
    store.held = 'delete';
    await s.receipt(0);
    await until(() => store.waiting.length === 1); // seq 0's delete is under way, held
    expect(settled).toEqual([0]);
    await s.receipt(1); // the next receipt is handled meanwhile too
    expect(settled).toEqual([0, 1]);
    store.resume();
    await s.outbox.settled();
    expect((await store.keys('outbox/e/')).length).toBe(1); // seq 1's record stays as the record of the seqs used
    s.messaging.close();
  });

  it('fails a send whose frame cannot be stored and the sends after it; the next send takes its seq', async () => {
    class FailsOnce extends HeldStore {
      failed = false;
      override async set(key: string, value: string) {
        await super.set(key, value);
        if (!this.failed && key.startsWith('outbox/e/') && key.endsWith('/0000000000000001')) {
          this.failed = true;
          throw new Error('EIO');
        }
      }
    }
    const store = new FailsOnce();
    const s = await sender(undefined, store);
    const results = [0, 1, 2].map((n) =>
      s.messaging.send(s.peer, 'chat', { n }).then(
        () => 'settled',
        (err: OppieError) => err.code,
      ),
    );
    await until(() => s.onRelay.length === 1);
    await s.receipt(0);
    expect(await Promise.all(results)).toEqual(['settled', 'OPPIE_ERR_STORAGE', 'OPPIE_ERR_STORAGE']);
    expect(s.outbox.pending(s.peer)).toEqual([]);
    void s.messaging.send(s.peer, 'chat', { n: 3 }).catch(() => {});
    await until(() => s.onRelay.length === 2);
    expect(chatSeqs(s.relayFrames)).toEqual([0, 1]); // no gap the peer would wait on
    s.messaging.close();
  });

  it('measures a message sent after an idle spell from when it went, and still resends it when its receipt stalls', async () => {
    const s = await sender();
    await s.send(0);
    await s.clock.advance(100);
    await s.receipt(0);
    await s.clock.advance(10_000);
    await s.send(1);
    expect(s.onRelay).toHaveLength(2);
    // 1.5 s later, past a stall check: the last receipt is 11 s old, but this frame has been out less than 3 s.
    await s.clock.advance(11_500);
    expect(s.onRelay).toHaveLength(2);
    await s.clock.advance(15_000);
    expect(s.onRelay).toHaveLength(3);
    expect(s.onRelay[2]).toBe(s.onRelay[1]);
    s.messaging.close();
  });

  it('drops a data channel whose receipts stopped while it stays up: the window goes on the relay', async () => {
    let open = false;
    const onChannel: string[] = [];
    const resets: string[] = [];
    const s = await sender((m) => ({
      isDirect: () => open,
      send: (_peer, f) => {
        if (!open) return false;
        onChannel.push((f as { id: string }).id);
        return true;
      },
      reset: (peer) => {
        resets.push(peer);
        // As DirectPaths does: the link ends, frames move back to the relay.
        open = false;
        m().pathChanged(peer);
      },
    }));
    await s.send(0);
    // 20 s without a receipt on the relay (resent there meanwhile), then a channel opens: its silence starts now.
    await s.clock.advance(20_000);
    const relayed = s.onRelay.length;
    expect(relayed).toBeGreaterThan(1);
    open = true;
    s.messaging.pathChanged(s.peer);
    expect(onChannel).toHaveLength(1);
    await s.clock.advance(29_000);
    expect(resets).toEqual([]);
    // Ten seconds on the channel without a receipt: dropped, and the frame goes on the relay again.
    await s.clock.advance(31_500);
    expect(resets).toEqual([s.peer]);
    expect(s.onRelay).toHaveLength(relayed + 1);
    s.messaging.close();
  });

  it("hands the channel a frame's sealed bytes, to frame in place on the first send only; the relay gets text", async () => {
    let direct = true;
    let takes = true;
    const tried: Array<{ id: string; inPlace: boolean; payload: string | Uint8Array }> = [];
    const s = await sender(() => ({
      isDirect: () => direct,
      send: (_peer, f) => {
        const e = f as { id: string; payload: string | Uint8Array; [SEALED_BYTES]?: boolean };
        if (!e.id.startsWith('rcpt')) tried.push({ id: e.id, inPlace: e[SEALED_BYTES] === true, payload: e.payload });
        return takes;
      },
      reset: () => {},
    }));
    await s.send(0);
    const first = tried[0] as (typeof tried)[number];
    const bytes = first.payload as Uint8Array;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(first.inPlace).toBe(true);
    expect(bytes.byteOffset).toBe(SEALED_HEADROOM); // the room in front is the channel's to write its framing into
    // Sent on the channel: the outbox keeps those bytes, and the store (which takes bytes) has them, not their text.
    expect(s.outbox.entry(s.peer, 0)?.payload).toBe(bytes);
    expect((await Outbox.open(s.store)).entry(s.peer, 0)?.payload).toEqual(bytes.slice());
    // The window again on the same channel (a path change): the same bytes, not to be written in front of again.
    s.messaging.pathChanged(s.peer);
    expect(tried.map((t) => t.id)).toEqual([first.id, first.id]);
    expect(tried[1]).toEqual({ id: first.id, inPlace: false, payload: bytes });
    // An open channel that refuses the frame: the relay gets its text, spelled from the bytes.
    takes = false;
    await s.send(1);
    expect(tried[2]?.inPlace).toBe(true);
    const relayed = s.relayFrames.find((f) => (f as { id: string }).id === tried[2]?.id) as { payload: unknown };
    expect(relayed.payload).toBe(toB64u(tried[2]?.payload as Uint8Array));
    expect(SEALED_BYTES in relayed).toBe(false);
    // Sealed while the path is the relay: kept as the text the relay carries.
    direct = false;
    await s.send(2);
    expect(typeof s.outbox.entry(s.peer, 2)?.payload).toBe('string');
    expect(tried).toHaveLength(3);
    // The channel's frame back on the relay: its text, spelled from the kept bytes.
    s.messaging.pathChanged(s.peer);
    const resent = s.relayFrames.filter((f) => (f as { id: string }).id === first.id);
    expect(resent.map((f) => (f as { payload: string }).payload)).toEqual([toB64u(bytes)]);
    s.messaging.close();
  });

  it('measures the first frame on a channel that opened idle from when it went, not from when the channel opened', async () => {
    const onChannel: string[] = [];
    const resets: string[] = [];
    const s = await sender(() => ({
      isDirect: () => true,
      send: (_peer, f) => {
        onChannel.push((f as { id: string }).id);
        return true;
      },
      reset: (peer) => void resets.push(peer),
    }));
    // The channel opens with nothing to send, and stays idle for 11 s.
    s.messaging.pathChanged(s.peer);
    await s.clock.advance(11_000);
    await s.send(0);
    expect(onChannel.filter((id) => !id.startsWith('rcpt'))).toHaveLength(1);
    // Past two stall checks, its receipt on the way (a slow link): the frame has been out 2 s, not 13.
    await s.clock.advance(13_000);
    expect(resets).toEqual([]);
    // Still measured: ten seconds of silence from the first check after it went, and the channel is dropped.
    await s.clock.advance(22_500);
    expect(resets).toEqual([s.peer]);
    s.messaging.close();
  });
});

/** The seqs of the chat frames sent on the relay, in the order they went. */
function chatSeqs(frames: object[]): number[] {
  return frames.flatMap((f) => ((f as { type?: string }).type === 'chat' ? [(f as { seq: number }).seq] : []));
}
