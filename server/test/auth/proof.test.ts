import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHALLENGE_TTL_MS, issueChallenge, verifyProof } from '../../src/auth/proof.js';
import { MemoryReplayCache } from '../../src/store/memory/replay-cache.js';
import { deviceKey, proofFor } from './helpers.js';

function deps(clock = { t: 1_700_000_000_000 }) {
  const failures: string[] = [];
  return {
    clock,
    failures,
    deps: {
      replay: new MemoryReplayCache({ now: () => clock.t }),
      now: () => clock.t,
      clockSkewMs: 60_000,
      onFailure: (code: string) => failures.push(code),
    },
  };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('verifyProof', () => {
  it('accepts a challenge proof once and derives the device id', async () => {
    const { deps: d } = deps();
    const key = deviceKey();
    const { challenge, expiresAt } = await issueChallenge(d);
    expect(expiresAt).toBe(d.now() + CHALLENGE_TTL_MS);
    const proof = proofFor('token', key, { challenge });
    const proven = await verifyProof(proof, 'token', d);
    expect(proven.publicKey).toBe(key.publicKey);
    expect(proven.deviceId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await codeOf(verifyProof(proof, 'token', d))).toBe('RELAY_ERR_CHALLENGE_INVALID');
  });

  it('accepts a timestamp proof once (nonce replay refused)', async () => {
    const { deps: d, failures } = deps();
    const proof = proofFor('token', deviceKey(), { timestamp: d.now() - 30_000 });
    await verifyProof(proof, 'token', d);
    expect(await codeOf(verifyProof(proof, 'token', d))).toBe('RELAY_ERR_NONCE_REPLAYED');
    expect(failures).toEqual(['RELAY_ERR_NONCE_REPLAYED']);
  });

  it('keeps a nonce for as long as its timestamp is acceptable', async () => {
    const { deps: d, clock } = deps();
    const proof = proofFor('token', deviceKey(), { timestamp: d.now() + 59_000 });
    await verifyProof(proof, 'token', d);
    clock.t += 118_000; // timestamp is now 59 s in the past: still inside the skew
    expect(await codeOf(verifyProof(proof, 'token', d))).toBe('RELAY_ERR_NONCE_REPLAYED');
  });

  it('refuses a timestamp outside the clock skew', async () => {
    const { deps: d } = deps();
    const key = deviceKey();
    expect(await codeOf(verifyProof(proofFor('token', key, { timestamp: d.now() - 61_000 }), 'token', d))).toBe(
      'RELAY_ERR_TIMESTAMP_SKEW',
    );
    expect(await codeOf(verifyProof(proofFor('token', key, { timestamp: d.now() + 61_000 }), 'token', d))).toBe(
      'RELAY_ERR_TIMESTAMP_SKEW',
    );
  });

  it('refuses a proof with neither or both forms, or half a timestamp form', async () => {
    const { deps: d } = deps();
    const key = deviceKey();
    const { challenge } = await issueChallenge(d);
    const good = proofFor('token', key, { challenge });
    const { challenge: _c, ...neither } = good;
    expect(await codeOf(verifyProof(neither, 'token', d))).toBe('RELAY_ERR_PROOF_INVALID');
    const both = { ...good, timestamp: d.now(), nonce: randomBytes(16).toString('base64url') };
    expect(await codeOf(verifyProof(both, 'token', d))).toBe('RELAY_ERR_PROOF_INVALID');
    const ts = proofFor('token', key, { timestamp: d.now() });
    expect(await codeOf(verifyProof({ ...ts, nonce: undefined }, 'token', d))).toBe('RELAY_ERR_PROOF_INVALID');
  });

  it('refuses public keys of small order or not canonical', async () => {
    const { deps: d } = deps();
    const good = proofFor('token', deviceKey(), { timestamp: d.now() });
    const identity = Buffer.alloc(32);
    identity[0] = 1;
    const unreduced = Buffer.alloc(32, 0xff);
    unreduced[31] = 0x7f;
    for (const raw of [Buffer.alloc(32), identity, unreduced]) {
      const proof = { ...good, publicKey: raw.toString('base64url') };
      expect(await codeOf(verifyProof(proof, 'token', d))).toBe('RELAY_ERR_PROOF_INVALID');
    }
  });

  it('refuses a signature for another purpose, key or challenge', async () => {
    const { deps: d, failures } = deps();
    const key = deviceKey();
    const { challenge } = await issueChallenge(d);
    const forToken = proofFor('token', key, { challenge });
    expect(await codeOf(verifyProof(forToken, 'register', d))).toBe('RELAY_ERR_SIGNATURE_INVALID');
    const otherKey = { ...forToken, publicKey: deviceKey().publicKey };
    expect(await codeOf(verifyProof(otherKey, 'token', d))).toBe('RELAY_ERR_SIGNATURE_INVALID');
    // The failed attempts did not spend the challenge: the genuine proof still passes.
    await verifyProof(forToken, 'token', d);
    expect(failures).toEqual(['RELAY_ERR_SIGNATURE_INVALID', 'RELAY_ERR_SIGNATURE_INVALID']);
  });

  it('refuses an unknown or expired challenge', async () => {
    const { deps: d, clock } = deps();
    const key = deviceKey();
    const unknown = proofFor('token', key, { challenge: randomBytes(32).toString('base64url') });
    expect(await codeOf(verifyProof(unknown, 'token', d))).toBe('RELAY_ERR_CHALLENGE_INVALID');
    const { challenge } = await issueChallenge(d);
    clock.t += CHALLENGE_TTL_MS;
    expect(await codeOf(verifyProof(proofFor('token', key, { challenge }), 'token', d))).toBe(
      'RELAY_ERR_CHALLENGE_INVALID',
    );
  });
});
