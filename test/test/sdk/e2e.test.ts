import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { APPLICATION_TYPES, type IncomingMessage, nodeCompression, type OppieClientOptions } from '@oppie/client-sdk';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { pairedClients, perTest, sdkClient } from './sdk-fixture.js';

const env = perTest();

describe('SDK end to end through the relay', () => {
  it('pairs with matching short authentication strings and exchanges all six types both ways', async () => {
    const t = await env.relay();
    const { sidecar, phone, phoneSide, sidecarSide } = await pairedClients(t.url);
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    expect(phoneSide.sas).toMatch(/^\d{6}$/);
    expect(phoneSide.sas).toBe(sidecarSide.sas);
    expect(phone.peers().map((p) => p.deviceId)).toEqual([sidecar.deviceId]);
    expect(sidecar.peers().map((p) => p.deviceId)).toEqual([phone.deviceId]);

    const atSidecar: IncomingMessage[] = [];
    const atPhone: IncomingMessage[] = [];
    sidecar.events.on('message', (m) => atSidecar.push(m));
    phone.events.on('message', (m) => atPhone.push(m));
    for (const type of APPLICATION_TYPES) {
      await phone.send(type, { from: 'phone', type });
      await sidecar.send(type, { from: 'sidecar', type });
    }
    expect(atSidecar.map((m) => [m.type, m.payload])).toEqual(
      APPLICATION_TYPES.map((type) => [type, { from: 'phone', type }]),
    );
    expect(atPhone.map((m) => [m.type, m.payload])).toEqual(
      APPLICATION_TYPES.map((type) => [type, { from: 'sidecar', type }]),
    );
    expect(atSidecar.every((m) => m.from === phone.deviceId)).toBe(true);
  });

  it('carries a 5 MiB diff in chunks and reassembles it', async () => {
    const t = await env.relay();
    const { sidecar, phone } = await pairedClients(t.url);
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    const lines = Array.from({ length: 90_000 }, (_, i) => `+ line ${i}: ${'x'.repeat((i * 7) % 80)} ${i * 31}`);
    const diff = lines.join('\n').slice(0, 5 * 1024 * 1024);
    expect(diff.length).toBe(5 * 1024 * 1024);
    const got = new Promise<IncomingMessage>((resolve) => phone.events.on('diff', resolve));
    const sent: number[] = [];
    const received: number[] = [];
    sidecar.events.on('transfer', (p) => sent.push(p.done / p.total));
    phone.events.on('transfer', (p) => received.push(p.done / p.total));
    await sidecar.send('diff', { file: 'big.ts', diff });
    const m = await got;
    expect((m.payload as { diff: string }).diff).toBe(diff);
    // Progress both ways, ending at 100%.
    expect(sent.at(-1)).toBe(1);
    expect(received.at(-1)).toBe(1);
    expect(received.length).toBeGreaterThan(1);
  }, 60_000);

  it('packs chunks as bytes: every relay frame of a large incompressible payload base64url-encodes its chunk once', async () => {
    const t = await env.relay();
    const diffFrames: number[] = [];
    /** The sidecar's socket, counting the bytes of each routed diff frame it sends. */
    class CountingSocket extends WebSocket {
      override send(data: unknown, ...rest: unknown[]): void {
        const text = String(data);
        if (text.includes('"type":"diff"')) diffFrames.push(Buffer.byteLength(text));
        (super.send as (...a: unknown[]) => void)(data, ...rest);
      }
    }
    type Platform = NonNullable<OppieClientOptions['platform']>;
    const { sidecar, phone } = await pairedClients(t.url, {
      sidecar: {
        platform: {
          WebSocket: CountingSocket as unknown as Platform['WebSocket'],
          compression: nodeCompression(zlib),
        } as Platform,
      },
    });
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    // base64 of random bytes: deflate keeps ~75% (Huffman only), so ~225 KiB travel in four chunks of 62 KiB.
    const blob = randomBytes(225 * 1024).toString('base64');
    const got = new Promise<IncomingMessage>((resolve) => phone.events.on('diff', resolve));
    await sidecar.send('diff', { blob });
    expect(((await got).payload as { blob: string }).blob).toBe(blob);
    expect(diffFrames.length).toBe(4);
    // A full chunk (63,554 sealed bytes: 84,739 as base64url) fills its frame; base64url of base64url would be ~113 KB.
    for (const bytes of diffFrames.slice(0, -1)) {
      expect(bytes).toBeGreaterThan(84_739);
      expect(bytes).toBeLessThan(86_000);
    }
  });

  it('keeps send order for large and small messages sent at once, across compression backends', async () => {
    const t = await env.relay();
    // The sidecar compresses with zlib (as sidecar-sdk's platform does), the phone with the Web streams, and the
    // other way round: each inflates what the other deflated.
    let zlibDeflates = 0;
    let active = 0;
    let maxActive = 0;
    const node = nodeCompression(zlib);
    const counting = {
      deflateRaw: async (b: Uint8Array) => {
        zlibDeflates += 1;
        maxActive = Math.max(maxActive, ++active);
        try {
          return await node.deflateRaw(b);
        } finally {
          active -= 1;
        }
      },
      inflateRaw: node.inflateRaw,
    };
    const { sidecar, phone } = await pairedClients(t.url, { sidecar: { platform: { compression: counting } } });
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    // Large messages take longer to prepare (compression) than the small ones sent right after them: the order the
    // app called send() in must still be the order of delivery.
    const payloads = Array.from({ length: 12 }, (_, i) =>
      i % 2 === 0 ? { i, diff: `+ line of message ${i}\n`.repeat(9000 + i * 1000) } : { i },
    );
    for (const [from, to] of [
      [sidecar, phone],
      [phone, sidecar],
    ] as const) {
      const got: unknown[] = [];
      const all = new Promise<void>((resolve) =>
        to.events.on('diff', (m) => {
          got.push(m.payload);
          if (got.length === payloads.length) resolve();
        }),
      );
      await Promise.all(payloads.map((p) => from.send('diff', p)));
      await all;
      expect(got).toEqual(payloads);
    }
    expect(zlibDeflates).toBe(6);
    // Six large messages sent at once: four compress at a time (PREPARE_AHEAD), the others wait for a slot.
    expect(maxActive).toBe(4);
  }, 60_000);

  it('paces receipts in a stream (one per 16 frames or per interval) and acknowledges a lone message at once', async () => {
    const t = await env.relay();
    const intervalMs = 1_000;
    const { sidecar, phone } = await pairedClients(t.url, { phone: { receipts: { intervalMs, every: 16 } } });
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    const receiptsIn = async () => {
      const text = await (await fetch(`${t.url}/api/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => /^oppie_relay_envelopes_total\{type="receipt",direction="in"\}/.test(l));
      return Number(line?.split(' ')[1] ?? 0);
    };
    const sendAll = (from: number, count: number) =>
      Promise.all(Array.from({ length: count }, (_, i) => sidecar.send('progress', { n: from + i })));
    const got: number[] = [];
    phone.events.on('progress', (m) => got.push((m.payload as { n: number }).n));
    // After a pause (none has gone yet), a lone message's receipt goes at the next turn, not after the interval.
    const lone = performance.now();
    await sendAll(0, 1);
    expect(performance.now() - lone).toBeLessThan(intervalMs * 0.8);
    await new Promise((r) => setTimeout(r, intervalMs + 100));

    // A stream: one receipt after the pause, one per 16 frames (or more, when frames arrive in bursts), and one per
    // interval for the frames in between. Per turn, as without pacing, it would be one per frame or burst (~280 here).
    const before = await receiptsIn();
    const t0 = performance.now();
    await sendAll(1, 400);
    const seconds = (performance.now() - t0) / 1000;
    const forStream = (await receiptsIn()) - before;
    expect(forStream).toBeGreaterThan(2);
    expect(forStream).toBeLessThanOrEqual(1 + 400 / 16 + Math.ceil(seconds / (intervalMs / 1000)) + 1);

    // Right after a round went, fewer than 16 frames wait out the rest of the interval.
    const tail = performance.now();
    await sendAll(401, 15);
    expect(performance.now() - tail).toBeGreaterThanOrEqual(intervalMs * 0.6);
    expect(got).toEqual(Array.from({ length: 416 }, (_, n) => n));
  }, 60_000);

  it('refuses receipt options out of range with a RangeError', async () => {
    const t = await env.relay();
    for (const receipts of [
      { intervalMs: -1 },
      { intervalMs: 1.5 },
      { intervalMs: 60_001 },
      { every: 0 },
      { every: 2.5 },
    ]) {
      await expect(sdkClient(t.url, 'pwa', 'phone', { receipts })).rejects.toThrow(RangeError);
    }
  });

  it('refuses a lowGainCompression that is not auto, always or never with a RangeError', async () => {
    const t = await env.relay();
    for (const lowGainCompression of ['sometimes', '', 'AUTO']) {
      const err: unknown = await sdkClient(t.url, 'pwa', 'phone', {
        lowGainCompression: lowGainCompression as 'auto',
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toBe(
        `lowGainCompression must be one of auto, always, never, got ${lowGainCompression}`,
      );
    }
    const ok = await sdkClient(t.url, 'pwa', 'phone', { lowGainCompression: 'always' });
    await ok.close();
  });

  it('keeps delivering when an application listener throws, and reports it', async () => {
    const t = await env.relay();
    const { sidecar, phone } = await pairedClients(t.url);
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    const got: number[] = [];
    const errors: string[] = [];
    phone.events.on('error', (e) => errors.push(e.code));
    phone.events.on('progress', (m) => {
      const n = (m.payload as { n: number }).n;
      got.push(n);
      if (n === 1) throw new Error('app bug');
    });
    for (let n = 0; n < 5; n++) await sidecar.send('progress', { n });
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(errors).toContain('OPPIE_ERR_PROTOCOL');
  });
});
