/// <reference path="../../client-sdk/src/direct/simple-peer.d.ts" />
/**
 * Child-process entry for `bench:direct --split`: the receiving end of a throughput run (the raw channel's answerer,
 * or the SDK phone) in its own process, as deployed: its own main thread and its own wrtc threads, instead of one
 * process serving both ends of the channel.
 *
 * One child serves every run of a bench, so its code is as warm as the sending end's: a new child per run spent its
 * runs compiling (V8's optimizing compiler on the same pinned CPU, and its heap growing), which made the receiving end
 * look dearer than a phone that has run for a while.
 *
 * Parent -> child: `raw` (then `signal`s from the initiator), or `sdk` (pair with the link, then connect); `count` asks
 * what the run's end was handed; `end` closes that end and keeps the process for the next run; `close` ends the process.
 * Child -> parent: `signal` (raw), `ready` (sdk, with the phone's device id), `count`, `ended`, `failure`.
 */
import { createRequire } from 'node:module';
import { MemoryStore, OppieClient, type OppieClientOptions, type RtcImplementation } from '@oppie/client-sdk';
import SimplePeer from 'simple-peer';
import WebSocket from 'ws';
import { type BenchCompression, benchCompression } from './bench-compression.js';
import { frameCryptoOf } from './frame-backend.js';

export type DirectReceiverCommand =
  | { readonly cmd: 'raw'; readonly count: number }
  | { readonly cmd: 'signal'; readonly data: unknown }
  | {
      readonly cmd: 'sdk';
      readonly url: string;
      readonly link: string;
      readonly direct: boolean;
      readonly compression: BenchCompression;
      readonly receiptIntervalMs?: number;
    }
  | { readonly cmd: 'count' }
  | { readonly cmd: 'end' }
  | { readonly cmd: 'close' };

export type DirectReceiverMessage =
  | { readonly type: 'signal'; readonly data: unknown }
  | { readonly type: 'ready'; readonly deviceId: string }
  | { readonly type: 'count'; readonly handed: number }
  | { readonly type: 'ended' }
  | { readonly type: 'failure'; readonly message: string };

const rtc = createRequire(import.meta.url)('@roamhq/wrtc') as RtcImplementation;
const send = (m: DirectReceiverMessage) => process.send?.(m);

let raw: InstanceType<typeof SimplePeer> | undefined;
let closeEnd: (() => Promise<void>) | undefined;
/**
 * What the current run's end was handed: the raw channel's messages, or the `diff` messages the phone's app got. A
 * send settles on a receipt, which a duplicate gets too, so the sender checks this against what it sent.
 */
let handed = 0;

/** The raw channel's far end: counts messages and credits the sender every fourth one (as in one process). */
function startRaw(count: number): void {
  const b = new SimplePeer({ wrtc: rtc, trickle: true, objectMode: true });
  raw = b;
  b.on('signal', (data) => send({ type: 'signal', data }));
  handed = 0;
  b.on('data', () => {
    handed += 1;
    if (handed % 4 === 0 || handed === count) b.send(String(handed));
  });
  b.on('error', (err) => send({ type: 'failure', message: `raw channel: ${err.message}` }));
  closeEnd = async () => b.destroy();
}

async function startSdk(cmd: Extract<DirectReceiverCommand, { cmd: 'sdk' }>): Promise<void> {
  const phone = await OppieClient.create({
    relayUrl: cmd.url,
    role: 'pwa',
    name: 'direct-bench-phone',
    ...(cmd.receiptIntervalMs !== undefined && { receipts: { intervalMs: cmd.receiptIntervalMs } }),
    platform: {
      WebSocket: WebSocket as unknown as NonNullable<NonNullable<OppieClientOptions['platform']>['WebSocket']>,
      storage: new MemoryStore(),
      frameCrypto: frameCryptoOf('sidecar'),
      compression: benchCompression(cmd.compression),
      ...(cmd.direct ? { rtc } : { rtc: undefined }),
    },
  });
  // Before pairing, so an `end` after a failed setup closes this phone too.
  closeEnd = () => phone.close();
  handed = 0;
  phone.events.on('diff', () => {
    handed += 1;
  });
  phone.events.on('error', (e) => send({ type: 'failure', message: `phone: ${e.message}` }));
  await phone.pair(cmd.link);
  await phone.connect();
  send({ type: 'ready', deviceId: phone.deviceId });
}

/** Closes the current run's end, if any; the next run starts from nothing. */
async function endRun(): Promise<void> {
  const close = closeEnd;
  closeEnd = undefined;
  raw = undefined;
  await close?.();
}

process.on('disconnect', () => process.exit(0));
process.on('message', (cmd: DirectReceiverCommand) => {
  if (cmd.cmd === 'close') {
    void endRun().finally(() => process.exit(0));
  } else if (cmd.cmd === 'end') {
    endRun().then(
      () => send({ type: 'ended' }),
      (err: unknown) =>
        send({ type: 'failure', message: `closing the end: ${err instanceof Error ? err.message : String(err)}` }),
    );
  } else if (cmd.cmd === 'count') {
    send({ type: 'count', handed });
  } else if (closeEnd !== undefined && cmd.cmd !== 'signal') {
    send({ type: 'failure', message: `${cmd.cmd}: the last run's end is still open (send end first)` });
  } else if (cmd.cmd === 'raw') {
    startRaw(cmd.count);
  } else if (cmd.cmd === 'signal') {
    raw?.signal(cmd.data);
  } else {
    startSdk(cmd).catch((err: unknown) =>
      send({ type: 'failure', message: `phone setup: ${err instanceof Error ? err.message : String(err)}` }),
    );
  }
});
