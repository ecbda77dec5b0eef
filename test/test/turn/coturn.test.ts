import { spawnSync } from 'node:child_process';
import { turnCredential } from '@oppie/relay';
import { api, registerDevice, startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { requireBinary } from '../relay/require-binary.js';
import { type Coturn, startCoturn } from './coturn.js';

const SECRET = 'shared-with-coturn-in-this-test';

let coturn: Coturn | undefined;
let t: TestRelay | undefined;
afterEach(async () => {
  await coturn?.stop();
  coturn = undefined;
  await t?.close();
  t = undefined;
});

/** Allocates through the real coturn with the given credentials (two clients relaying to each other). */
function allocate(port: number, username: string, credential: string): number | null {
  const r = spawnSync(
    'turnutils_uclient',
    ['-y', '-n', '2', '-p', String(port), '-u', username, '-w', credential, '127.0.0.1'],
    {
      timeout: 20_000,
      encoding: 'utf8',
    },
  );
  return r.status;
}

describe('relay-minted credentials on a real coturn', () => {
  it('authenticate while valid; expired or wrongly signed ones are refused', async () => {
    if (!requireBinary('turnserver', 'apt-get install coturn')) return;
    coturn = await startCoturn(SECRET);
    const port = coturn.port;

    t = await startTestRelay({
      turnUrls: `turn:127.0.0.1:${port}?transport=udp`,
      turnSecrets: `${SECRET},older-secret`,
      turnTtlSeconds: 120,
    });
    const device = await registerDevice(t.url, 'workstation');
    const res = await api<{ iceServers: Array<{ urls: string[]; username?: string; credential?: string }> }>(
      t.url,
      'GET',
      '/api/turn/credentials',
      undefined,
      { token: device.token },
    );
    const turn = res.body.iceServers.find((s) => s.username !== undefined);
    expect(turn?.urls).toEqual([`turn:127.0.0.1:${port}?transport=udp`]);
    expect(allocate(port, turn?.username as string, turn?.credential as string)).toBe(0);

    const expired = turnCredential(SECRET, device.deviceId, Math.floor(Date.now() / 1000) - 60);
    expect(allocate(port, expired.username, expired.credential)).not.toBe(0);
    const forged = turnCredential('not-the-secret', device.deviceId, Math.floor(Date.now() / 1000) + 60);
    expect(allocate(port, forged.username, forged.credential)).not.toBe(0);
  }, 90_000);
});
