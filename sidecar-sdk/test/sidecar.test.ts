import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSidecar } from '../src/sidecar.js';

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

  it('validates its options', async () => {
    await expect(createSidecar({ relayUrl: 'ftp://x', name: 'n', dataDir })).rejects.toThrow(/relayUrl/);
    await expect(createSidecar({ relayUrl: relay.url, name: ' ', dataDir })).rejects.toThrow(/name/);
  });
});
