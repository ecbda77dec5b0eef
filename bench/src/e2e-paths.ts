/**
 * The two ways an application message crosses the relay in the end-to-end bench, behind one interface:
 *
 * - plaintext: raw protocol devices (a registered sidecar and a paired PWA, as relay-bench uses), the payload as the
 *   envelope's text, routed envelopes acknowledged to the relay (batched per turn);
 * - sdk: an OppieClient sidecar sending to an OppieClient phone paired through the relay, `ws` sockets and
 *   MemoryStore storage: every frame sealed (XChaCha20-Poly1305), kept in the outbox, opened, ordered through the
 *   inbox, and acknowledged with an end-to-end receipt that resolves the `send()` promise;
 * - sdk-clear: the same SDK path with the AEAD replaced by a copy (same frames, same sizes): what the SDK costs
 *   without encryption.
 *
 * The payload's first 10 characters carry the message's index, so the receiver checks order and the bench matches a
 * delivery to its send time.
 */
import zlib from 'node:zlib';
import {
  type FrameCrypto,
  MemoryStore,
  nodeCompression,
  OppieClient,
  type OppieClientOptions,
} from '@oppie/client-sdk';
import { pairDevice, registerDevice } from '@oppie/test-kit';
import WebSocket from 'ws';
import { BenchPeer, openSocket } from './peers.js';

/** `sdk-clear`: the SDK with the AEAD replaced by a copy (e2e-clear.ts), the baseline for what encryption costs. */
export type PathKind = 'plaintext' | 'sdk-clear' | 'sdk';

export interface StreamPath {
  readonly kind: PathKind;
  /**
   * Sends message `i`. Calls `onSettled(i)` when its window slot frees, `onDelivered(i, at)` when the receiver has it
   * (`at`: when, on this process's `performance.now()` clock; now when left out).
   */
  send(i: number, payload: string): void;
  onDelivered: (i: number, at?: number) => void;
  onSettled: (i: number) => void;
  onFailure: (message: string) => void;
  /** Bytes on the wire from the sender for one message of this payload (the envelope text). */
  wireBytes(payload: string): number;
  /** CPU seconds of the receiving end so far, when it runs in a process of its own (`--split`). */
  receiverCpuSeconds?: () => Promise<number>;
  close(): Promise<void>;
}

export const INDEX_CHARS = 10;

/** Message `i`'s payload: its index, zero-padded, then `filler` up to the filler's length. */
export function indexedPayload(i: number, filler: string): string {
  return String(i).padStart(INDEX_CHARS, '0') + filler.slice(INDEX_CHARS);
}

const indexOf = (payload: unknown): number =>
  typeof payload === 'string' ? Number(payload.slice(0, INDEX_CHARS)) : Number.NaN;

/** The sending half of a plaintext path: numbered raw `chat` envelopes from `a` to `to`. */
export function plaintextSender(a: BenchPeer, to: string): Omit<StreamPath, 'close'> {
  let counter = 0;
  return {
    kind: 'plaintext',
    onDelivered: () => {},
    onSettled: () => {},
    onFailure: () => {},
    send(_i, payload) {
      counter += 1;
      a.send(`p-${counter}`, to, payload);
    },
    wireBytes: (payload) =>
      JSON.stringify({
        type: 'chat',
        id: 'p-1000000',
        timestamp: Date.now(),
        to,
        metadata: { deviceId: a.deviceId },
        payload,
      }).length,
  };
}

/** Raw protocol devices: A (sidecar) streams to B (its paired PWA); B acknowledges to the relay. */
export async function plaintextPath(url: string): Promise<StreamPath> {
  const sidecar = await registerDevice(url, 'e2e-bench-plain-a');
  const pwa = await pairDevice(url, sidecar.token, 'e2e-bench-plain-b');
  const target = { kind: 'relay' as const, url };
  const a = new BenchPeer(await openSocket(target, sidecar), sidecar.deviceId, true);
  const b = new BenchPeer(await openSocket(target, pwa), pwa.deviceId, true);
  const path: StreamPath = {
    ...plaintextSender(a, b.deviceId),
    async close() {
      a.close();
      b.close();
    },
  };
  a.onRouted = () => {};
  b.onRouted = (env) => {
    const i = indexOf(env.payload);
    path.onDelivered(i);
    path.onSettled(i);
  };
  a.onFailure = (m) => path.onFailure(m);
  b.onFailure = (m) => path.onFailure(m);
  return path;
}

/** An OppieClient on `ws` and MemoryStore; `frameCrypto` replaces the process default (the clear path's copy). */
export function sdkClient(
  relayUrl: string,
  role: 'sidecar' | 'pwa',
  name: string,
  frameCrypto?: FrameCrypto,
): Promise<OppieClient> {
  return OppieClient.create({
    relayUrl,
    role,
    name,
    platform: {
      WebSocket: WebSocket as unknown as NonNullable<NonNullable<OppieClientOptions['platform']>['WebSocket']>,
      storage: new MemoryStore(),
      // zlib, as sidecar-sdk's platform injects (chunked payloads only; the Web streams deflate at level 6 and cost
      // several times more for base64 of random bytes).
      compression: nodeCompression(zlib),
      ...(frameCrypto === undefined ? {} : { frameCrypto }),
    },
  });
}

/** A size the SDK sends as one frame: JSON of `{"p":"…"}` at most 48 KiB. */
const SDK_CHUNK_THRESHOLD = 48 * 1024;

/** Bytes of the SDK's envelope text for one message of `payload` sent as one frame (NaN when it would be chunked). */
export function sdkWireBytes(payload: string, from: string, to: string): number {
  const plain = JSON.stringify({ p: payload }).length;
  if (plain > SDK_CHUNK_THRESHOLD) return Number.NaN;
  const b64 = Math.ceil(((24 + plain + 16) * 4) / 3);
  const header = JSON.stringify({
    type: 'chat',
    id: 'chat-AAAAAAAAAAAAAAAA1a',
    timestamp: Date.now(),
    to,
    seq: 1000000,
    metadata: { deviceId: from },
  }).length;
  return header + b64 + 13;
}

/**
 * OppieClient sidecar -> OppieClient phone, paired end to end through the relay (as test/test/sdk/sdk-fixture.ts);
 * with `clear`, both ends on that frame cipher instead of the real AEAD (the `sdk-clear` path).
 */
export async function sdkPath(url: string, clear?: FrameCrypto): Promise<StreamPath> {
  const sidecar = await sdkClient(url, 'sidecar', 'e2e-bench-workstation', clear);
  await sidecar.register();
  await sidecar.connect();
  const offer = await sidecar.createPairing();
  const phone = await sdkClient(url, 'pwa', 'e2e-bench-phone', clear);
  await Promise.all([phone.pair(offer.link), offer.completed]);
  const to = phone.deviceId;
  const path: StreamPath = {
    kind: clear === undefined ? 'sdk' : 'sdk-clear',
    onDelivered: () => {},
    onSettled: () => {},
    onFailure: () => {},
    send(i, payload) {
      sidecar.send('chat', payload, { to }).then(
        () => path.onSettled(i),
        (err: unknown) => path.onFailure(`sdk send ${i}: ${err instanceof Error ? err.message : String(err)}`),
      );
    },
    wireBytes: (payload) => sdkWireBytes(payload, sidecar.deviceId, to),
    async close() {
      await sidecar.close();
      await phone.close();
    },
  };
  phone.events.on('message', (m) => path.onDelivered(indexOf(m.payload)));
  const onError = (who: string) => (e: Error) => path.onFailure(`${who}: ${e.message}`);
  sidecar.events.on('error', onError('sidecar'));
  phone.events.on('error', onError('phone'));
  return path;
}
