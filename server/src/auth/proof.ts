/**
 * Proof of possession of a device key: an Ed25519 signature over `proofMessage(purpose, proof)`, fresh because it is
 * bound to a single-use server challenge or to a recent timestamp plus a never-reused nonce.
 */
import { verify } from 'node:crypto';
import { type ErrorCode, type Proof, type ProofPurpose, proofMessage, RelayError } from '@oppie/protocol';
import { deriveDeviceId, randomId } from './device-id.js';
import { importDeviceKey } from './ed25519.js';
import type { ReplayCache } from './stores.js';

/** How long a challenge from GET /api/auth/challenge can be used. */
export const CHALLENGE_TTL_MS = 60_000;

export interface ProofDeps {
  readonly replay: ReplayCache;
  readonly now: () => number;
  readonly clockSkewMs: number;
  /** Called with the code of every refused proof, before it is thrown. */
  readonly onFailure?: (code: ErrorCode) => void;
}

/** The verified identity behind a proof. */
export interface ProvenKey {
  readonly publicKey: string;
  readonly deviceId: string;
}

/**
 * Issues a single-use challenge.
 *
 * @example
 * const { challenge, expiresAt } = await issueChallenge(deps);
 */
export async function issueChallenge(deps: ProofDeps): Promise<{ challenge: string; expiresAt: number }> {
  const challenge = randomId(32);
  const expiresAt = deps.now() + CHALLENGE_TTL_MS;
  await deps.replay.add(`challenge:${challenge}`, expiresAt);
  return { challenge, expiresAt };
}

/**
 * Verifies a proof for one purpose and spends its challenge or nonce. Checks run cheapest first, and the challenge
 * or nonce is spent only after the signature verifies, so a forged request cannot burn a legitimate device's proof.
 *
 * @throws RelayError RELAY_ERR_PROOF_INVALID, RELAY_ERR_TIMESTAMP_SKEW, RELAY_ERR_SIGNATURE_INVALID,
 *   RELAY_ERR_CHALLENGE_INVALID or RELAY_ERR_NONCE_REPLAYED
 * @example
 * const { deviceId } = await verifyProof(body.proof, 'token', deps);
 */
export async function verifyProof(proof: Proof, purpose: ProofPurpose, deps: ProofDeps): Promise<ProvenKey> {
  const fail = (code: ErrorCode, message?: string): RelayError => {
    deps.onFailure?.(code);
    return new RelayError(code, message);
  };
  const hasChallenge = proof.challenge !== undefined;
  const hasTimestamp = proof.timestamp !== undefined || proof.nonce !== undefined;
  if (hasChallenge === hasTimestamp) {
    throw fail('RELAY_ERR_PROOF_INVALID', 'a proof carries either a challenge or a timestamp and a nonce');
  }
  if (hasTimestamp && (proof.timestamp === undefined || proof.nonce === undefined)) {
    throw fail('RELAY_ERR_PROOF_INVALID', 'a timestamp proof needs both timestamp and nonce');
  }
  const raw = Buffer.from(proof.publicKey, 'base64url');
  const key = importDeviceKey(raw);
  if (key === undefined) throw fail('RELAY_ERR_PROOF_INVALID', 'publicKey is not an acceptable Ed25519 key');
  const signature = Buffer.from(proof.signature, 'base64url');
  if (signature.length !== 64) throw fail('RELAY_ERR_PROOF_INVALID', 'signature is not 64 bytes');

  const now = deps.now();
  if (proof.timestamp !== undefined && Math.abs(now - proof.timestamp) > deps.clockSkewMs) {
    throw fail('RELAY_ERR_TIMESTAMP_SKEW');
  }
  const message = Buffer.from(proofMessage(purpose, proof), 'utf8');
  if (!verify(null, message, key, signature)) throw fail('RELAY_ERR_SIGNATURE_INVALID');

  if (proof.challenge !== undefined) {
    if (!(await deps.replay.take(`challenge:${proof.challenge}`))) throw fail('RELAY_ERR_CHALLENGE_INVALID');
  } else {
    // A nonce must outlive every instant at which its timestamp is still accepted.
    const until = (proof.timestamp as number) + deps.clockSkewMs + 1;
    if (!(await deps.replay.add(`nonce:${proof.publicKey}:${proof.nonce}`, until))) {
      throw fail('RELAY_ERR_NONCE_REPLAYED');
    }
  }
  // The canonical encoding is stored, so one key never appears under two spellings.
  return { publicKey: raw.toString('base64url'), deviceId: deriveDeviceId(raw) };
}
