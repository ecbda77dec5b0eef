import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exponentialBackoff, type IncomingMessage, MemoryStore } from '@oppie/client-sdk';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { pairedClients, sdkClient } from './sdk-fixture.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('relay restart mid-stream', () => {
  it('loses nothing when the relay restarts with its in-memory queue gone: the outboxes resend', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'oppie-restart-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const overrides = { port, shutdownGraceSeconds: 0, upgradesPerIpPerSecond: 1000 };
    let relay: TestRelay = await startTestRelay(overrides, { dataDir });
    cleanups.push(() => relay.close());
    const sidecarStore = new MemoryStore();
    const phoneStore = new MemoryStore();
    const first = await pairedClients(relay.url, { sidecarStore, phoneStore });
    await first.sidecar.close();
    await first.phone.close();

    const policy = exponentialBackoff({ baseMs: 20, maxMs: 200 });
    const sidecar = await sdkClient(relay.url, 'sidecar', 'ws', { storage: sidecarStore, reconnect: policy });
    const phone = await sdkClient(relay.url, 'pwa', 'phone', { storage: phoneStore, reconnect: policy });
    cleanups.push(
      () => sidecar.close(),
      () => phone.close(),
    );
    const got: number[] = [];
    phone.events.on('progress', (m: IncomingMessage) => got.push((m.payload as { n: number }).n));
    await Promise.all([sidecar.connect(), phone.connect()]);

    const N = 300;
    const sends: Promise<void>[] = [];
    for (let n = 0; n < 150; n++) sends.push(sidecar.send('progress', { n }));
    while (got.length < 50) await new Promise((r) => setTimeout(r, 5));
    // Mid-stream: the relay goes away (its queue with it) and comes back on the same port and data directory.
    await relay.close();
    expect(got.length).toBeLessThan(N);
    relay = await startTestRelay(overrides, { dataDir });
    for (let n = 150; n < N; n++) sends.push(sidecar.send('progress', { n }));
    await Promise.all(sends);
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i));
  }, 60_000);
});
