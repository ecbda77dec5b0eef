import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { proofMessage } from '@oppie/protocol';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveDeviceId } from '../../../server/src/auth/device-id.js';
import {
  deviceIdOf,
  generateIdentity,
  parseIdentity,
  serializeIdentity,
  signProof,
} from '../../src/crypto/identity.js';
import { toB64u } from '../../src/crypto/sodium.js';
import { OppieError } from '../../src/errors.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof OppieError ? err.code : String(err);
  }
  return 'did not throw';
};

describe('identity', () => {
  it('generates a 32/64-byte Ed25519 keypair that survives storage', async () => {
    const id = await generateIdentity();
    expect(id.publicKey).toHaveLength(32);
    expect(id.secretKey).toHaveLength(64);
    const back = parseIdentity(serializeIdentity(id));
    expect(back.publicKey).toEqual(id.publicKey);
    expect(back.secretKey).toEqual(id.secretKey);
  });

  it('refuses corrupted records with OPPIE_ERR_STORAGE', async () => {
    const a = JSON.parse(serializeIdentity(await generateIdentity()));
    const b = JSON.parse(serializeIdentity(await generateIdentity()));
    for (const text of [
      'not json',
      'null',
      JSON.stringify({ ...a, v: 2 }),
      JSON.stringify({ ...a, seed: 'AAAA' }),
      JSON.stringify({ ...a, seed: '!!' }),
      JSON.stringify({ ...a, publicKey: b.publicKey }),
    ]) {
      expect(
        codeOf(() => parseIdentity(text)),
        text,
      ).toBe('OPPIE_ERR_STORAGE');
    }
  });

  it('derives the same device id as the relay', async () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey } = await generateIdentity();
      const id = await deviceIdOf(publicKey);
      expect(id).toHaveLength(22);
      expect(id).toBe(deriveDeviceId(publicKey));
    }
    await expect(deviceIdOf(new Uint8Array(31))).rejects.toMatchObject({ code: 'OPPIE_ERR_PROTOCOL' });
  });

  it('signs proofs that node:crypto verifies, as the relay does', async () => {
    const id = await generateIdentity();
    const publicKey = toB64u(id.publicKey);
    const message = proofMessage('token', { publicKey, challenge: 'c'.repeat(43) });
    const signature = Buffer.from(signProof(id, message), 'base64url');
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
    expect(nodeVerify(null, Buffer.from(message), key, signature)).toBe(true);
    expect(nodeVerify(null, Buffer.from(`${message}x`), key, signature)).toBe(false);
  });
});

describe('relay interop (in-process relay, fetch)', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay();
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(new URL(path, t.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const challenge = async () => {
    const res = await fetch(new URL('/api/auth/challenge', t.url));
    return ((await res.json()) as { challenge: string }).challenge;
  };
  const proof = async (
    purpose: 'register' | 'token' | `pair:${string}`,
    id: Awaited<ReturnType<typeof generateIdentity>>,
  ) => {
    const publicKey = toB64u(id.publicKey);
    const c = await challenge();
    return { publicKey, challenge: c, signature: signProof(id, proofMessage(purpose, { publicKey, challenge: c })) };
  };

  it('registers a sidecar, refreshes its token and pairs a PWA with libsodium-made proofs', async () => {
    const sidecar = await generateIdentity();
    const reg = await post('/api/auth/register', { proof: await proof('register', sidecar), name: 'ws' });
    expect(reg.status).toBe(201);
    expect(reg.body.deviceId).toBe(await deviceIdOf(sidecar.publicKey));

    const tok = await post('/api/auth/token', { proof: await proof('token', sidecar) });
    expect(tok.status).toBe(200);

    const pairing = await post('/api/pairing', {}, tok.body.token);
    expect(pairing.status).toBe(200);
    const pwa = await generateIdentity();
    const code = pairing.body.code as string;
    const claim = await post('/api/pairing/claim', { code, proof: await proof(`pair:${code}`, pwa), name: 'phone' });
    expect(claim.status).toBe(200);
    expect(claim.body.deviceId).toBe(await deviceIdOf(pwa.publicKey));
    expect(claim.body.sidecarDeviceId).toBe(reg.body.deviceId);
  });

  it('a proof signed by another key is refused by the relay', async () => {
    const a = await generateIdentity();
    const b = await generateIdentity();
    const forged = { ...(await proof('register', b)), publicKey: toB64u(a.publicKey) };
    const res = await post('/api/auth/register', { proof: forged, name: 'x' });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('RELAY_ERR_SIGNATURE_INVALID');
  });
});
