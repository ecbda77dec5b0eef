/**
 * Child-process entry for `bench:e2e --split`: the receiving end of a stream (the plaintext PWA device, or the SDK
 * phone) in its own process, so its CPU time is its own and, on a machine with a core to spare, it runs on its own
 * core as a phone would. It reports deliveries to the bench in batches (one IPC message per event-loop turn, so the
 * report costs little next to the work measured), each with the absolute time it happened.
 *
 * Parent -> child: `plain` (the device and its token) or `sdk` (the pairing link), then `close`.
 * Child -> parent: `ready` (with the device id), `delivered` batches of [index, epoch ms], `failure`.
 */
import { clearFrameCrypto } from './e2e-clear.js';
import { INDEX_CHARS, sdkClient } from './e2e-paths.js';
import { type FrameBackend, useFrameBackend } from './frame-backend.js';
import { BenchPeer, openSocket } from './peers.js';

export type ReceiverCommand =
  | { readonly cmd: 'plain'; readonly url: string; readonly deviceId: string; readonly token: string }
  | {
      readonly cmd: 'sdk';
      readonly url: string;
      readonly link: string;
      readonly frameCrypto: FrameBackend;
      /** The `sdk-clear` path: the AEAD replaced by a copy (e2e-clear.ts). */
      readonly clear: boolean;
    }
  | { readonly cmd: 'close' };

export type ReceiverMessage =
  | { readonly type: 'ready'; readonly deviceId: string }
  | { readonly type: 'delivered'; readonly items: number[] }
  | { readonly type: 'failure'; readonly message: string };

const send = (m: ReceiverMessage) => process.send?.(m);
const indexOf = (payload: unknown): number =>
  typeof payload === 'string' ? Number(payload.slice(0, INDEX_CHARS)) : Number.NaN;

let batch: number[] = [];
function delivered(i: number): void {
  if (batch.length === 0) setImmediate(flush);
  batch.push(i, performance.timeOrigin + performance.now());
}
function flush(): void {
  const items = batch;
  batch = [];
  send({ type: 'delivered', items });
}

let closeEnd: (() => Promise<void>) | undefined;

async function start(cmd: ReceiverCommand): Promise<void> {
  if (cmd.cmd === 'plain') {
    const peer = new BenchPeer(
      await openSocket({ kind: 'relay', url: cmd.url }, { deviceId: cmd.deviceId, token: cmd.token }),
      cmd.deviceId,
      true,
    );
    peer.onRouted = (env) => delivered(indexOf(env.payload));
    peer.onFailure = (m) => send({ type: 'failure', message: m });
    closeEnd = async () => peer.close();
    send({ type: 'ready', deviceId: cmd.deviceId });
  } else if (cmd.cmd === 'sdk') {
    useFrameBackend(cmd.frameCrypto);
    const phone = await sdkClient(
      cmd.url,
      'pwa',
      'e2e-bench-phone',
      cmd.clear ? clearFrameCrypto(cmd.frameCrypto) : undefined,
    );
    phone.events.on('message', (m) => delivered(indexOf(m.payload)));
    phone.events.on('error', (e) => send({ type: 'failure', message: `phone: ${e.message}` }));
    await phone.pair(cmd.link);
    closeEnd = () => phone.close();
    send({ type: 'ready', deviceId: phone.deviceId });
  }
}

process.on('disconnect', () => process.exit(0));
process.on('message', (cmd: ReceiverCommand) => {
  if (cmd.cmd === 'close') {
    void (closeEnd?.() ?? Promise.resolve()).finally(() => process.exit(0));
    return;
  }
  start(cmd).catch((err: unknown) =>
    send({ type: 'failure', message: `receiver setup: ${err instanceof Error ? err.message : String(err)}` }),
  );
});
