/** RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s), as the relay checks it; the test plays the authenticator app. */
import { createHmac } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(secret: string): Buffer {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of secret.replace(/[\s=]/g, '').toUpperCase()) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** The 30-second step `now` falls in. */
export function totpCounter(now = Date.now()): number {
  return Math.floor(now / 30_000);
}

/**
 * The 6-digit code for `counter` (RFC 4226 dynamic truncation).
 *
 * @example
 * totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', totpCounter()); // what an authenticator shows now
 */
export function totpCode(secret: string, counter: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32(secret)).update(msg).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const n = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(n % 1_000_000).padStart(6, '0');
}
