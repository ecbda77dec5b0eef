/**
 * What a peer may send on a data channel: application frames and receipts only. Relay notices arriving on a channel
 * (`dropped`, `expired`, `error`, `ack`) are refused with OPPIE_ERR_PROTOCOL and change nothing, so a channel cannot
 * pretend to be the relay (for example to make the sender give up on a message).
 */
import mittModule from 'mitt';
import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/identity.js';
import { Inbox } from '../../src/delivery/inbox.js';
import { Outbox } from '../../src/delivery/outbox.js';
import type { OppieError } from '../../src/errors.js';
import type { ClientEvents } from '../../src/events.js';
import { Messaging } from '../../src/messaging.js';
import { Peers } from '../../src/peers.js';
import { defaultPlatform, MemoryStore } from '../../src/platform.js';
import type { InboxValue } from '../../src/wire.js';
import { NoSocket } from '../paired-sessions.js';

// mitt ships CommonJS typings; under NodeNext its default import is the module object (as in client.ts).
const mitt = mittModule as unknown as typeof import('mitt').default;

describe('frames arriving on a data channel', () => {
  it('refuses relay notices with OPPIE_ERR_PROTOCOL and leaves the outbox alone', async () => {
    const store = new MemoryStore();
    const platform = defaultPlatform({ WebSocket: NoSocket, storage: store, rtc: undefined });
    const identity = await generateIdentity();
    const peers = await Peers.open(store, identity, 'sidecar');
    const outbox = await Outbox.open(store);
    const inbox = await Inbox.open<InboxValue>(store);
    const events = mitt<ClientEvents>();
    const errors: OppieError[] = [];
    events.on('error', (e) => errors.push(e));
    const sent: object[] = [];
    const messaging = new Messaging({
      deviceId: 'selfselfselfselfselfAA',
      platform,
      peers,
      outbox,
      inbox,
      events,
      send: (f) => {
        sent.push(f);
        return true;
      },
    });
    await outbox.add({
      peer: 'peerpeerpeerpeerpeerAA',
      id: 'chat-1',
      type: 'chat',
      seq: 0,
      payload: 'x',
      createdAt: 1,
      bytes: 1,
    });
    const notices = [
      { type: 'dropped', id: 'n1', payload: { ids: ['chat-1'], to: 'peerpeerpeerpeerpeerAA', reason: 'queue_full' } },
      { type: 'expired', id: 'n2', payload: { ids: ['chat-1'], to: 'peerpeerpeerpeerpeerAA' } },
      { type: 'error', id: 'n3', re: 'chat-1', payload: { code: 'RELAY_ERR_RECIPIENT_FORBIDDEN', message: 'x' } },
      { type: 'ack', id: 'n4', payload: { ids: ['chat-1'], status: 'forwarded' } },
    ];
    for (const f of notices) await messaging.received(f, false);
    expect(errors.map((e) => e.code)).toEqual(Array(notices.length).fill('OPPIE_ERR_PROTOCOL'));
    expect(outbox.pending().map((e) => e.id)).toEqual(['chat-1']);
    expect(sent).toEqual([]);
    // The same notice from the relay is acted on (here: the recipient left the account, the message is given up).
    await messaging.received(notices[2] as (typeof notices)[number], true);
    expect(outbox.pending()).toEqual([]);
    messaging.close();
  });
});
