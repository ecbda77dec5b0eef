/// <reference path="../../client-sdk/src/direct/simple-peer.d.ts" />
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MemoryStore, OppieClient, type OppieClientOptions, type RtcImplementation } from '@oppie/client-sdk';
import { startTestRelay } from '@oppie/test-kit';
import SimplePeer from 'simple-peer';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ReceiverProcess } from '../src/receiver-process.js';

// The child runs compiled code: `npm test` builds first (tsc -b).
const ENTRY = fileURLToPath(new URL('../dist/direct-receiver.js', import.meta.url));
const rtc = createRequire(import.meta.url)('@roamhq/wrtc') as RtcImplementation;

/** One raw run against the receiver: `count` messages, resolved with the credits the far end sent back. */
async function rawRun(receiver: ReceiverProcess, count: number): Promise<string[]> {
  const a = new SimplePeer({ initiator: true, wrtc: rtc, trickle: true, objectMode: true });
  try {
    receiver.raw(count, (d) => a.signal(d as never));
    a.on('signal', (d) => receiver.signal(d));
    const credits: string[] = [];
    await new Promise<void>((resolve, reject) => {
      a.on('error', reject);
      a.on('connect', () => {
        for (let i = 0; i < count; i++) a.send(`message ${i}`);
      });
      a.on('data', (d: unknown) => {
        credits.push(String(d));
        if (String(d) === String(count)) resolve();
      });
    });
    expect(await receiver.handed()).toBe(count);
    return credits;
  } finally {
    a.destroy();
    await receiver.end();
  }
}

describe('bench:direct --split receiver process', () => {
  let receiver: ReceiverProcess | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it('serves one run after another in the same process, so its code stays warm', async () => {
    expect(existsSync(ENTRY), `${ENTRY} is missing: run \`npx tsc -b\` first`).toBe(true);
    receiver = new ReceiverProcess(undefined, ENTRY);
    const pid = receiver.pid;
    expect(await rawRun(receiver, 8)).toEqual(['4', '8']);
    expect(await rawRun(receiver, 6)).toEqual(['4', '6']);
    expect(receiver.pid).toBe(pid);
  }, 30_000);

  it('refuses a run while the last one is open, then ends it', async () => {
    expect(existsSync(ENTRY), `${ENTRY} is missing: run \`npx tsc -b\` first`).toBe(true);
    receiver = new ReceiverProcess(undefined, ENTRY);
    receiver.raw(4, () => {});
    receiver.raw(4, () => {});
    await expect(receiver.end()).rejects.toThrow(/the last run's end is still open/);
    await receiver.end();
    expect(await rawRun(receiver, 4)).toEqual(['4']);
  }, 30_000);

  it("counts what the phone's app was handed, which the sender checks against what it sent", async () => {
    expect(existsSync(ENTRY), `${ENTRY} is missing: run \`npx tsc -b\` first`).toBe(true);
    const relay = await startTestRelay();
    const sidecar = await OppieClient.create({
      relayUrl: relay.url,
      role: 'sidecar',
      name: 'bench-test-sidecar',
      platform: {
        WebSocket: WebSocket as unknown as NonNullable<NonNullable<OppieClientOptions['platform']>['WebSocket']>,
        storage: new MemoryStore(),
      },
    });
    try {
      receiver = new ReceiverProcess(undefined, ENTRY);
      await sidecar.register();
      await sidecar.connect();
      const offer = await sidecar.createPairing();
      const [phoneId] = await Promise.all([
        receiver.sdk({ url: relay.url, link: offer.link, direct: false, compression: 'zlib' }),
        offer.completed,
      ]);
      for (let i = 0; i < 3; i++) await sidecar.send('diff', { d: `message ${i}` }, { to: phoneId });
      // Another type is handed to the app too, and not counted: the runs send diffs only.
      await sidecar.send('chat', { text: 'not a diff' }, { to: phoneId });
      expect(await receiver.handed()).toBe(3);
      await receiver.end();
    } finally {
      await sidecar.close();
      await relay.close();
    }
  }, 30_000);
});
