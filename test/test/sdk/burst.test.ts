/**
 * A burst far beyond the relay's per-recipient queue: the relay drops, the SDK resends, and the resends arrive out of
 * order. The SDK's send window keeps every frame within the receiver's inbox window, so nothing stalls and nothing
 * is lost. (Without the window, frames landed beyond the inbox window, were refused unacknowledged, sat in the
 * relay's in-flight set, and the stream stopped until a reconnect.)
 */
import { describe, expect, it } from 'vitest';
import { pairedClients, perTest } from './sdk-fixture.js';

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

describe('a peer that is offline', () => {
  it('is not sent the same frames again and again while the relay holds them for it', async () => {
    const t = await env.relay();
    const { sidecar, phone } = await pairedClients(t.url);
    env.defer(() => sidecar.close());
    const gone = new Promise<void>((resolve) =>
      sidecar.events.on('peer', (p) => {
        if (p.deviceId === phone.deviceId && !p.online) resolve();
      }),
    );
    await phone.close();
    await gone;
    const sends = Array.from({ length: 20 }, (_, n) => sidecar.send('chat', { n }).catch(() => {}));
    // Longer than two retransmission rounds (3 s, then 6 s) would take for a peer thought online.
    await new Promise((r) => setTimeout(r, 7_000));
    const metrics = await (await fetch(`${t.url}/api/metrics`)).text();
    const duplicates = Number(/^oppie_relay_duplicates_total (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
    expect(duplicates).toBe(0);
    expect(sidecar.pending.entries).toBe(20);
    void sends;
  }, 30_000);
});
