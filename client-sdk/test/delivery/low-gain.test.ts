/**
 * Which large messages are deflated on which path (`lowGainCompression`): base64 of random bytes goes undeflated on
 * a direct path under `auto`, deflated on `turn` and on the relay; text is deflated everywhere. Real zlib and real
 * sealing; the data channel is a stand-in that reports a path and counts the frames handed to it.
 */
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import type { PathName, WelcomePayload } from '@oppie/protocol';
import mittModule from 'mitt';
import { describe, expect, it } from 'vitest';
import { type DeflateHints, nodeCompression } from '../../src/delivery/compression.js';
import { Inbox } from '../../src/delivery/inbox.js';
import { Outbox } from '../../src/delivery/outbox.js';
import type { ClientEvents } from '../../src/events.js';
import { type LowGainCompression, Messaging } from '../../src/messaging.js';
import { defaultPlatform, MemoryStore } from '../../src/platform.js';
import type { InboxValue } from '../../src/wire.js';
import { NoSocket, pairedSessions } from '../paired-sessions.js';

const mitt = mittModule as unknown as typeof import('mitt').default;
const settle = () => new Promise<void>((r) => setImmediate(r));

/** 48 KiB of random bytes as base64: 64 KiB of JSON, two chunks undeflated, one deflated (to ~75%). */
const base64 = () => randomBytes(48 * 1024).toString('base64');
const diff = () => '+  const value = compute(input, options);\n'.repeat(1600);

/**
 * Sends `payload` once with `policy` while the peer's path is `path` (`relay`: no open channel) and returns how many
 * frames went out, and the hint each deflate got.
 */
async function send(payload: string, path: PathName, policy?: LowGainCompression) {
  const { sender: peer, receiver, receiverPeers } = await pairedSessions();
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
        return true;
      },
      reset: () => {},
      pathTo: () => path,
    },
    ...(policy !== undefined && { lowGainCompression: policy }),
  });
  messaging.connected({ limits: { envelopesPerSecond: 100 } } as WelcomePayload);
  void messaging.send(peer, 'diff', payload).catch(() => {});
  for (let i = 0; i < 50 && frames.length === 0; i++) await settle();
  await settle();
  messaging.close();
  return { frames, hints };
}

describe('lowGainCompression', () => {
  it('auto: base64 of random bytes goes undeflated on a direct path (two chunks), deflated on turn and relay (one)', async () => {
    expect(await send(base64(), 'direct')).toEqual({
      frames: ['direct:diff', 'direct:diff'],
      hints: [{ skipLowGain: true }],
    });
    expect(await send(base64(), 'turn')).toEqual({ frames: ['turn:diff'], hints: [{ skipLowGain: false }] });
    expect(await send(base64(), 'relay')).toEqual({ frames: ['relay:diff'], hints: [{ skipLowGain: false }] });
  });

  it('always deflates it on a direct path too, never on none', async () => {
    expect((await send(base64(), 'direct', 'always')).frames).toEqual(['direct:diff']);
    expect((await send(base64(), 'relay', 'never')).frames).toEqual(['relay:diff', 'relay:diff']);
    expect((await send(base64(), 'turn', 'never')).frames).toEqual(['turn:diff', 'turn:diff']);
  });

  it('deflates text on every path, whatever the policy', async () => {
    // 67 KiB of diff text: one chunk deflated, two as it is.
    for (const [path, policy] of [
      ['direct', 'auto'],
      ['direct', 'never'],
      ['relay', 'never'],
    ] as const) {
      const { frames } = await send(diff(), path, policy);
      expect(frames).toEqual([`${path}:diff`]);
    }
  });
});
