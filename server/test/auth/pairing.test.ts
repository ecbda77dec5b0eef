import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../src/auth/index.js';
import { counter, deviceKey, type Harness, harness, proofFor } from './helpers.js';

let h: Harness;
afterEach(() => h?.close());

async function createCode(token: string): Promise<{ code: string; expiresAt: number; maxAttempts: number }> {
  const res = await h.call<{ code: string; expiresAt: number; maxAttempts: number }>('POST', '/api/pairing', { token });
  expect(res.status).toBe(200);
  return res.body;
}

async function claim(code: string, ip = '127.0.0.1') {
  const proof = proofFor(`pair:${code}`, deviceKey(), { challenge: await h.challenge(ip) });
  return h.call('POST', '/api/pairing/claim', { body: { code, proof, name: 'phone' }, ip });
}

/** The same code with a different secret part. */
function wrongSecret(code: string): string {
  const [lookup, secret] = code.split('-') as [string, string];
  return `${lookup}-${secret.startsWith('A') ? 'B' : 'A'}${secret.slice(1)}`;
}

describe('pairing', () => {
  it('adds a PWA to the sidecar account', async () => {
    h = await harness({ auditFile: true });
    const sidecar = await h.register();
    const added: DeviceRecord[] = [];
    h.auth.events.on('deviceAdded', (d) => added.push(d));
    const { code, expiresAt, maxAttempts } = await createCode(sidecar.token);
    expect(code).toMatch(/^[A-Z2-7]{8}-[A-Z2-7]{24}$/);
    expect(expiresAt).toBe(h.clock.t + h.config.pairingTtlSeconds * 1000);
    expect(maxAttempts).toBe(h.config.pairingMaxAttempts);

    const res = await claim(code);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accountId: sidecar.accountId, role: 'pwa', sidecarDeviceId: sidecar.deviceId });
    expect(added.map((d) => [d.id, d.role])).toEqual([[res.body.deviceId, 'pwa']]);
    const claims = await h.auth.verifyToken(res.body.token as string);
    expect(claims.accountId).toBe(sidecar.accountId);
    expect(await counter(h.metrics.pairing, { outcome: 'claimed' })).toBe(1);

    const audit = await h.auditText();
    expect(audit).toContain('"event":"pairing.created"');
    expect(audit).toContain('"event":"pairing.claimed"');
    expect(audit).not.toContain(code.split('-')[1]);
  });

  it('lets only a sidecar create codes', async () => {
    h = await harness();
    const phone = await h.pair((await h.register()).token);
    const res = await h.call('POST', '/api/pairing', { token: phone.token });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('RELAY_ERR_ROLE_FORBIDDEN');
  });

  it('refuses a used code', async () => {
    h = await harness();
    const { code } = await createCode((await h.register()).token);
    expect((await claim(code)).status).toBe(200);
    const again = await claim(code);
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('RELAY_ERR_PAIRING_CODE_INVALID');
  });

  it('refuses an expired code', async () => {
    h = await harness();
    const { code } = await createCode((await h.register()).token);
    h.clock.t += h.config.pairingTtlSeconds * 1000;
    const res = await claim(code);
    expect(res.status).toBe(410);
    expect(res.body.code).toBe('RELAY_ERR_PAIRING_CODE_EXPIRED');
  });

  it('burns a code after pairingMaxAttempts wrong secrets', async () => {
    h = await harness({ config: { pairingMaxAttempts: 3 } });
    const { code } = await createCode((await h.register()).token);
    expect((await claim(wrongSecret(code))).body.code).toBe('RELAY_ERR_PAIRING_CODE_INVALID');
    expect((await claim(wrongSecret(code))).body.code).toBe('RELAY_ERR_PAIRING_CODE_INVALID');
    const third = await claim(wrongSecret(code));
    expect(third.status).toBe(429);
    expect(third.body.code).toBe('RELAY_ERR_PAIRING_ATTEMPTS_EXCEEDED');
    expect((await claim(code)).body.code).toBe('RELAY_ERR_PAIRING_ATTEMPTS_EXCEEDED');
    expect(await counter(h.metrics.pairing, { outcome: 'burnt' })).toBe(2);
    expect(await counter(h.metrics.pairing, { outcome: 'wrong_code' })).toBe(2);
  });

  it('refuses unknown and malformed codes, and limits guessing per address', async () => {
    h = await harness({ limits: { pairingFailuresPerIp: 3 } });
    const { code } = await createCode((await h.register()).token);
    expect((await claim('AAAAAAAA-AAAAAAAAAAAAAAAAAAAAAAAA', '10.0.0.9')).body.code).toBe(
      'RELAY_ERR_PAIRING_CODE_INVALID',
    );
    expect((await claim('not-a-code', '10.0.0.9')).body.code).toBe('RELAY_ERR_PAIRING_CODE_INVALID');
    expect((await claim('BBBBBBBB-AAAAAAAAAAAAAAAAAAAAAAAA', '10.0.0.9')).body.code).toBe(
      'RELAY_ERR_PAIRING_CODE_INVALID',
    );
    const limited = await claim(code, '10.0.0.9');
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RELAY_ERR_RATE_LIMITED');
    expect(await counter(h.metrics.rateLimited, { limit: 'pairing' })).toBe(1);
    // Another address is not affected, and the code was not spent by the refused claim.
    expect((await claim(code, '10.0.0.10')).status).toBe(200);
  });

  it('refuses a claim signed for another code', async () => {
    h = await harness();
    const { code } = await createCode((await h.register()).token);
    const proof = proofFor('pair:OTHER', deviceKey(), { challenge: await h.challenge() });
    const res = await h.call('POST', '/api/pairing/claim', { body: { code, proof, name: 'phone' } });
    expect(res.body.code).toBe('RELAY_ERR_SIGNATURE_INVALID');
    expect((await claim(code)).status).toBe(200);
  });

  it('refuses the code of a sidecar revoked since', async () => {
    h = await harness();
    const sidecar = await h.register();
    const { code } = await createCode(sidecar.token);
    expect((await h.call('DELETE', `/api/auth/devices/${sidecar.deviceId}`, { token: sidecar.token })).status).toBe(
      204,
    );
    expect((await claim(code)).body.code).toBe('RELAY_ERR_PAIRING_CODE_INVALID');
  });

  it('refuses a key that is already registered', async () => {
    h = await harness();
    const sidecar = await h.register();
    const { code } = await createCode(sidecar.token);
    const proof = proofFor(`pair:${code}`, sidecar.key, { challenge: await h.challenge() });
    const res = await h.call('POST', '/api/pairing/claim', { body: { code, proof, name: 'phone' } });
    expect(res.body.code).toBe('RELAY_ERR_DEVICE_EXISTS');
  });
});
