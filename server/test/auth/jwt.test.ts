import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWTPayload, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TOKEN_AUDIENCE } from '../../src/auth/index.js';
import { counter, type Harness, harness, type Registered } from './helpers.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function rsa() {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

let h: Harness;
let signing: { privateKey: KeyObject; publicKey: KeyObject; publicPem: string; kid: string };
let device: Registered;

async function craft(
  claims: JWTPayload,
  opts: { key?: KeyObject; kid?: string; alg?: string; omit?: string[] } = {},
): Promise<string> {
  const now = Math.floor(h.clock.t / 1000);
  const payload: JWTPayload = {
    iss: h.config.issuer,
    aud: TOKEN_AUDIENCE,
    sub: device.deviceId,
    acc: device.accountId,
    role: 'sidecar',
    jti: 'j1',
    iat: now,
    nbf: now,
    exp: now + 300,
    ...claims,
  };
  for (const k of opts.omit ?? []) delete payload[k];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? signing.kid })
    .sign(opts.key ?? signing.privateKey);
}

async function refusal(token: string): Promise<string | undefined> {
  try {
    await h.auth.verifyToken(token);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

/** Key directories of the running test, removed after it. */
const keyDirs: string[] = [];
const keyDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'oppie-keys-'));
  keyDirs.push(dir);
  return dir;
};

beforeEach(async () => {
  const dir = keyDir();
  const { privateKey, publicKey } = rsa();
  const file = join(dir, 'signing.pem');
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  signing = { privateKey, publicKey, publicPem, kid: await calculateJwkThumbprint(await exportJWK(publicKey)) };
  h = await harness({ config: { jwtSigningKeyFile: file } });
  device = await h.register();
});
afterEach(async () => {
  await h.close();
  for (const dir of keyDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('verifyToken', () => {
  it('accepts the relay token and a hand-made one with the same key', async () => {
    const claims = await h.auth.verifyToken(device.token);
    expect(claims).toEqual({
      deviceId: device.deviceId,
      accountId: device.accountId,
      role: 'sidecar',
      jti: expect.any(String),
      expiresAt: device.expiresAt,
      stepUpAt: undefined,
    });
    const header = JSON.parse(Buffer.from(device.token.split('.')[0] as string, 'base64url').toString());
    expect(header).toMatchObject({ alg: 'RS256', kid: signing.kid });
    expect((await h.auth.verifyToken(await craft({ sua: 1000 }))).stepUpAt).toBe(1_000_000);
  });

  it('refuses alg none', async () => {
    const payload = device.token.split('.')[1];
    for (const alg of ['none', 'None', 'NONE']) {
      expect(await refusal(`${b64({ alg, kid: signing.kid })}.${payload}.`)).toBe('RELAY_ERR_TOKEN_ALG_NOT_ALLOWED');
    }
  });

  it('refuses HS256 signed with the public key as HMAC secret', async () => {
    const [, payload] = device.token.split('.');
    for (const secret of [signing.publicPem, signing.publicPem.trim()]) {
      const head = b64({ alg: 'HS256', typ: 'JWT', kid: signing.kid });
      const mac = createHmac('sha256', secret).update(`${head}.${payload}`).digest('base64url');
      expect(await refusal(`${head}.${payload}.${mac}`)).toBe('RELAY_ERR_TOKEN_ALG_NOT_ALLOWED');
    }
  });

  it('refuses any other algorithm, even signed with the right key', async () => {
    expect(await refusal(await craft({}, { alg: 'RS512' }))).toBe('RELAY_ERR_TOKEN_ALG_NOT_ALLOWED');
    expect(await refusal(await craft({}, { alg: 'PS256' }))).toBe('RELAY_ERR_TOKEN_ALG_NOT_ALLOWED');
  });

  it('refuses a bad signature', async () => {
    expect(await refusal(await craft({}, { key: rsa().privateKey }))).toBe('RELAY_ERR_TOKEN_SIGNATURE_INVALID');
    const [head, , sig] = device.token.split('.');
    const forged = b64({
      ...JSON.parse(Buffer.from(device.token.split('.')[1] as string, 'base64url').toString()),
      role: 'pwa',
    });
    expect(await refusal(`${head}.${forged}.${sig}`)).toBe('RELAY_ERR_TOKEN_SIGNATURE_INVALID');
  });

  it('refuses a wrong issuer or audience', async () => {
    expect(await refusal(await craft({ iss: 'https://evil.example' }))).toBe('RELAY_ERR_TOKEN_ISSUER_INVALID');
    expect(await refusal(await craft({}, { omit: ['iss'] }))).toBe('RELAY_ERR_TOKEN_ISSUER_INVALID');
    expect(await refusal(await craft({ aud: 'someone-else' }))).toBe('RELAY_ERR_TOKEN_AUDIENCE_INVALID');
  });

  it('refuses an expired token, after the clock skew', async () => {
    const now = Math.floor(h.clock.t / 1000);
    expect(await refusal(await craft({ iat: now - 400, nbf: now - 400, exp: now - 61 }))).toBe(
      'RELAY_ERR_TOKEN_EXPIRED',
    );
    expect(await refusal(await craft({ iat: now - 400, nbf: now - 400, exp: now - 30 }))).toBeUndefined();
    h.clock.t = device.expiresAt + 61_000;
    expect(await refusal(device.token)).toBe('RELAY_ERR_TOKEN_EXPIRED');
  });

  it('refuses nbf or iat in the future', async () => {
    const now = Math.floor(h.clock.t / 1000);
    expect(await refusal(await craft({ nbf: now + 120 }))).toBe('RELAY_ERR_TOKEN_NOT_YET_VALID');
    expect(await refusal(await craft({ iat: now + 120 }))).toBe('RELAY_ERR_TOKEN_NOT_YET_VALID');
  });

  it('refuses an unknown or missing kid', async () => {
    expect(await refusal(await craft({}, { kid: 'no-such-key' }))).toBe('RELAY_ERR_TOKEN_KID_UNKNOWN');
    const head = b64({ alg: 'RS256' });
    expect(await refusal(`${head}.${device.token.split('.')[1]}.${device.token.split('.')[2]}`)).toBe(
      'RELAY_ERR_TOKEN_KID_UNKNOWN',
    );
  });

  it('refuses garbage', async () => {
    for (const token of ['', 'garbage', 'a.b.c', 'a.b', `${b64({ alg: 'RS256', kid: signing.kid })}.%%%.x`, '...']) {
      expect(await refusal(token), token).toBe('RELAY_ERR_TOKEN_MALFORMED');
    }
  });

  it('refuses missing or mistyped claims', async () => {
    for (const omit of ['sub', 'acc', 'role', 'jti', 'exp', 'iat']) {
      expect(await refusal(await craft({}, { omit: [omit] })), omit).toBe('RELAY_ERR_TOKEN_CLAIMS_INVALID');
    }
    expect(await refusal(await craft({ role: 'admin' }))).toBe('RELAY_ERR_TOKEN_CLAIMS_INVALID');
    expect(await refusal(await craft({ sua: 'yesterday' }))).toBe('RELAY_ERR_TOKEN_CLAIMS_INVALID');
  });

  it('refuses the token of a revoked device', async () => {
    const res = await h.call('DELETE', `/api/auth/devices/${device.deviceId}`, { token: device.token });
    expect(res.status).toBe(204);
    expect(await refusal(device.token)).toBe('RELAY_ERR_DEVICE_REVOKED');
  });

  it('counts every failure by code', async () => {
    await refusal('garbage');
    await refusal('garbage');
    await refusal(await craft({ aud: 'x' }));
    expect(await counter(h.metrics.authFailures, { reason: 'RELAY_ERR_TOKEN_MALFORMED' })).toBe(2);
    expect(await counter(h.metrics.authFailures, { reason: 'RELAY_ERR_TOKEN_AUDIENCE_INVALID' })).toBe(1);
  });

  it('answers REST calls with the token failure code', async () => {
    expect((await h.call('GET', '/api/auth/devices')).body.code).toBe('RELAY_ERR_TOKEN_MISSING');
    const res = await h.call('GET', '/api/auth/devices', { token: await craft({ iss: 'x' }) });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('RELAY_ERR_TOKEN_ISSUER_INVALID');
  });
});

describe('JWT_VERIFY_KEY_FILES', () => {
  it('keeps verifying tokens of a retired key file', async () => {
    const old = signing;
    const oldToken = await craft({});
    const dir = keyDir();
    const next = rsa();
    writeFileSync(join(dir, 'new.pem'), next.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(join(dir, 'old.pub.pem'), old.publicPem);
    const h2 = await harness({
      config: { jwtSigningKeyFile: join(dir, 'new.pem'), jwtVerifyKeyFiles: ` ${join(dir, 'old.pub.pem')} ` },
      dataDir: h.dataDir,
      clock: h.clock,
    });
    try {
      expect((await h2.auth.verifyToken(oldToken)).deviceId).toBe(device.deviceId);
      const kids = h2.auth.jwks().keys.map((k) => k.kid);
      expect(kids).toContain(old.kid);
      expect(kids).toHaveLength(2);
      await expect(h2.auth.rotateSigningKey()).rejects.toThrow(/JWT_SIGNING_KEY_FILE/);
    } finally {
      await h2.close();
    }
  });

  it('refuses a signing key that is not RSA-2048+', async () => {
    const dir = keyDir();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'ec.pem'), ec.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    await expect(harness({ config: { jwtSigningKeyFile: join(dir, 'ec.pem') } })).rejects.toThrow(/RSA/);
  });
});
