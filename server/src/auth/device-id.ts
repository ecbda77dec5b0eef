import { createHash, randomBytes } from 'node:crypto';

/** Length of a device id: 22 base64url characters carry 132 bits of the hash, ample against collisions. */
export const DEVICE_ID_LENGTH = 22;

/**
 * Derives a device id from the device's raw Ed25519 public key.
 *
 * `deviceId = base64url(sha256(rawPublicKey)).slice(0, 22)`, where `rawPublicKey` is the 32-byte key (the JWK `x`
 * member decoded, not the SPKI encoding). Because the id is a function of the key, a device cannot claim another
 * device's id, every relay instance derives the same id without asking the store, and a client can compute its own
 * id before registering.
 *
 * @param rawPublicKey the 32 raw key bytes
 * @example
 * const deviceId = deriveDeviceId(Buffer.from(proof.publicKey, 'base64url'));
 */
export function deriveDeviceId(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('base64url').slice(0, DEVICE_ID_LENGTH);
}

/** A random identifier (accounts, token ids): 16 bytes, base64url. */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

/** sha256 of a string, base64url: how one-time secrets are stored. */
export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}
