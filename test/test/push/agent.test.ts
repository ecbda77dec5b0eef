/**
 * The SSRF guard that counts runs when a push connects, not only when a subscription is stored: a subscription
 * whose host name resolves to loopback (stored while PUSH_ALLOW_PRIVATE_ENDPOINTS was on, or a public name that now
 * resolves to a private address) is refused before any connection, counted `failed`, and logged without its path.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connectDevice,
  pairDevice,
  registerDevice,
  requireBinary,
  startPushService,
  startTestRelay,
} from '@oppie/test-kit';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { pushCount, putSubscription, subscriptionKeys } from './fixture.js';

const HAVE_OPENSSL = requireBinary('openssl', 'apt-get install openssl');

describe.runIf(HAVE_OPENSSL)('Web Push connect-time endpoint check', () => {
  it('refuses a host name that resolves to loopback when private endpoints are not allowed', async () => {
    const ps = await startPushService();
    const dataDir = await mkdtemp(join(tmpdir(), 'oppie-push-guard-'));
    try {
      // Stored by a relay that allowed private endpoints (the route check would refuse `localhost` now) ...
      const lax = await startTestRelay({ pushCaFile: ps.caFile, pushAllowPrivateEndpoints: true }, { dataDir });
      const sidecar = await registerDevice(lax.url, 'workstation');
      const phone = await pairDevice(lax.url, sidecar.token, 'phone');
      const port = new URL(ps.url).port;
      const endpoint = `https://localhost:${port}/push/secret-capability`;
      expect((await putSubscription(lax.url, phone.token, { endpoint, keys: subscriptionKeys().keys })).status).toBe(
        204,
      );
      await lax.close();

      // ... and used by one that does not: the same relay.db, PUSH_ALLOW_PRIVATE_ENDPOINTS off.
      const lines: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
      const strict = await startTestRelay({ pushCaFile: ps.caFile }, { dataDir, logger });
      try {
        const s = await connectDevice(strict.url, sidecar);
        const env = s.chat(phone.deviceId, 'wake up', { priority: 'high' });
        expect((await s.ackFor(env.id)).payload.status).toBe('queued');
        await vi.waitFor(async () => expect(await pushCount(strict.url, 'failed')).toBe(1));
        await s.close();
        expect(await pushCount(strict.url, 'sent')).toBe(0);
        expect(ps.received).toHaveLength(0);
        const failure = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'web push failed');
        expect(failure).toMatchObject({ host: `localhost:${port}`, err: { code: 'PUSH_ERR_ENDPOINT_REFUSED' } });
        expect(lines.join('\n')).not.toContain('secret-capability');
      } finally {
        await strict.close();
      }
    } finally {
      await ps.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
