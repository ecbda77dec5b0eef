import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSidecar } from '../src/sidecar.js';

// The watcher's lifetime is what one test is about: count its starts and stops around the real one.
const watching = vi.hoisted(() => ({ started: 0, stopped: 0 }));
vi.mock('../src/network-watch.js', async (original) => {
  const real = await original<typeof import('../src/network-watch.js')>();
  return {
    ...real,
    watchNetwork: (...args: Parameters<typeof real.watchNetwork>) => {
      watching.started++;
      const stop = real.watchNetwork(...args);
      return () => {
        watching.stopped++;
        stop();
      };
    },
  };
});

let relay: TestRelay;
let dataDir: string;

beforeEach(async () => {
  relay = await startTestRelay();
  dataDir = join(await mkdtemp(join(tmpdir(), 'oppie-sidecar-')), 'data');
});
afterEach(async () => {
  await relay.close();
  await rm(join(dataDir, '..'), { recursive: true, force: true });
});

describe('createSidecar (against an in-process relay)', () => {
  it('registers once, keeps its identity in dataDir (0700/0600) and lists itself', async () => {
    const first = await createSidecar({ relayUrl: relay.url, name: 'workstation', dataDir });
    try {
      const devices = await first.devices();
      expect(devices).toEqual([expect.objectContaining({ id: first.deviceId, role: 'sidecar', name: 'workstation' })]);
    } finally {
      await first.close();
    }
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    for (const name of await readdir(dataDir)) expect((await stat(join(dataDir, name))).mode & 0o777).toBe(0o600);

    const again = await createSidecar({ relayUrl: relay.url, name: 'workstation', dataDir });
    try {
      expect(again.deviceId).toBe(first.deviceId);
      expect(await again.devices()).toHaveLength(1);
      await again.connect();
      expect(again.state).toBe('open');
    } finally {
      await again.close();
    }
  });

  it('watches the network while it may connect: stops when replaced (4501), starts again when it reconnects', async () => {
    const sidecar = await createSidecar({
      relayUrl: relay.url,
      name: 'workstation',
      dataDir,
      direct: { enabled: false },
    });
    const before = { ...watching };
    try {
      await sidecar.connect();
      // A second instance of the same device: the relay closes the first one for good.
      const newer = await createSidecar({
        relayUrl: relay.url,
        name: 'workstation',
        dataDir,
        direct: { enabled: false },
      });
      await newer.connect();
      await expect.poll(() => sidecar.state).toBe('closed');
      await newer.close();
      expect(watching.stopped - before.stopped).toBe(2); // the first instance's watcher, and the newer's on close
      await sidecar.connect();
      expect(sidecar.state).toBe('open');
      expect(watching.started - before.started).toBe(2); // the newer's, and the first one's again
    } finally {
      await sidecar.close();
    }
    expect(watching.started).toBe(watching.stopped);
  });

  it('validates its options', async () => {
    await expect(createSidecar({ relayUrl: 'ftp://x', name: 'n', dataDir })).rejects.toThrow(/relayUrl/);
    await expect(createSidecar({ relayUrl: relay.url, name: ' ', dataDir })).rejects.toThrow(/name/);
  });
});
