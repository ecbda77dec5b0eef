import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createEnrollmentToken } from '../../src/auth/index.js';
import { SqliteEnrollmentStore } from '../../src/store/sqlite/index.js';
import { counter, deviceKey, type Harness, harness, proofFor } from './helpers.js';

let h: Harness;
afterEach(() => h?.close());

describe('POST /api/auth/register (open)', () => {
  it('creates an account with the sidecar as first device and a working token', async () => {
    h = await harness({ auditFile: true });
    const added: string[] = [];
    h.auth.events.on('deviceAdded', (d) => added.push(d.id));
    const key = deviceKey();
    const res = await h.register({ key, name: 'workstation' });
    const expectedId = createHash('sha256').update(Buffer.from(key.publicKey, 'base64url')).digest('base64url');
    expect(res.deviceId).toBe(expectedId.slice(0, 22));
    expect(res.role).toBe('sidecar');
    expect(res.expiresAt).toBe((Math.floor(h.clock.t / 1000) + h.config.tokenTtlSeconds) * 1000);
    expect(added).toEqual([res.deviceId]);
    const claims = await h.auth.verifyToken(res.token);
    expect(claims).toMatchObject({ deviceId: res.deviceId, accountId: res.accountId, role: 'sidecar' });
    expect(await counter(h.metrics.tokensIssued, { via: 'register' })).toBe(1);

    const audit = await h.auditText();
    expect(audit).toContain('"event":"device.registered"');
    expect(audit).toContain('"event":"token.issued"');
    expect(audit).not.toContain(res.token);
    expect(audit).not.toContain(res.token.split('.')[2]);
  });

  it('refuses a key that is already registered', async () => {
    h = await harness();
    const key = deviceKey();
    await h.register({ key });
    const proof = proofFor('register', key, { challenge: await h.challenge() });
    const res = await h.call('POST', '/api/auth/register', { body: { proof, name: 'again' } });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('RELAY_ERR_DEVICE_EXISTS');
  });

  it('refuses a token proof used to register', async () => {
    h = await harness();
    const proof = proofFor('token', deviceKey(), { challenge: await h.challenge() });
    const res = await h.call('POST', '/api/auth/register', { body: { proof, name: 'x' } });
    expect(res.body.code).toBe('RELAY_ERR_SIGNATURE_INVALID');
    expect(await counter(h.metrics.authFailures, { reason: 'RELAY_ERR_SIGNATURE_INVALID' })).toBe(1);
  });

  it('refuses a body that does not match the schema', async () => {
    h = await harness();
    const res = await h.call('POST', '/api/auth/register', { body: { proof: { publicKey: 'x' }, name: '' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('RELAY_ERR_BAD_REQUEST');
  });

  it('limits registrations per address per hour', async () => {
    h = await harness({ config: { registrationsPerIpPerHour: 2 } });
    await h.register({ ip: '10.0.0.1' });
    await h.register({ ip: '10.0.0.1' });
    const proof = proofFor('register', deviceKey(), { challenge: await h.challenge('10.0.0.1') });
    const res = await h.call('POST', '/api/auth/register', { body: { proof, name: 'x' }, ip: '10.0.0.1' });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('RELAY_ERR_RATE_LIMITED');
    expect(await counter(h.metrics.rateLimited, { limit: 'registration' })).toBe(1);
    await h.register({ ip: '10.0.0.2' });
  });
});

describe('POST /api/auth/register (enrollment)', () => {
  const registerWith = async (enrollmentToken?: string) => {
    const proof = proofFor('register', deviceKey(), { challenge: await h.challenge() });
    return h.call('POST', '/api/auth/register', { body: { proof, name: 'ws', enrollmentToken } });
  };

  it('needs an enrollment token', async () => {
    h = await harness({ config: { registration: 'enrollment' } });
    const res = await registerWith();
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('RELAY_ERR_ENROLLMENT_REQUIRED');
    expect((await registerWith('not-a-real-token')).body.code).toBe('RELAY_ERR_ENROLLMENT_INVALID');
  });

  it('accepts a token for its number of uses, stores only its hash', async () => {
    h = await harness({ config: { registration: 'enrollment' }, auditFile: true });
    const { token } = await createEnrollmentToken(new SqliteEnrollmentStore(h.db), { uses: 2, ttlSeconds: 60 });
    expect((await registerWith(token)).status).toBe(201);
    expect((await registerWith(token)).status).toBe(201);
    expect((await registerWith(token)).body.code).toBe('RELAY_ERR_ENROLLMENT_INVALID');
    const rows = h.db.prepare('SELECT token_hash FROM enrollment_tokens').all() as Array<{ token_hash: string }>;
    expect(rows.map((r) => r.token_hash)).toEqual([createHash('sha256').update(token).digest('base64url')]);
    expect(await h.auditText()).not.toContain(token);
  });

  it('refuses an expired token', async () => {
    h = await harness({ config: { registration: 'enrollment' } });
    const { token } = await h.auth.createEnrollmentToken({ uses: 1, ttlSeconds: 60 });
    h.clock.t += 60_000;
    expect((await registerWith(token)).body.code).toBe('RELAY_ERR_ENROLLMENT_INVALID');
  });

  it('validates its options', async () => {
    h = await harness();
    await expect(h.auth.createEnrollmentToken({ uses: 0, ttlSeconds: 60 })).rejects.toThrow(RangeError);
  });
});

describe('POST /api/auth/token', () => {
  it('issues a token for a registered device, by challenge or timestamp', async () => {
    h = await harness();
    const sidecar = await h.register();
    const byChallenge = proofFor('token', sidecar.key, { challenge: await h.challenge() });
    const a = await h.call('POST', '/api/auth/token', { body: { proof: byChallenge } });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ deviceId: sidecar.deviceId, accountId: sidecar.accountId, role: 'sidecar' });
    const byTime = proofFor('token', sidecar.key, { timestamp: h.clock.t });
    const b = await h.call('POST', '/api/auth/token', { body: { proof: byTime } });
    expect(b.status).toBe(200);
    expect(b.body.token).not.toBe(a.body.token);
    expect(await counter(h.metrics.tokensIssued, { via: 'token' })).toBe(2);
  });

  it('refuses an unknown device', async () => {
    h = await harness({ auditFile: true });
    const proof = proofFor('token', deviceKey(), { challenge: await h.challenge() });
    const res = await h.call('POST', '/api/auth/token', { body: { proof } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('RELAY_ERR_DEVICE_UNKNOWN');
    expect(await h.auditText()).toContain('"event":"token.refused"');
  });

  it('refuses each malformed proof with its code', async () => {
    h = await harness();
    const sidecar = await h.register();
    const challenge = await h.challenge();
    const good = proofFor('token', sidecar.key, { challenge });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...good, challenge: undefined }, 'RELAY_ERR_PROOF_INVALID'],
      [{ ...good, timestamp: h.clock.t, nonce: 'A'.repeat(22) }, 'RELAY_ERR_PROOF_INVALID'],
      [{ ...good, publicKey: 'A'.repeat(43) }, 'RELAY_ERR_PROOF_INVALID'],
      [{ ...good, signature: 'A'.repeat(86) }, 'RELAY_ERR_SIGNATURE_INVALID'],
      [proofFor('token', sidecar.key, { challenge: 'A'.repeat(43) }), 'RELAY_ERR_CHALLENGE_INVALID'],
      [proofFor('token', sidecar.key, { timestamp: h.clock.t - 120_000 }), 'RELAY_ERR_TIMESTAMP_SKEW'],
    ];
    for (const [proof, code] of cases) {
      const res = await h.call('POST', '/api/auth/token', { body: { proof } });
      expect(res.body.code, code).toBe(code);
    }
    const once = proofFor('token', sidecar.key, { timestamp: h.clock.t });
    expect((await h.call('POST', '/api/auth/token', { body: { proof: once } })).status).toBe(200);
    const replay = await h.call('POST', '/api/auth/token', { body: { proof: once } });
    expect(replay.body.code).toBe('RELAY_ERR_NONCE_REPLAYED');
    // The challenge survived every failed attempt above.
    expect((await h.call('POST', '/api/auth/token', { body: { proof: good } })).status).toBe(200);
    expect((await h.call('POST', '/api/auth/token', { body: { proof: good } })).body.code).toBe(
      'RELAY_ERR_CHALLENGE_INVALID',
    );
  });
});
