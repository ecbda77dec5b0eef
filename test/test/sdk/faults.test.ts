import type { IncomingMessage, MemoryStore, OppieClient } from '@oppie/client-sdk';
import { exponentialBackoff, MemoryStore as Store } from '@oppie/client-sdk';
import { startFaultProxy, startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairedClients, sdkClient } from './sdk-fixture.js';

// Seeded fault runs: 200 under CI, 20 by default elsewhere; `FAULT_SEEDS=1000 npx vitest run test/test/sdk/faults`
// runs a thousand. A failing run names its seed; `FAULT_SEED_START=<seed> FAULT_SEEDS=1` replays it.
const SEEDS = Number(process.env.FAULT_SEEDS ?? (process.env.CI === 'true' ? 200 : 20));
const START = Number(process.env.FAULT_SEED_START ?? 1);
const PER_RUN = 8;

let t: TestRelay;
let sidecarStore: MemoryStore;
let phoneStore: MemoryStore;
let sidecarId: string;
let phoneId: string;

beforeAll(async () => {
  t = await startTestRelay({ upgradesPerIpPerSecond: 10_000, authRequestsPerIpPerMinute: 100_000 });
  sidecarStore = new Store();
  phoneStore = new Store();
  const { sidecar, phone } = await pairedClients(t.url, { sidecarStore, phoneStore });
  sidecarId = sidecar.deviceId;
  phoneId = phone.deviceId;
  await sidecar.close();
  await phone.close();
});

afterAll(async () => {
  await t?.close();
});

function numbered(client: OppieClient, into: number[]): void {
  client.events.on('message', (m: IncomingMessage) => into.push((m.payload as { n: number }).n));
}

describe('lossless delivery through a fault-injecting proxy', () => {
  it(`every message arrives exactly once, in order, both ways, over ${SEEDS} seeded runs`, async () => {
    const toPhone: number[] = [];
    const toSidecar: number[] = [];
    let next = 0;
    for (let seed = START; seed < START + SEEDS; seed++) {
      const proxy = await startFaultProxy(t.relay.app.server.address() ? Number(new URL(t.url).port) : 0, seed);
      const policy = exponentialBackoff({ baseMs: 10, maxMs: 150 });
      const sidecar = await sdkClient(proxy.url, 'sidecar', 'workstation', {
        storage: sidecarStore,
        reconnect: policy,
      });
      const phone = await sdkClient(proxy.url, 'pwa', 'phone', { storage: phoneStore, reconnect: policy });
      const gotPhone: number[] = [];
      const gotSidecar: number[] = [];
      numbered(phone, gotPhone);
      numbered(sidecar, gotSidecar);
      try {
        void sidecar.connect().catch(() => {});
        void phone.connect().catch(() => {});
        const first = next;
        const sends: Promise<void>[] = [];
        for (let i = 0; i < PER_RUN; i++) {
          sends.push(sidecar.send('progress', { n: first + i }, { to: phoneId }));
          sends.push(phone.send('chat', { n: first + i }, { to: sidecarId }));
        }
        next += PER_RUN;
        const deadline = setTimeout(() => proxy.calm(), 4_000); // faults stop after 4 s: every run must converge
        await Promise.race([
          Promise.all(sends),
          new Promise((_, reject) =>
            setTimeout(
              () => reject(new Error(`seed ${seed}: not delivered in 15 s (${JSON.stringify(proxy.stats)})`)),
              15_000,
            ),
          ),
        ]);
        clearTimeout(deadline);
        toPhone.push(...gotPhone);
        toSidecar.push(...gotSidecar);
        const expected = Array.from({ length: next }, (_, i) => i);
        expect(toPhone, `seed ${seed} sidecar->phone`).toEqual(expected);
        expect(toSidecar, `seed ${seed} phone->sidecar`).toEqual(expected);
      } finally {
        await sidecar.close();
        await phone.close();
        await proxy.close();
      }
    }
  }, 600_000);
});
