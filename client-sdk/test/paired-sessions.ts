/** Test helpers: a WebSocket that never connects, and two identities paired both ways without the relay. */
import { deviceIdOf, generateIdentity, type Identity } from '../src/crypto/identity.js';
import { toB64u } from '../src/crypto/sodium.js';
import { Peers } from '../src/peers.js';
import { MemoryStore } from '../src/platform.js';

/** For a platform whose relay connection is never opened. */
export class NoSocket {
  readyState = 3;
  protocol = '';
  binaryType = 'arraybuffer';
  onopen = null;
  onclose = null;
  onerror = null;
  onmessage = null;
  send(): void {}
  close(): void {}
}

/**
 * A sender (role sidecar) with its session to a receiver (role pwa), and `frame`, which seals the sender's next frame
 * as the relay delivers it. `receiverPeers` opens the receiver's peer list on a store, with the sender in it.
 * `receiverAnswers`: ids such that the receiver is the side that answers direct-path attempts.
 */
export async function pairedSessions(opts: { receiverAnswers?: boolean } = {}) {
  let senderIdentity: Identity;
  let receiverIdentity: Identity;
  let sender: string;
  let receiver: string;
  do {
    senderIdentity = await generateIdentity();
    receiverIdentity = await generateIdentity();
    sender = await deviceIdOf(senderIdentity.publicKey);
    receiver = await deviceIdOf(receiverIdentity.publicKey);
    // The lower device id dials a direct path; the receiver answers when its id is the higher one.
  } while (opts.receiverAnswers === true && receiver < sender);
  const senderPeers = await Peers.open(new MemoryStore(), senderIdentity, 'sidecar');
  await senderPeers.add({
    deviceId: receiver,
    name: 'phone',
    role: 'pwa',
    publicKey: toB64u(receiverIdentity.publicKey),
  });
  const session = senderPeers.session(receiver);
  if (session === undefined) throw new Error('no session');
  let seq = 0;
  const frame = (type: string, plain: Uint8Array, opts: { seq?: number } = {}) => {
    const n = opts.seq ?? seq++;
    const id = `${type}-${n}`;
    return {
      type,
      id,
      seq: n,
      timestamp: 0,
      to: receiver,
      metadata: { deviceId: sender },
      payload: session.seal({ from: sender, to: receiver, type, id, seq: n }, plain),
    };
  };
  const receiverPeers = async (store: MemoryStore) => {
    const peers = await Peers.open(store, receiverIdentity, 'pwa');
    if (peers.get(sender) === undefined)
      await peers.add({ deviceId: sender, name: 'ws', role: 'sidecar', publicKey: toB64u(senderIdentity.publicKey) });
    return peers;
  };
  /** Opens a frame the receiver sealed to the sender (what a Messaging with the receiver's id sends). */
  const openFromReceiver = (f: { type: string; id: string; seq: number; payload: string }) =>
    session.open({ from: receiver, to: sender, type: f.type, id: f.id, seq: f.seq }, f.payload);
  return { sender, receiver, frame, receiverPeers, openFromReceiver };
}
