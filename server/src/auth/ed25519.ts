import { createPublicKey, type KeyObject } from 'node:crypto';

const hex = (s: string) => Buffer.from(s, 'hex');

/**
 * y coordinates (little-endian, sign bit of x cleared) of the points of small order: the identity, order 2 and 4,
 * and the two of order 8 (libsodium's `has_small_order` list). Node imports them without complaint, yet a signature
 * under such a key can be made without any private key, so a device must never be registered with one.
 */
const SMALL_ORDER_Y = [
  hex('0000000000000000000000000000000000000000000000000000000000000000'),
  hex('0100000000000000000000000000000000000000000000000000000000000000'),
  hex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'),
  hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'),
  hex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
];

/** y >= p = 2^255 - 19 is a non-canonical spelling of another point (p and p + 1 are the small-order ones). */
function unreduced(y: Buffer): boolean {
  if (y[31] !== 0x7f || (y[0] as number) < 0xed) return false;
  for (let i = 1; i < 31; i++) if (y[i] !== 0xff) return false;
  return true;
}

/**
 * Imports a device public key: exactly 32 raw bytes, canonical, and not a point of small order.
 *
 * @returns the key, or undefined when the bytes are not an acceptable Ed25519 public key
 * @example
 * const key = importDeviceKey(Buffer.from(proof.publicKey, 'base64url'));
 */
export function importDeviceKey(raw: Buffer): KeyObject | undefined {
  if (raw.length !== 32) return undefined;
  const y = Buffer.from(raw);
  y[31] = (y[31] as number) & 0x7f;
  if (unreduced(y) || SMALL_ORDER_Y.some((weak) => weak.equals(y))) return undefined;
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  } catch {
    // Node refused the key: the caller reports it as RELAY_ERR_PROOF_INVALID.
    return undefined;
  }
}
