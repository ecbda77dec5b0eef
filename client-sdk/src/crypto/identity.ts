/**
 * Device identity: an Ed25519 keypair made on the device. The relay knows the device by the public key (and the id
 * derived from it); peers derive their end-to-end keys from it (see session.ts).
 */
import { OppieError } from '../errors.js';
import { fromB64u, sodiumReady, sodiumSync, toB64u, utf8 } from './sodium.js';

/** An Ed25519 keypair in libsodium's layout. */
export interface Identity {
  /** 32 bytes, Ed25519. */
  readonly publicKey: Uint8Array;
  /** 64 bytes: the 32-byte seed followed by the public key (libsodium's layout). */
  readonly secretKey: Uint8Array;
}

/** Characters of a device id: 22 base64url characters, 132 bits of the hash (server/src/auth/device-id.ts). */
export const DEVICE_ID_LENGTH = 22;

/**
 * Makes a new identity from the platform's CSPRNG (libsodium uses `crypto.getRandomValues`).
 *
 * @example
 * const id = await generateIdentity();
 * await storage.set('identity', serializeIdentity(id));
 */
export async function generateIdentity(): Promise<Identity> {
  const s = await sodiumReady();
  const { publicKey, privateKey } = s.crypto_sign_keypair();
  return { publicKey, secretKey: privateKey };
}

/**
 * The storage form of an identity: JSON with the seed (from which everything else is re-derived on load) and the
 * public key (so a corrupted or mismatched record is caught on load rather than at the relay).
 * The result is secret: store it where only this device can read it.
 *
 * @example
 * await storage.set('identity', serializeIdentity(id));
 */
export function serializeIdentity(id: Identity): string {
  checkIdentity(id);
  return JSON.stringify({ v: 1, publicKey: toB64u(id.publicKey), seed: toB64u(id.secretKey.subarray(0, 32)) });
}

/**
 * Loads an identity written by {@link serializeIdentity}. Needs libsodium loaded (`await sodiumReady()`).
 *
 * @throws OppieError OPPIE_ERR_STORAGE when the record is malformed or its public key does not match its seed
 * @example
 * await sodiumReady();
 * const id = parseIdentity(await storage.get('identity'));
 */
export function parseIdentity(s: string): Identity {
  const fail = (why: string, cause?: unknown) =>
    new OppieError('OPPIE_ERR_STORAGE', `stored identity is unusable: ${why}`, { cause });
  let rec: unknown;
  try {
    rec = JSON.parse(s);
  } catch (err) {
    throw fail('not JSON', err);
  }
  if (typeof rec !== 'object' || rec === null) throw fail('not an object');
  const { v, publicKey, seed } = rec as Record<string, unknown>;
  if (v !== 1) throw fail(`unknown version ${String(v)}`);
  if (typeof publicKey !== 'string' || typeof seed !== 'string') throw fail('publicKey and seed must be strings');
  let seedBytes: Uint8Array;
  let pk: Uint8Array;
  try {
    seedBytes = fromB64u(seed);
    pk = fromB64u(publicKey);
  } catch (err) {
    throw fail('bad base64url', err);
  }
  if (seedBytes.length !== 32) throw fail('seed is not 32 bytes');
  const kp = sodiumSync().crypto_sign_seed_keypair(seedBytes);
  if (pk.length !== 32 || !sodiumSync().memcmp(kp.publicKey, pk)) {
    throw fail('public key does not match the seed');
  }
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

/**
 * The relay's device id for a public key: `base64url(SHA-256(publicKey)).slice(0, 22)`, identical to
 * `deriveDeviceId` in server/src/auth/device-id.ts, so a client knows its id before registering and can check that a
 * peer's id belongs to the key it was given.
 *
 * @throws OppieError OPPIE_ERR_PROTOCOL when the key is not 32 bytes
 * @example
 * const me = await deviceIdOf(identity.publicKey);
 */
export async function deviceIdOf(publicKey: Uint8Array): Promise<string> {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'an Ed25519 public key is 32 bytes');
  }
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new Uint8Array(publicKey));
  return toB64u(new Uint8Array(digest)).slice(0, DEVICE_ID_LENGTH);
}

/**
 * Signs a relay proof message (`proofMessage()` from @oppie/protocol) with the device key: a base64url Ed25519
 * detached signature, as `Proof.signature` expects. Needs libsodium loaded.
 *
 * @example
 * const message = proofMessage('token', { publicKey: toB64u(id.publicKey), challenge });
 * const proof = { publicKey: toB64u(id.publicKey), challenge, signature: signProof(id, message) };
 */
export function signProof(identity: Identity, message: string): string {
  checkIdentity(identity);
  return toB64u(sodiumSync().crypto_sign_detached(utf8(message), identity.secretKey));
}

function checkIdentity(id: Identity): void {
  if (id.publicKey?.length !== 32 || id.secretKey?.length !== 64) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'an identity is a 32-byte public key and a 64-byte secret key');
  }
}
