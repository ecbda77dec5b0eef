/**
 * Signals from a paired peer as the relay delivers them: what DirectPaths refuses before any WebRTC object exists.
 */
import mittModule from 'mitt';
import { describe, expect, it } from 'vitest';
import { DirectPaths } from '../../src/direct/direct-paths.js';
import type { OppieError } from '../../src/errors.js';
import type { ClientEvents } from '../../src/events.js';
import { defaultPlatform, MemoryStore, type RtcImplementation } from '../../src/platform.js';
import { NoSocket, pairedSessions } from '../paired-sessions.js';

// mitt ships CommonJS typings; under NodeNext its default import is the module object (as in client.ts).
const mitt = mittModule as unknown as typeof import('mitt').default;

describe('signals', () => {
  it('ignores a signal whose plaintext is over 16 KiB with OPPIE_ERR_PROTOCOL, and one at 16 KiB is taken', async () => {
    const { receiver, frame, receiverPeers } = await pairedSessions({ receiverAnswers: true });
    const store = new MemoryStore();
    const events = mitt<ClientEvents>();
    const errors: OppieError[] = [];
    events.on('error', (e) => errors.push(e));
    let iceRequests = 0;
    const paths = new DirectPaths({
      deviceId: receiver,
      // Never constructed: every signal here is refused or ends before a link starts.
      platform: defaultPlatform({ WebSocket: NoSocket, storage: store, rtc: {} as RtcImplementation }),
      peers: await receiverPeers(store),
      events,
      options: {},
      relaySend: () => true,
      // Never answered: the link that would follow is not what this test is about.
      iceServers: () => {
        iceRequests += 1;
        return new Promise(() => {});
      },
      pathChanged: () => {},
      envelope: () => {},
    });
    const signal = (bytes: number) => {
      const head = '{"a":"attempt1","d":{"pad":"';
      const text = `${head}${'x'.repeat(bytes - head.length - 3)}"}}`;
      return frame('signal', new TextEncoder().encode(text), { seq: 0 });
    };
    paths.signal(signal(16 * 1024 + 1));
    expect(errors.map((e) => e.code)).toEqual(['OPPIE_ERR_PROTOCOL']);
    expect(errors[0]?.message).toMatch(/16385 bytes/);
    expect(iceRequests).toBe(0);
    // At the limit it is read (an answer starts: the ICE servers are asked for), and nothing is reported.
    paths.signal(signal(16 * 1024));
    expect(errors).toHaveLength(1);
    expect(iceRequests).toBe(1);
    paths.close();
  });
});
