/**
 * A burst far beyond the relay's per-recipient queue: the relay drops, the SDK resends, and the resends arrive out of
 * order. The SDK's send window keeps every frame within the receiver's inbox window, so nothing stalls and nothing
 * is lost. (Without the window, frames landed beyond the inbox window, were refused unacknowledged, sat in the
 * relay's in-flight set, and the stream stopped until a reconnect.)
 */

import { MemoryStore, type OppieClient } from '@oppie/client-sdk';
import { describe, expect, it } from 'vitest';
import { pairedClients, perTest, sdkClient, tappedSocket } from './sdk-fixture.js';

const env = perTest();

describe('a burst beyond the relay limits', () => {
  it('delivers 1,500 messages sent at once each way through a 100-envelope queue, exactly once and in order', async () => {
    const t = await env.relay({
      queueMaxCount: 100,
      inflightMaxCount: 50,
      envelopesPerSecond: 20_000,
      envelopeBurst: 20_000,
    });
    const { sidecar, phone } = await pairedClients(t.url);
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    const N = 1_500;
    const got = { sidecar: [] as number[], phone: [] as number[] };
    const errors: string[] = [];
    sidecar.events.on('chat', (m) => got.sidecar.push((m.payload as { n: number }).n));
    phone.events.on('chat', (m) => got.phone.push((m.payload as { n: number }).n));
    sidecar.events.on('error', (e) => errors.push(e.message));
    phone.events.on('error', (e) => errors.push(e.message));
    const all = (c: typeof sidecar) => Promise.all(Array.from({ length: N }, (_, n) => c.send('chat', { n })));
    await Promise.all([all(sidecar), all(phone)]);
    const expected = Array.from({ length: N }, (_, i) => i);
    expect(got.sidecar).toEqual(expected);
    expect(got.phone).toEqual(expected);
    expect(errors).toEqual([]);
    // The relay did drop: the burst really went beyond its queue.
    const metrics = await (await fetch(`${t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_queue_drops_total\{reason="queue_full"\} [1-9]/);
  }, 120_000);
});

/** Closes `phone` and waits until `sidecar` has heard it went offline. */
async function goOffline(sidecar: OppieClient, phone: OppieClient): Promise<void> {
  const gone = new Promise<void>((resolve) =>
    sidecar.events.on('peer', (p) => {
      if (p.deviceId === phone.deviceId && !p.online) resolve();
    }),
  );
  await phone.close();
  await gone;
}

describe('a peer that is offline', () => {
  it('is not sent the same frames again and again while the relay holds them for it', async () => {
    const t = await env.relay();
    const { sidecar, phone } = await pairedClients(t.url);
    env.defer(() => sidecar.close());
    await goOffline(sidecar, phone);
    const sends = Array.from({ length: 20 }, (_, n) => sidecar.send('chat', { n }).catch(() => {}));
    // Longer than two retransmission rounds (3 s, then 6 s) would take for a peer thought online.
    await new Promise((r) => setTimeout(r, 7_000));
    const metrics = await (await fetch(`${t.url}/api/metrics`)).text();
    const duplicates = Number(/^oppie_relay_duplicates_total (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
    expect(duplicates).toBe(0);
    expect(sidecar.pending.entries).toBe(20);
    void sends;
  }, 30_000);

  it('backs off resending what its full relay queue dropped, and gets everything once it is back', async () => {
    const t = await env.relay({ queueMaxCount: 5, inflightMaxCount: 1 });
    const phoneStore = new MemoryStore();
    const chatsAt: number[] = []; // when the sidecar put a chat on its socket
    const out = (data: string) => {
      if (data.startsWith('{"type":"chat"')) chatsAt.push(Date.now());
    };
    const { sidecar, phone } = await pairedClients(t.url, {
      phoneStore,
      sidecar: { platform: { WebSocket: tappedSocket({ out }) } },
    });
    env.defer(() => sidecar.close());
    await goOffline(sidecar, phone);
    const N = 20;
    const t0 = Date.now();
    const sends = Array.from({ length: N }, (_, n) => sidecar.send('chat', { n }));
    // Each resend into the full queue evicts a frame, whose notice brings the next resend. Rounds of resends a second
    // apart would make 7 in 8 s; with the wait doubling (1, 2, 4 s) they start at about 1, 3 and 7 s.
    await new Promise((r) => setTimeout(r, 8_000));
    const rounds: number[] = []; // start of each burst of chats after the first, ms after t0
    chatsAt.forEach((at, i) => {
      if (i > 0 && at - (chatsAt[i - 1] as number) > 500) rounds.push(at - t0);
    });
    const metrics = await (await fetch(`${t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_queue_drops_total\{reason="queue_full"\} [1-9]/); // it did overflow
    expect(rounds.length, `resend rounds at ${rounds.join(', ')} ms`).toBeGreaterThanOrEqual(2);
    expect(rounds.length, `resend rounds at ${rounds.join(', ')} ms`).toBeLessThanOrEqual(4);
    // Back: the phone gets every message, once, in order.
    const back = await sdkClient(t.url, 'pwa', 'phone', { storage: phoneStore });
    env.defer(() => back.close());
    const got: number[] = [];
    back.events.on('chat', (m) => got.push((m.payload as { n: number }).n));
    await back.connect();
    await Promise.all(sends);
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i));
  }, 60_000);
});
