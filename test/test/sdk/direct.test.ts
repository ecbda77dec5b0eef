/**
 * The direct path between two Node clients on loopback, with real WebRTC (@roamhq/wrtc): the upgrade, what the
 * relay's metrics say about it, and the handover back to the relay and up again in the middle of two streams.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { APPLICATION_TYPES, type IncomingMessage, type OppieClient, type RtcImplementation } from '@oppie/client-sdk';
import { describe, expect, it } from 'vitest';
import { pairedClients, perTest, until } from './sdk-fixture.js';

const rtc = createRequire(import.meta.url)('@roamhq/wrtc') as RtcImplementation;

const env = perTest();

async function directPair(relayUrl: string) {
  const both = await pairedClients(relayUrl, { sidecar: { platform: { rtc } }, phone: { platform: { rtc } } });
  env.defer(
    () => both.sidecar.close(),
    () => both.phone.close(),
  );
  return both;
}

/** Application frames and receipts the relay has taken in from devices so far. */
async function appEnvelopesAtRelay(url: string): Promise<number> {
  const text = await (await fetch(`${url}/api/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^oppie_relay_envelopes_total\{type="(\w+)",direction="in"\} (\d+)/gm)) {
    if ((APPLICATION_TYPES as readonly string[]).includes(m[1] as string) || m[1] === 'receipt') sum += Number(m[2]);
  }
  return sum;
}

const paths = (c: OppieClient) => {
  const log: string[] = [];
  c.events.on('path', (e) => log.push(e.path));
  return log;
};

describe('direct path on loopback (real WebRTC)', () => {
  it('upgrades both sides to direct, carries all six types on it, and the relay reports it', async () => {
    const t = await env.relay();
    const { sidecar, phone } = await directPair(t.url);
    await until('both sides on the direct path', 15_000, () =>
      sidecar.pathTo(phone.deviceId) === 'direct' && phone.pathTo(sidecar.deviceId) === 'direct' ? true : undefined,
    );
    const atSidecar: IncomingMessage[] = [];
    const atPhone: IncomingMessage[] = [];
    sidecar.events.on('message', (m) => atSidecar.push(m));
    phone.events.on('message', (m) => atPhone.push(m));
    const relayedBefore = await appEnvelopesAtRelay(t.url);
    for (const type of APPLICATION_TYPES) {
      await phone.send(type, { from: 'phone', type });
      await sidecar.send(type, { from: 'sidecar', type });
    }
    expect(atSidecar.map((m) => m.type)).toEqual([...APPLICATION_TYPES]);
    expect(atPhone.map((m) => m.type)).toEqual([...APPLICATION_TYPES]);
    expect(sidecar.pathTo(phone.deviceId)).toBe('direct');
    // Nothing of it crossed the relay: the channel carried the frames and their receipts.
    expect(await appEnvelopesAtRelay(t.url)).toBe(relayedBefore);

    const metrics = await (await fetch(`${t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_transport_reports_total\{path="direct",outcome="upgraded"\} 1\b/);
    expect(metrics).toMatch(/oppie_relay_sessions_by_path\{path="direct"\} 1\b/);
    expect(metrics).toMatch(/oppie_relay_fallback_ratio 0\b/);
  });

  it('tells a new relay connection the path of a channel that outlived the old one', async () => {
    const relay = await env.relay();
    const { sidecar, phone } = await directPair(relay.url);
    await until('both sides on the direct path', 15_000, () =>
      sidecar.pathTo(phone.deviceId) === 'direct' && phone.pathTo(sidecar.deviceId) === 'direct' ? true : undefined,
    );
    const sessionsOnDirect = async () =>
      /^oppie_relay_sessions_by_path\{path="direct"\} 1$/m.test(await (await fetch(`${relay.url}/api/metrics`)).text());
    expect(await sessionsOnDirect()).toBe(true);
    // Both relay sockets drop; the data channel does not notice (its heartbeats run on the channel itself).
    const welcomes = [sidecar, phone].map(
      (c) =>
        new Promise<void>((resolve) =>
          c.events.on('state', (e) => {
            if (e.to === 'open') resolve();
          }),
        ),
    );
    for (const id of [sidecar.deviceId, phone.deviceId]) relay.relay.hub.get(id)?.terminate(4000);
    await Promise.all(welcomes);
    expect(sidecar.pathTo(phone.deviceId)).toBe('direct');
    // Well before the next periodic report (30 s), the relay counts the session as direct again.
    let onDirect = false;
    for (let i = 0; i < 50 && !onDirect; i++) {
      onDirect = await sessionsOnDirect();
      if (!onDirect) await new Promise((r) => setTimeout(r, 100));
    }
    expect(onDirect).toBe(true);
  });
});

describe('what the data channel carries', () => {
  it('sends sealed frames as binary messages: a chunk of a large payload below 64 KiB (80 with a folded tail), a third smaller than text', async () => {
    const proto = (rtc as unknown as { RTCDataChannel: { prototype: { send(d: unknown): void } } }).RTCDataChannel
      .prototype;
    const original = proto.send;
    const sent: Array<{ binary: boolean; kind: number | string; bytes: number }> = [];
    proto.send = function (this: unknown, d: unknown) {
      if (d instanceof Uint8Array) sent.push({ binary: true, kind: d[0] as number, bytes: d.byteLength });
      else sent.push({ binary: false, kind: String(d).slice(0, 9), bytes: String(d).length });
      original.call(this, d);
    };
    env.defer(async () => {
      proto.send = original;
    });
    const t = await env.relay();
    const { sidecar, phone } = await directPair(t.url);
    const lan: boolean[] = [];
    sidecar.events.on('path', (e) => {
      if (e.path === 'direct') lan.push(e.lan === true);
    });
    await until('the direct path', 15_000, () => (sidecar.pathTo(phone.deviceId) === 'direct' ? true : undefined));
    // Both ends on this machine: a local network whenever the pair is on a local address (loopback, ULA, private).
    expect(lan).toHaveLength(1);
    sent.length = 0;
    const blob = randomBytes(150 * 1024).toString('base64');
    const got = new Promise<IncomingMessage>((resolve) => phone.events.on('diff', resolve));
    await sidecar.send('diff', { blob });
    expect(((await got).payload as { blob: string }).blob).toBe(blob);
    expect(sidecar.pathTo(phone.deviceId)).toBe('direct');
    // Every envelope (chunks, the receipt) went binary; no text envelope is left on the channel. A receipt may go in a
    // batch (kind 2) with the receiver's credit, which may also go alone (kind 3).
    const envelopes = sent.filter((m) => m.binary);
    expect(envelopes.every((m) => m.kind === 1 || (m.bytes < 1_000 && (m.kind === 2 || m.kind === 3)))).toBe(true);
    expect(sent.filter((m) => !m.binary && m.kind === '{"k":"e",')).toEqual([]);
    // The peer reads packed chunks: the string goes as its 150 KiB of bytes (its 200 KiB of JSON, undeflated within a
    // local network, would be three chunks of which the last above 64 KiB). Deflate finds nothing in random bytes on
    // any path: chunks of 63,488 bytes, and the last 26,652 (too long to ride in the second).
    const chunks = envelopes.filter((m) => m.bytes > 1_000);
    expect(chunks.length).toBe(3);
    expect(chunks.every((m) => m.kind === 1)).toBe(true);
    for (const c of chunks.slice(0, -1)) {
      expect(c.bytes).toBeGreaterThan(63_554); // the sealed chunk and the envelope's head
      expect(c.bytes).toBeLessThanOrEqual(65_536); // one data-channel message below 64 KiB (as base64url: ~85 KB)
    }
    const last = (chunks.at(-1) as { bytes: number }).bytes;
    expect(last).toBeGreaterThan(26_652 + 66);
    expect(last).toBeLessThan(26_652 + 66 + 1_000);
  });
});

describe('batches on the data channel', () => {
  type Legacy = 'none' | 'both' | 'first' | 'no-credit';
  interface Sent {
    channel: number;
    kind: number | string;
    items: number;
    bytes: number;
    /** Binary credits in the message: alone, or items of a batch. */
    credits: number;
  }
  /**
   * Every data-channel message sent, by channel (numbered in the order they first send) with the envelopes a batch
   * holds. `legacy` strips feature bits from the pings and pongs of both ends, or of the first channel only, as an
   * SDK from before 2026-12-01 would send them; `no-credit` strips only the binary-credit bit (value 4) at both ends,
   * as an SDK from 2026-12-01 to 2026-12-02 sends them.
   */
  function recordChannel(legacy: Legacy) {
    const proto = (rtc as unknown as { RTCDataChannel: { prototype: { send(d: unknown): void } } }).RTCDataChannel
      .prototype;
    const original = proto.send;
    const channels: unknown[] = [];
    const sent: Sent[] = [];
    proto.send = function (this: unknown, d: unknown) {
      if (!channels.includes(this)) channels.push(this);
      const channel = channels.indexOf(this);
      if (d instanceof Uint8Array) {
        let items = 1;
        let credits = d[0] === 3 ? 1 : 0;
        if (d[0] === 2) {
          const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
          items = 0;
          for (let at = 1; at < d.byteLength; at += 4 + view.getUint32(at)) {
            if (d[at + 4] === 3) credits += 1;
            else items += 1;
          }
        }
        sent.push({ channel, kind: d[0] as number, items: d[0] === 3 ? 0 : items, bytes: d.byteLength, credits });
        original.call(this, d);
        return;
      }
      let text = String(d);
      sent.push({ channel, kind: text.slice(0, 9), items: 0, bytes: text.length, credits: 0 });
      const strip = legacy === 'both' || (legacy === 'first' && channel === 0);
      if (legacy === 'no-credit') text = text.replace(/,"f":(\d+)/, (_, f) => `,"f":${Number(f) & ~4}`);
      original.call(this, strip ? text.replace(/,"f":\d+/, '') : text);
    };
    env.defer(async () => {
      proto.send = original;
    });
    return { sent, channels, inject: (channel: number, d: unknown) => original.call(channels[channel], d) };
  }

  async function directUp(legacy: Legacy) {
    const rec = recordChannel(legacy);
    const t = await env.relay();
    const { sidecar, phone } = await directPair(t.url);
    await until('the direct path', 15_000, () =>
      sidecar.pathTo(phone.deviceId) === 'direct' && phone.pathTo(sidecar.deviceId) === 'direct' ? true : undefined,
    );
    rec.sent.length = 0;
    return { ...rec, sidecar, phone };
  }

  /** 40 messages from `from` to `to` at once; they must arrive in order. */
  async function burst(from: OppieClient, to: OppieClient) {
    const got: number[] = [];
    const N = 40;
    to.events.on('chat', (m) => got.push((m.payload as { n: number }).n));
    await Promise.all(Array.from({ length: N }, (_, n) => from.send('chat', { n, text: 'x'.repeat(500) })));
    expect(got).toEqual(Array.from({ length: N }, (_, n) => n));
    return N;
  }

  const binaryOf = (sent: Sent[], channel?: number) =>
    sent.filter((m) => typeof m.kind === 'number' && (channel === undefined || m.channel === channel));
  const envelopesIn = (msgs: Sent[]) => msgs.reduce((n, m) => n + m.items, 0);

  it('sends the frames written in one turn as one batch message, and the peer takes each frame out of it', async () => {
    const { sent, sidecar, phone } = await directUp('none');
    const N = await burst(sidecar, phone);
    expect(sidecar.pathTo(phone.deviceId)).toBe('direct');
    const binary = binaryOf(sent);
    expect(binary.some((m) => m.kind === 2 && m.items > 1)).toBe(true);
    expect(envelopesIn(binary)).toBeGreaterThanOrEqual(N); // the frames and at least one receipt
    expect(binary.length).toBeLessThan(envelopesIn(binary) / 2);
  });

  it('sends no batch to a peer whose pings and pongs do not say it reads them', async () => {
    const { sent, sidecar, phone } = await directUp('both');
    const N = await burst(sidecar, phone);
    expect(binaryOf(sent).every((m) => m.kind === 1)).toBe(true);
    expect(envelopesIn(binaryOf(sent))).toBeGreaterThanOrEqual(N);
  });

  it('decides per direction: the end that heard the bit batches, the other sends one envelope per message', async () => {
    const { sent, sidecar, phone } = await directUp('first');
    await Promise.all([burst(sidecar, phone), burst(phone, sidecar)]);
    // Channel 0's pings carried no bit: its peer (channel 1) never batches to it; channel 0 heard channel 1's bit.
    expect(binaryOf(sent, 1).every((m) => m.kind === 1)).toBe(true);
    expect(binaryOf(sent, 0).some((m) => m.kind === 2)).toBe(true);
  });

  it('carries base64 as its bytes only to a peer whose pings and pongs say it reads packed chunks', async () => {
    for (const legacy of ['none', 'both'] as const) {
      const { sent, sidecar, phone } = await directUp(legacy);
      const blob = randomBytes(96 * 1024).toString('base64url');
      const got = new Promise<IncomingMessage>((resolve) => phone.events.on('diff', resolve));
      await sidecar.send('diff', { blob, note: 'ünïcode' });
      expect(await got).toMatchObject({ payload: { blob, note: 'ünïcode' } });
      // Both ends on loopback, a local network: the 128 KiB of JSON goes undeflated to the peer that did not say it
      // reads packed chunks, and as its 96 KiB of bytes to the one that did (receipts add a few hundred bytes).
      const bytes = binaryOf(sent).reduce((n, m) => n + m.bytes, 0);
      if (legacy === 'both') expect(bytes).toBeGreaterThan(128 * 1024);
      else expect(bytes).toBeLessThan(97 * 1024);
      expect(sidecar.pathTo(phone.deviceId)).toBe('direct');
    }
  });

  it('sends credits in binary, with the receipts, to a peer that reads them, and as text to one that does not', async () => {
    for (const legacy of ['none', 'no-credit'] as const) {
      const { sent, sidecar, phone } = await directUp(legacy);
      // 120 frames of ~41 KiB that nothing shrinks (~4.9 MB): at most 18 credits by the quarter-window rule alone.
      const blobs = Array.from({ length: 120 }, () => randomBytes(30 * 1024).toString('base64'));
      const got: string[] = [];
      phone.events.on('diff', (m) => got.push((m.payload as { blob: string }).blob));
      await Promise.all(blobs.map((blob) => sidecar.send('diff', { blob })));
      expect(got).toEqual(blobs);
      const textCredits = sent.filter((m) => m.kind === '{"k":"cre').length;
      const binaryCredits = sent.reduce((n, m) => n + m.credits, 0);
      if (legacy === 'none') {
        expect(textCredits).toBe(0);
        // They ride with the receipts: more than the 18 the quarter-window rule alone can give (30-52 in quiet runs
        // here, 17 without the ride; 23 once with a second test run loading the machine, as receipts then cover more
        // frames each)...
        expect(binaryCredits).toBeGreaterThan(18);
        // ...and seldom go as a message of their own (0-1 here; 6-14 of 17 without the ride).
        expect(sent.filter((m) => m.kind === 3).length).toBeLessThan(binaryCredits / 4);
      } else {
        expect(binaryCredits).toBe(0);
        expect(textCredits).toBeGreaterThanOrEqual(5);
      }
      expect(sidecar.pathTo(phone.deviceId)).toBe('direct');
    }
  });

  it('refuses a malformed batch with OPPIE_ERR_PROTOCOL and goes on using the channel', async () => {
    const { inject, sidecar, phone } = await directUp('none');
    await burst(sidecar, phone); // both channels have sent something by now
    const errors: Array<{ code: string; message: string }> = [];
    for (const c of [sidecar, phone]) c.events.on('error', (e) => errors.push({ code: e.code, message: e.message }));
    // Lengths past the end, then a batch holding a JSON text: each refused whole.
    inject(0, Uint8Array.of(2, 0, 0, 0, 9, 1, 1));
    inject(0, Uint8Array.of(2, 0, 0, 0, 2, 0x7b, 0x7d));
    await until('both refusals', 5_000, () => (errors.length >= 2 ? true : undefined));
    expect(errors.map((e) => e.code)).toEqual(['OPPIE_ERR_PROTOCOL', 'OPPIE_ERR_PROTOCOL']);
    expect(errors.every((e) => e.message.includes('batch'))).toBe(true);
    await burst(phone, sidecar);
    await burst(sidecar, phone);
    expect(sidecar.pathTo(phone.deviceId)).toBe('direct');
    expect(phone.pathTo(sidecar.deviceId)).toBe('direct');
  });
});

describe('handover between the data channel and the relay', () => {
  it('kills the channel in the middle of 10,000 numbered messages each way: all arrive once, in order', async () => {
    const t = await env.relay({ envelopesPerSecond: 2_000 });
    const { sidecar, phone } = await directPair(t.url);
    const sidecarPaths = paths(sidecar);
    const phonePaths = paths(phone);
    await until('the direct path', 15_000, () => (phone.pathTo(sidecar.deviceId) === 'direct' ? true : undefined));
    const N = 10_000;
    const got = { sidecar: [] as number[], phone: [] as number[] };
    sidecar.events.on('chat', (m) => got.sidecar.push((m.payload as { n: number }).n));
    phone.events.on('chat', (m) => got.phone.push((m.payload as { n: number }).n));
    const peerOf = (c: OppieClient) => (c === phone ? sidecar.deviceId : phone.deviceId);
    const sendAll = async (c: OppieClient) => {
      const sends: Promise<void>[] = [];
      for (let n = 0; n < N; n++) {
        sends.push(c.send('chat', { n }));
        // Let the event loop breathe so frames flow while the stream is being produced.
        if (n % 200 === 199) await new Promise((r) => setTimeout(r, 5));
        if (n === 3_000 && c === phone) phone.resetPath(sidecar.deviceId);
        // The last part goes after the channel is back, so the stream spans both switches whatever the timing.
        if (n === 7_000)
          await until('the direct path again', 30_000, () => (c.pathTo(peerOf(c)) === 'direct' ? true : undefined));
      }
      await Promise.all(sends);
    };
    const state = () =>
      JSON.stringify({
        sidecarGot: got.sidecar.length,
        phoneGot: got.phone.length,
        sidecarPending: sidecar.pending,
        phonePending: phone.pending,
        sidecarPaths,
        phonePaths,
      });
    await Promise.race([
      Promise.all([sendAll(sidecar), sendAll(phone)]),
      until('every send settled', 60_000, () => undefined).catch((err: Error) => {
        throw new Error(`${err.message}: ${state()}`);
      }),
    ]);
    await until('every message at both ends', 60_000, () =>
      got.sidecar.length >= N && got.phone.length >= N ? true : undefined,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${state()}`);
    });
    const expected = Array.from({ length: N }, (_, i) => i);
    expect(got.sidecar).toEqual(expected);
    expect(got.phone).toEqual(expected);
    // Fell back to the relay mid-stream, then upgraded again.
    expect(phonePaths.slice(0, 3)).toEqual(['direct', 'relay', 'direct']);
    expect(sidecarPaths.slice(0, 3)).toEqual(['direct', 'relay', 'direct']);
    expect(phone.pending.entries).toBe(0);
    expect(sidecar.pending.entries).toBe(0);
  }, 120_000);
});
