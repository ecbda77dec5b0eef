/**
 * The receiving side of Messaging with real sessions and frames sealed by a real peer session, fed in as the relay
 * would deliver them: a message that cannot be delivered costs only itself, and a chunked message interrupted by a
 * restart resumes from the chunks stored before it.
 */
import mittModule from 'mitt';
import { describe, expect, it, vi } from 'vitest';
import { generateIdentity } from '../../src/crypto/identity.js';
import { PeerSession } from '../../src/crypto/session.js';
import { fromB64u } from '../../src/crypto/sodium.js';
import { encodeChunk } from '../../src/delivery/chunker.js';
import type { Compression } from '../../src/delivery/compression.js';
import { Inbox } from '../../src/delivery/inbox.js';
import { Outbox } from '../../src/delivery/outbox.js';
import { OppieError } from '../../src/errors.js';
import type { ClientEvents, IncomingMessage } from '../../src/events.js';
import { Messaging } from '../../src/messaging.js';
import { Peers } from '../../src/peers.js';
import { defaultPlatform, MemoryStore } from '../../src/platform.js';
import { encodePlain, type InboxValue } from '../../src/wire.js';
import { NoSocket, pairedSessions } from '../paired-sessions.js';

// mitt ships CommonJS typings; under NodeNext its default import is the module object (as in client.ts).
const mitt = mittModule as unknown as typeof import('mitt').default;

const TRANSFER = 'ab'.repeat(16);

/** Frames from a paired sender, and receiving clients on a store (a second one on the same store: after a restart). */
async function pair() {
  const { sender, receiver, frame, receiverPeers } = await pairedSessions();
  const receive = async (store: MemoryStore, compression?: Compression) => {
    const platform = defaultPlatform({
      WebSocket: NoSocket,
      storage: store,
      rtc: undefined,
      ...(compression && { compression }),
    });
    const inbox = await Inbox.open<InboxValue>(store);
    const events = mitt<ClientEvents>();
    const got: IncomingMessage[] = [];
    const errors: OppieError[] = [];
    events.on('message', (m) => got.push(m));
    events.on('error', (e) => errors.push(e));
    const messaging = new Messaging({
      deviceId: receiver,
      platform,
      peers: await receiverPeers(store),
      outbox: await Outbox.open(store),
      inbox,
      events,
      send: () => true,
    });
    return { messaging, inbox, got, errors };
  };
  return { sender, frame, receive };
}

const chat = (n: number) => encodePlain({ p: { n } });
const chunk = (index: number, count: number, data: Uint8Array, compressed = false) =>
  encodeChunk({ transferId: TRANSFER, index, count, compressed, data });

type Pair = Awaited<ReturnType<typeof pair>>;

/** A message in three chunks of 1,000 bytes and the rest: its JSON text and its chunks. */
function threeChunks(fill: string) {
  const text = JSON.stringify({ d: fill.repeat(3000) });
  const bytes = new TextEncoder().encode(text);
  const chunks = [0, 1, 2].map((i) => chunk(i, 3, bytes.subarray(i * 1000, i === 2 ? undefined : (i + 1) * 1000)));
  return { text, chunks };
}

/** A restart on `store`, then the last chunk once more: the message is delivered, and no chunk stays stored. */
async function lastChunkAfterRestart(p: Pair, store: MemoryStore, last: ReturnType<Pair['frame']>, text: string) {
  const after = await p.receive(store);
  await after.messaging.received(last);
  expect(after.errors).toEqual([]);
  expect(after.got.map((m) => m.payload)).toEqual([JSON.parse(text)]);
  expect((await store.keys('rx/')).length).toBe(0);
  after.messaging.close();
}

describe('receiving', () => {
  it('delivers the rest of a batch when one message in it fails, reports that one, and commits the batch', async () => {
    // Inflate fails: the one chunked message in the batch cannot be delivered.
    const broken: Compression = {
      deflateRaw: async (b) => b,
      inflateRaw: async () => {
        throw new OppieError('OPPIE_ERR_PROTOCOL', 'chunked payload does not decompress');
      },
    };
    const { sender, frame, receive } = await pair();
    const rx = await receive(new MemoryStore(), broken);
    const frames = [frame('chat', chat(0)), frame('diff', chunk(0, 1, new Uint8Array([1, 2, 3]), true))];
    for (let n = 2; n < 6; n++) frames.push(frame('chat', chat(n)));
    // Everything after seq 0 arrives first and waits behind the gap; seq 0 releases all six as one batch.
    for (const f of frames.slice(1)) await rx.messaging.received(f);
    expect(rx.got).toEqual([]);
    await rx.messaging.received(frames[0] as (typeof frames)[number]);
    expect(rx.got.map((m) => (m.payload as { n: number }).n)).toEqual([0, 2, 3, 4, 5]);
    expect(rx.errors.map((e) => e.code)).toEqual(['OPPIE_ERR_PROTOCOL']);
    expect(rx.inbox.ackState(sender)).toBe(5);
    rx.messaging.close();
  });

  it('stores a chunk that waits behind a gap as text, and delivers it from there after a restart', async () => {
    const p = await pair();
    const text = JSON.stringify({ d: 'y'.repeat(2000) });
    const store = new MemoryStore();
    const before = await p.receive(store);
    const frames = [p.frame('chat', chat(0)), p.frame('diff', chunk(0, 1, new TextEncoder().encode(text)))];
    await before.messaging.received(frames[1] as (typeof frames)[number]); // seq 1 first: buffered, in the store
    expect(before.got).toEqual([]);
    before.messaging.close();
    const after = await p.receive(store);
    await after.messaging.received(frames[0] as (typeof frames)[number]);
    expect(after.errors).toEqual([]);
    expect(after.got.map((m) => m.payload)).toEqual([{ n: 0 }, JSON.parse(text)]);
    after.messaging.close();
  });

  it('resumes a chunked message after a restart from the chunks stored before it', async () => {
    const text = JSON.stringify({ d: 'x'.repeat(3000) });
    const bytes = new TextEncoder().encode(text);
    const parts = [bytes.subarray(0, 1000), bytes.subarray(1000, 2000), bytes.subarray(2000)];
    const { frame, receive } = await pair();
    const store = new MemoryStore();
    const before = await receive(store);
    const frames = parts.map((p, i) => frame('diff', chunk(i, 3, p)));
    await before.messaging.received(frames[0] as (typeof frames)[number]);
    await before.messaging.received(frames[1] as (typeof frames)[number]);
    before.messaging.close();
    // Chunks 0 and 1 are committed (receipted: the sender has let them go); only chunk 2 comes after the restart.
    const after = await receive(store);
    await after.messaging.received(frames[1] as (typeof frames)[number]); // a resend: a duplicate
    await after.messaging.received(frames[2] as (typeof frames)[number]);
    expect(after.errors).toEqual([]);
    expect(after.got.map((m) => m.payload)).toEqual([JSON.parse(text)]);
    expect((await store.keys('rx/')).length).toBe(0);
    after.messaging.close();
  });

  it('keeps the chunks of a completed message until the inbox has committed it: a crash in between loses nothing', async () => {
    /** A store whose writes of inbox positions fail once armed: the process "dies" before committing the batch. */
    class CrashingStore extends MemoryStore {
      armed = false;
      override async set(key: string, value: string): Promise<void> {
        if (this.armed && key.startsWith('inbox/')) throw new Error('power cut');
        return super.set(key, value);
      }
    }
    const p = await pair();
    const { text, chunks } = threeChunks('w');
    const store = new CrashingStore();
    const before = await p.receive(store);
    const frames = chunks.map((c) => p.frame('diff', c));
    await before.messaging.received(frames[0] as (typeof frames)[number]);
    await before.messaging.received(frames[1] as (typeof frames)[number]);
    store.armed = true;
    await before.messaging.received(frames[2] as (typeof frames)[number]);
    // The app had it, but the inbox could not commit it: the sender resends the last chunk after the restart.
    expect(before.got.map((m) => m.payload)).toEqual([JSON.parse(text)]);
    expect(before.errors.map((e) => e.code)).toEqual(['OPPIE_ERR_STORAGE']);
    expect((await store.keys('rx/')).length).toBe(2);
    before.messaging.close();
    store.armed = false;
    await lastChunkAfterRestart(p, store, frames[2] as (typeof frames)[number], text);
  });

  it('completes a message whose last chunk an earlier SDK stored before it crashed, when that chunk comes again', async () => {
    const p = await pair();
    const { text, chunks } = threeChunks('v');
    const store = new MemoryStore();
    const before = await p.receive(store);
    const frames = chunks.map((c) => p.frame('diff', c));
    await before.messaging.received(frames[0] as (typeof frames)[number]);
    await before.messaging.received(frames[1] as (typeof frames)[number]);
    before.messaging.close();
    // What such an SDK left: the last chunk stored, its frame not committed.
    await store.set(`rx/${p.sender}/${TRANSFER}/2`, Buffer.from(chunks[2] as Uint8Array).toString('base64url'));
    await lastChunkAfterRestart(p, store, frames[2] as (typeof frames)[number], text);
  });

  it('keeps receiving a chunked message in memory when its chunks cannot be stored, and says so', async () => {
    class NoChunkStore extends MemoryStore {
      override async set(key: string, value: string): Promise<void> {
        if (key.startsWith('rx/')) throw new Error('quota exceeded');
        return super.set(key, value);
      }
    }
    const text = JSON.stringify({ d: 'y'.repeat(2000) });
    const bytes = new TextEncoder().encode(text);
    const { frame, receive } = await pair();
    const rx = await receive(new NoChunkStore());
    await rx.messaging.received(frame('diff', chunk(0, 2, bytes.subarray(0, 1000))));
    await rx.messaging.received(frame('diff', chunk(1, 2, bytes.subarray(1000))));
    expect(rx.got.map((m) => m.payload)).toEqual([JSON.parse(text)]);
    // The first chunk could not be stored; the last one completes the message and is never stored.
    expect(rx.errors.map((e) => e.code)).toEqual(['OPPIE_ERR_STORAGE']);
    rx.messaging.close();
  });

  it('stores only the chunks of an unfinished message, and lists the store only when it may hold some', async () => {
    class CountingStore extends MemoryStore {
      readonly ops: string[] = [];
      override async set(key: string, value: string): Promise<void> {
        if (key.startsWith('rx/')) this.ops.push(`set ${key.split('/').at(-1)}`);
        return super.set(key, value);
      }
      override async keys(prefix: string): Promise<string[]> {
        if (prefix.startsWith('rx/')) this.ops.push('list');
        return super.keys(prefix);
      }
    }
    const { frame, receive } = await pair();
    const store = new CountingStore();
    const rx = await receive(store);
    const whole = (n: number) => {
      const bytes = new TextEncoder().encode(JSON.stringify({ n }));
      return frame(
        'diff',
        encodeChunk({ transferId: `${n}`.padStart(32, 'c'), index: 0, count: 1, compressed: false, data: bytes }),
      );
    };
    // Messages of one chunk: the first makes sure no chunk of an earlier process is left (one listing), then nothing.
    for (let n = 0; n < 5; n++) await rx.messaging.received(whole(n));
    expect(store.ops).toEqual(['list']);
    // A message of three chunks: the first two are kept for a restart, the last completes it and is not; then the
    // kept ones are deleted (one listing), and the next message of one chunk again costs the store nothing.
    store.ops.length = 0;
    const bytes = new TextEncoder().encode(JSON.stringify({ d: 'z'.repeat(3000) }));
    for (let i = 0; i < 3; i++)
      await rx.messaging.received(
        frame('diff', chunk(i, 3, bytes.subarray(i * 1000, i === 2 ? undefined : (i + 1) * 1000))),
      );
    await rx.messaging.received(whole(5));
    expect(store.ops).toEqual(['set 0', 'set 1', 'list']);
    expect(await store.keys('rx/')).toEqual([]);
    expect(rx.got.map((m) => m.payload)).toEqual([
      { n: 0 },
      { n: 1 },
      { n: 2 },
      { n: 3 },
      { n: 4 },
      { d: 'z'.repeat(3000) },
      { n: 5 },
    ]);
    expect(rx.errors).toEqual([]);
    rx.messaging.close();
  });

  it('gives up a transfer whose chunks disagree once, skips its later chunks, and goes on with the next message', async () => {
    const { frame, receive } = await pair();
    const rx = await receive(new MemoryStore());
    const data = new Uint8Array(10);
    await rx.messaging.received(frame('diff', chunk(0, 3, data)));
    await rx.messaging.received(frame('diff', chunk(1, 4, data))); // another count: the transfer is refused
    await rx.messaging.received(frame('diff', chunk(2, 3, data)));
    await rx.messaging.received(frame('chat', chat(7)));
    expect(rx.errors.map((e) => e.code)).toEqual(['OPPIE_ERR_PROTOCOL']);
    expect(rx.got.map((m) => m.payload)).toEqual([{ n: 7 }]);
    rx.messaging.close();
  });

  it('reports a chunked message that is not JSON with OPPIE_ERR_PROTOCOL', async () => {
    const { frame, receive } = await pair();
    const rx = await receive(new MemoryStore());
    await rx.messaging.received(frame('diff', chunk(0, 1, new TextEncoder().encode('{not json'))));
    await rx.messaging.received(frame('chat', chat(1)));
    expect(rx.errors.map((e) => e.code)).toEqual(['OPPIE_ERR_PROTOCOL']);
    expect(rx.got.map((m) => m.payload)).toEqual([{ n: 1 }]);
    rx.messaging.close();
  });
});

describe('sending when the data channel fails while taking a frame', () => {
  it('sends the window on the relay once, in order, not a second time from the interrupted pump', async () => {
    const store = new MemoryStore();
    const peer = 'peerpeerpeerpeerpeerAA';
    const outbox = await Outbox.open(store);
    for (let seq = 0; seq < 10; seq++)
      await outbox.add({ peer, id: `chat-${seq}`, type: 'chat', seq, payload: 'x', createdAt: 1, bytes: 1 });
    const onRelay: string[] = [];
    const onChannel: string[] = [];
    let open = true;
    let messaging: Messaging | undefined;
    messaging = new Messaging({
      deviceId: 'selfselfselfselfselfAA',
      platform: defaultPlatform({ WebSocket: NoSocket, storage: store, rtc: undefined }),
      peers: await Peers.open(store, await generateIdentity(), 'sidecar'),
      outbox,
      inbox: await Inbox.open<InboxValue>(store),
      events: mitt<ClientEvents>(),
      send: (f) => {
        onRelay.push((f as { id: string }).id);
        return true;
      },
      direct: {
        reset: () => {},
        isDirect: () => open,
        send: (_peer, f) => {
          if (!open) return false;
          const id = (f as { id: string }).id;
          if (id === 'chat-3') {
            // As a channel whose send throws: the link ends at once and frames move back to the relay.
            open = false;
            messaging?.pathChanged(peer);
          } else onChannel.push(id);
          return true;
        },
      },
    });
    messaging.pathChanged(peer);
    expect(onChannel).toEqual(['chat-0', 'chat-1', 'chat-2']);
    expect(onRelay).toEqual(Array.from({ length: 10 }, (_, i) => `chat-${i}`));
    messaging.close();
  });
});

describe('opening frames', () => {
  it("decrypts a data-channel message over its bytes (given up), and a relay frame's text as it came", async () => {
    const { frame, receive } = await pair();
    const rx = await receive(new MemoryStore());
    const open = vi.spyOn(PeerSession.prototype, 'open');
    try {
      const first = frame('chat', chat(0));
      await rx.messaging.received(first);
      const second = frame('chat', chat(1));
      // As the link hands over a binary channel message: the sealed payload as bytes, not via the relay.
      await rx.messaging.received({ ...second, payload: fromB64u(second.payload) } as never, false);
      expect(open.mock.calls.map((c) => [typeof c[1], c[2]])).toEqual([
        ['string', false],
        ['object', true],
      ]);
      expect(rx.got.map((m) => m.payload)).toEqual([{ n: 0 }, { n: 1 }]);
    } finally {
      open.mockRestore();
      rx.messaging.close();
    }
  });
});
