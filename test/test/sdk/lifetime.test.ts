import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exponentialBackoff, type IncomingMessage, type RtcImplementation } from '@oppie/client-sdk';
import { createSidecar } from '@oppie/sidecar-sdk';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { pairedClients, sdkClient } from './sdk-fixture.js';

let t: TestRelay | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await t?.close();
  t = undefined;
});

describe('client lifetime', () => {
  it('refreshes its token on the live connection, so the relay never closes it for expiry', async () => {
    t = await startTestRelay({ tokenTtlSeconds: 5, heartbeatSeconds: 1 });
    const { sidecar, phone } = await pairedClients(t.url);
    cleanups.push(
      () => sidecar.close(),
      () => phone.close(),
    );
    const states: string[] = [];
    phone.events.on('state', (s) => states.push(s.to));
    await new Promise((r) => setTimeout(r, 7_000)); // past the first token's expiry
    expect(states).toEqual([]); // no reconnect: the auth frame moved the connection's expiry
    const got = new Promise<IncomingMessage>((resolve) => phone.events.on('progress', resolve));
    await sidecar.send('progress', { still: 'here' });
    expect((await got).payload).toEqual({ still: 'here' });
  }, 20_000);

  it('loses nothing across a sidecar daemon restart: frames only in its outbox (file storage) go out after it', async () => {
    t = await startTestRelay();
    const dataDir = mkdtempSync(join(tmpdir(), 'oppie-daemon-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await createSidecar({ relayUrl: t.url, name: 'workstation', dataDir });
    await first.connect();
    const offer = await first.createPairing();
    const phone = await sdkClient(t.url, 'pwa', 'phone', { reconnect: exponentialBackoff({ baseMs: 20, maxMs: 100 }) });
    cleanups.push(() => phone.close());
    await Promise.all([phone.pair(offer.link), offer.completed]);
    const got: number[] = [];
    phone.events.on('progress', (m) => got.push((m.payload as { n: number }).n));
    await first.send('progress', { n: 0 });

    // The daemon loses its relay connection, queues 50 messages in its outbox (files), and dies.
    await first.close();
    const offline = await createSidecar({ relayUrl: 'http://127.0.0.1:1', name: 'workstation', dataDir });
    for (let n = 1; n <= 50; n++) void offline.send('progress', { n }).catch(() => {});
    while (offline.pending.entries < 50) await new Promise((r) => setTimeout(r, 5));
    await offline.close();
    expect(got).toEqual([0]);

    // Restarted, it sends them: each exactly once, in order.
    const second = await createSidecar({ relayUrl: t.url, name: 'workstation', dataDir });
    cleanups.push(() => second.close());
    expect(second.deviceId).toBe(first.deviceId);
    expect(second.pending.entries).toBe(50);
    await second.connect();
    await second.send('progress', { n: 51 });
    expect(got).toEqual(Array.from({ length: 52 }, (_, i) => i));
    expect(second.pending.entries).toBe(0);
  }, 30_000);
});

describe('close()', () => {
  it('leaves no timer behind: open pairing offers, the direct path, retransmission and heartbeats all stop', async () => {
    t = await startTestRelay();
    const live = new Set<unknown>();
    const timers = {
      setTimeout(fn: () => void, ms: number): unknown {
        const h = setTimeout(() => {
          live.delete(h);
          fn();
        }, ms);
        live.add(h);
        return h;
      },
      clearTimeout(h: unknown): void {
        live.delete(h);
        clearTimeout(h as ReturnType<typeof setTimeout>);
      },
    };
    const rtc = createRequire(import.meta.url)('@roamhq/wrtc') as RtcImplementation;
    const { sidecar, phone } = await pairedClients(t.url, {
      sidecar: { platform: { timers, rtc } },
      phone: { platform: { timers, rtc } },
    });
    const pending = await sidecar.createPairing(); // an offer nobody claims: its expiry timer is running
    await phone.send('chat', { n: 1 });
    // The data channel up too: its heartbeat and the path reports run on timers as well.
    const deadline = Date.now() + 15_000;
    while (phone.pathTo(sidecar.deviceId) !== 'direct' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(phone.pathTo(sidecar.deviceId)).toBe('direct');
    expect(live.size).toBeGreaterThan(0);
    await Promise.all([sidecar.close(), phone.close()]);
    await expect(pending.completed).rejects.toMatchObject({ code: 'OPPIE_ERR_CLOSED' });
    await new Promise((r) => setTimeout(r, 50)); // callbacks already queued run and must not re-arm
    expect(live.size).toBe(0);
  });
});
