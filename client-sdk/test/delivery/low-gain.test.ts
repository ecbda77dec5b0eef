/**
 * Which large messages are deflated on which path (`lowGainCompression`): base64 of random bytes goes undeflated on
 * a direct path within a local network under `auto`, deflated on a direct path through NATs, on `turn` and on the
 * relay; text is deflated everywhere, and so is anything over LOW_GAIN_SKIP_MAX_BYTES. And where a short last piece
 * rides in the chunk before it (TAIL_FOLD_BYTES). Real zlib and real sealing; the data channel is a stand-in that
 * reports a path and a message size and counts the frames handed to it.
 */
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import type { WelcomePayload } from '@oppie/protocol';
import mittModule from 'mitt';
import { describe, expect, it, vi } from 'vitest';
import { PeerSession } from '../../src/crypto/session.js';
import { CHUNK_HEADER_BYTES, decodeChunk, FOLDED_MESSAGE_BYTES } from '../../src/delivery/chunker.js';
import { type DeflateHints, nodeCompression } from '../../src/delivery/compression.js';
import { Inbox } from '../../src/delivery/inbox.js';
import { Outbox } from '../../src/delivery/outbox.js';
import { defaultBase64, unpackJson } from '../../src/delivery/packed-strings.js';
import type { ClientEvents } from '../../src/events.js';
import { LOW_GAIN_SKIP_MAX_BYTES, type LowGainCompression, Messaging } from '../../src/messaging.js';
import { defaultPlatform, MemoryStore } from '../../src/platform.js';
import type { InboxValue } from '../../src/wire.js';
import { NoSocket, pairedSessions } from '../paired-sessions.js';

const mitt = mittModule as unknown as typeof import('mitt').default;
const settle = () => new Promise<void>((r) => setImmediate(r));

/** 48 KiB of random bytes as base64: 64 KiB of JSON, two chunks undeflated, one deflated (to ~75%). */
const base64 = () => randomBytes(48 * 1024).toString('base64');
const diff = () => '+  const value = compute(input, options);\n'.repeat(1600);

/** Where frames to the peer go: a direct path within a local network or through NATs, TURN, or the relay. */
type Where = 'lan' | 'direct' | 'turn' | 'relay';

/**
 * Sends `payload` once with `policy` while frames to the peer go `where` and returns the frames that went out (by
 * path and type), and the hint each deflate got. `channel`: the largest message the open data channel takes, or
 * `none` open; by default a peer's 64 KiB, which no chunk outgrows (so no tail is folded).
 */
async function send(
  payload: unknown,
  where: Where,
  policy?: LowGainCompression,
  channel: number | 'none' = 64 * 1024,
  opened?: Uint8Array[],
  readsPacked = false,
) {
  const path = where === 'lan' ? 'direct' : where;
  const { sender: peer, receiver, receiverPeers, openFromReceiver } = await pairedSessions();
  const store = new MemoryStore();
  const real = nodeCompression(zlib);
  const hints: Array<DeflateHints | undefined> = [];
  const frames: string[] = [];
  const messaging = new Messaging({
    deviceId: receiver,
    platform: defaultPlatform({
      WebSocket: NoSocket,
      storage: store,
      rtc: undefined,
      compression: {
        deflateRaw: (bytes, hint) => {
          hints.push(hint);
          return real.deflateRaw(bytes, hint);
        },
        inflateRaw: real.inflateRaw,
      },
    }),
    peers: await receiverPeers(store),
    outbox: await Outbox.open(store),
    inbox: await Inbox.open<InboxValue>(store),
    events: mitt<ClientEvents>(),
    send: (f) => {
      frames.push(`relay:${(f as { type: string }).type}`);
      return true;
    },
    direct: {
      isDirect: () => path !== 'relay',
      send: (_peer, f) => {
        if (path === 'relay') return false;
        frames.push(`${path}:${(f as { type: string }).type}`);
        opened?.push(openFromReceiver(f as Parameters<typeof openFromReceiver>[0]));
        return true;
      },
      reset: () => {},
      onLan: () => where === 'lan',
      messageBytes: () => (channel === 'none' ? undefined : channel),
      readsPacked: () => readsPacked,
    },
    ...(policy !== undefined && { lowGainCompression: policy }),
  });
  messaging.connected({ limits: { envelopesPerSecond: 100 } } as WelcomePayload);
  void messaging.send(peer, 'diff', payload).catch(() => {});
  // The first frame comes once compression is done (zlib's pool for the largest payloads), then the rest of the
  // message's frames within a few turns: waited for by time, not by turns, so a loaded machine is no reason to fail.
  const deadline = Date.now() + 10_000;
  while (frames.length === 0 && Date.now() < deadline) await settle();
  for (let quiet = 0, seen = frames.length; quiet < 20; quiet++, seen = frames.length) {
    await settle();
    if (frames.length !== seen) quiet = 0;
  }
  messaging.close();
  return { frames, hints };
}

describe('lowGainCompression', () => {
  it('auto: base64 of random bytes goes undeflated within a local network (two chunks), deflated elsewhere (one)', async () => {
    expect(await send(base64(), 'lan')).toEqual({
      frames: ['direct:diff', 'direct:diff'],
      hints: [{ skipLowGain: true }],
    });
    for (const where of ['direct', 'turn', 'relay'] as const) {
      const path = where === 'relay' ? 'relay' : where;
      expect(await send(base64(), where)).toEqual({ frames: [`${path}:diff`], hints: [{ skipLowGain: false }] });
    }
  });

  it('always deflates it within a local network too, never on no path', async () => {
    expect((await send(base64(), 'lan', 'always')).frames).toEqual(['direct:diff']);
    expect((await send(base64(), 'turn', 'always')).frames).toEqual(['turn:diff']);
    for (const where of ['lan', 'direct', 'turn', 'relay'] as const) {
      const path = where === 'lan' ? 'direct' : where;
      expect((await send(base64(), where, 'never')).frames).toEqual([`${path}:diff`, `${path}:diff`]);
    }
  });

  it('deflates text on every path, whatever the policy', async () => {
    // 67 KiB of diff text: one chunk deflated, two as it is.
    for (const [where, policy] of [
      ['lan', 'auto'],
      ['lan', 'never'],
      ['relay', 'never'],
    ] as const) {
      const { frames } = await send(diff(), where, policy);
      expect(frames).toEqual([`${where === 'lan' ? 'direct' : where}:diff`]);
    }
  });

  it('deflates a payload over LOW_GAIN_SKIP_MAX_BYTES whatever the path and policy', async () => {
    const big = randomBytes(Math.ceil((LOW_GAIN_SKIP_MAX_BYTES * 3) / 4) + 3).toString('base64');
    expect(big.length).toBeGreaterThan(LOW_GAIN_SKIP_MAX_BYTES);
    expect((await send(big, 'lan')).hints).toEqual([{ skipLowGain: false }]);
    expect((await send(big, 'relay', 'never')).hints).toEqual([{ skipLowGain: false }]);
    // Just below the bound (its JSON has two quotes more than the string), it is left undeflated.
    const below = randomBytes(((LOW_GAIN_SKIP_MAX_BYTES - 4) * 3) / 4).toString('base64');
    expect((await send(below, 'lan')).hints).toEqual([{ skipLowGain: true }]);
  });
});

describe('a short last piece rides in the chunk before it', () => {
  // 64 KiB of JSON undeflated: 63,488 bytes and a tail of 2,050, within TAIL_FOLD_BYTES.
  it('folds it when the open channel takes 80 KiB messages, or none is open (the relay takes them)', async () => {
    expect((await send(base64(), 'lan', 'auto', 256 * 1024)).frames).toEqual(['direct:diff']);
    expect((await send(base64(), 'lan', 'auto', FOLDED_MESSAGE_BYTES)).frames).toEqual(['direct:diff']);
    expect((await send(base64(), 'relay', 'never', 'none')).frames).toEqual(['relay:diff']);
  });

  it('sends a message of one undeflated chunk intact (its header written in front of its JSON, not copied)', async () => {
    const payload = base64();
    const opened: Uint8Array[] = [];
    const seal = vi.spyOn(PeerSession.prototype, 'sealBytes');
    try {
      expect((await send(payload, 'lan', 'auto', FOLDED_MESSAGE_BYTES, opened)).frames).toEqual(['direct:diff']);
      // Sealed from the array its JSON was written into: the chunk's bytes and the closing `}` of `{"p":...}`.
      const plain = seal.mock.calls[0]?.[1] as Uint8Array;
      expect(plain.byteOffset).toBe(0);
      expect(plain.buffer.byteLength).toBe(plain.length + 1);
    } finally {
      seal.mockRestore();
    }
    const chunk = decodeChunk(opened[0] as Uint8Array);
    expect({ index: chunk.index, count: chunk.count, compressed: chunk.compressed }).toEqual({
      index: 0,
      count: 1,
      compressed: false,
    });
    expect(Buffer.from(chunk.data).toString()).toBe(JSON.stringify(payload));
    expect(opened[0]?.length).toBe(CHUNK_HEADER_BYTES + JSON.stringify(payload).length);
  });

  it('keeps it a chunk of its own for a channel that takes less', async () => {
    expect((await send(base64(), 'lan', 'auto', FOLDED_MESSAGE_BYTES - 1)).frames).toEqual([
      'direct:diff',
      'direct:diff',
    ]);
  });

  it('never folds a tail longer than TAIL_FOLD_BYTES', async () => {
    // 96 KiB of JSON: 63,488 bytes and a tail of 34,818.
    const longTail = randomBytes(72 * 1024).toString('base64');
    expect((await send(longTail, 'relay', 'never', 'none')).frames).toEqual(['relay:diff', 'relay:diff']);
  });
});

describe('long base64 strings to a peer that reads packed chunks', () => {
  it('go as their bytes, within a local network and elsewhere, and spell out the same JSON', async () => {
    for (const where of ['lan', 'turn'] as const) {
      const payload = { png: base64(), caption: 'a screenshot' };
      const opened: Uint8Array[] = [];
      const { frames } = await send(payload, where, 'auto', 64 * 1024, opened, true);
      // 48 KiB of bytes: one chunk, where the 64 KiB of JSON took two undeflated (above) or one deflated.
      expect(frames).toEqual([`${where === 'lan' ? 'direct' : where}:diff`]);
      const chunk = decodeChunk(opened[0] as Uint8Array);
      expect({ packed: chunk.packed, compressed: chunk.compressed, count: chunk.count }).toEqual({
        packed: true,
        compressed: false, // random bytes: deflate is tried elsewhere, and not kept
        count: 1,
      });
      expect(chunk.data.length).toBeLessThan(48 * 1024 + 100);
      expect(unpackJson(chunk.data, defaultBase64())).toBe(JSON.stringify(payload));
    }
  });

  it('leave text as it was: deflated JSON, no packed flag', async () => {
    const opened: Uint8Array[] = [];
    expect((await send(diff(), 'lan', 'auto', 64 * 1024, opened, true)).frames).toEqual(['direct:diff']);
    const chunk = decodeChunk(opened[0] as Uint8Array);
    expect({ packed: chunk.packed, compressed: chunk.compressed }).toEqual({ packed: undefined, compressed: true });
  });
});
