import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, OppieClient } from '@oppie/client-sdk';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpcBridge } from '../src/ipc-bridge.js';
import { NodeWebSocket } from '../src/node-platform.js';
import { createSidecar } from '../src/sidecar.js';

let relay: TestRelay;
let dir: string;
const cleanup: Array<() => Promise<void>> = [];

beforeEach(async () => {
  relay = await startTestRelay();
  dir = await mkdtemp(join(tmpdir(), 'oppie-e2e-'));
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await relay.close();
  await rm(dir, { recursive: true, force: true });
});

describe('sidecar bridge end to end (real relay, real pairing, real Unix socket)', () => {
  it('carries lines from a local process to the phone and the phone messages back', async () => {
    const sidecar = await createSidecar({ relayUrl: relay.url, name: 'workstation', dataDir: join(dir, 'data') });
    cleanup.push(() => sidecar.close());
    await sidecar.connect();
    const offer = await sidecar.createPairing();
    const phone = await OppieClient.create({
      relayUrl: relay.url,
      role: 'pwa',
      name: 'phone',
      platform: { WebSocket: NodeWebSocket, storage: new MemoryStore() },
    });
    cleanup.push(() => phone.close());
    const [phoneSide, sidecarSide] = await Promise.all([phone.pair(offer.link), offer.completed]);
    expect(phoneSide.sas).toBe(sidecarSide.sas);

    const path = join(dir, 'ipc.sock');
    const bridge = new IpcBridge({ path, client: sidecar });
    cleanup.push(() => bridge.close());
    await bridge.listen();
    const socket = connect(path);
    cleanup.push(async () => void socket.destroy());
    let lines = '';
    socket.on('data', (d) => {
      lines += d.toString();
    });

    const progress = new Promise((resolve) => phone.events.on('progress', (m) => resolve(m.payload)));
    socket.write('{"id":"local-1","type":"progress","payload":{"pct":42}}\n');
    expect(await progress).toEqual({ pct: 42 });
    await expect.poll(() => lines).toBe('{"ok":true,"id":"local-1"}\n');

    await phone.send('runPlan', { plan: 'refactor' });
    await expect.poll(() => lines.split('\n').filter(Boolean).length).toBe(2);
    const event = JSON.parse(lines.split('\n')[1]!) as Record<string, unknown>;
    expect(event).toMatchObject({
      event: 'message',
      type: 'runPlan',
      from: phone.deviceId,
      payload: { plan: 'refactor' },
    });
    expect(typeof event.id).toBe('string');
  });
});
