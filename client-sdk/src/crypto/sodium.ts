/**
 * libsodium loading and the base64url codec every key, signature and ciphertext travels in.
 *
 * The codec is hand-written rather than libsodium's `to_base64` so it works before the WebAssembly module has loaded
 * and rejects every non-canonical spelling: one byte string has exactly one accepted encoding, so a key or a MAC can
 * be compared by its text.
 */
import sodium from 'libsodium-wrappers';
import { OppieError } from '../errors.js';

export type Sodium = typeof sodium;

let loading: Promise<Sodium> | undefined;
let loaded: Sodium | undefined;

/**
 * Resolves once libsodium's WebAssembly module is ready; later calls return the same instance at once.
 *
 * @example
 * const s = await sodiumReady();
 * const nonce = s.randombytes_buf(24);
 */
export async function sodiumReady(): Promise<Sodium> {
  loading ??= sodium.ready.then(() => {
    loaded = sodium;
    return sodium;
  });
  return loading;
}

/**
 * libsodium for synchronous code paths (`signProof`, `PeerSession.seal`) that only run after an async constructor
 * awaited {@link sodiumReady}. Calling one before that is a programming error, not a runtime condition.
 */
export function sodiumSync(): Sodium {
  if (loaded === undefined) throw new Error('libsodium is not loaded yet: await sodiumReady() first');
  return loaded;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Encodes bytes as base64url without padding (RFC 4648 section 5).
 *
 * @example
 * toB64u(new Uint8Array([0xfb, 0xff])); // '-_8'
 */
export function toB64u(bytes: Uint8Array): string {
  return encode64(bytes, ENCODE, false);
}

/**
 * Encodes bytes as base64 with padding (RFC 4648 section 4).
 *
 * @example
 * toB64(new Uint8Array([0xfb, 0xff])); // '+/8='
 */
export function toB64(bytes: Uint8Array): string {
  return encode64(bytes, ENCODE_STD, true);
}

/**
 * Characters of the base64 of `n` bytes: `=`-padded to whole quads with `pad` (RFC 4648 section 4), else unpadded
 * (base64url as the SDK writes it).
 *
 * @example
 * b64Length(2, true); // 4 ('+/8='); b64Length(2, false) is 3 ('-_8')
 */
export function b64Length(n: number, pad: boolean): number {
  const rest = n % 3;
  return Math.floor(n / 3) * 4 + (rest === 0 ? 0 : pad ? 4 : rest + 1);
}

/** Base64 of `bytes` in the alphabet `codes` (64 ASCII codes), `=`-padded to whole quads with `pad`. */
function encode64(bytes: Uint8Array, codes: Uint8Array, pad: boolean): string {
  // Written into a byte buffer and decoded once: string concatenation per character costs ~20x more on 48 KiB frames.
  const n = bytes.length;
  const rest = n % 3;
  const out = new Uint8Array(b64Length(n, pad));
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out[o++] = codes[v >>> 18] as number;
    out[o++] = codes[(v >>> 12) & 63] as number;
    out[o++] = codes[(v >>> 6) & 63] as number;
    out[o++] = codes[v & 63] as number;
  }
  if (rest > 0) {
    const v = ((bytes[i] as number) << 16) | (rest === 2 ? (bytes[i + 1] as number) << 8 : 0);
    out[o++] = codes[v >>> 18] as number;
    out[o++] = codes[(v >>> 12) & 63] as number;
    if (rest === 2) out[o++] = codes[(v >>> 6) & 63] as number;
    while (pad && o < out.length) out[o++] = 61; // '='
  }
  return asciiDecoder.decode(out);
}

const ENCODE = new TextEncoder().encode(ALPHABET);
const ENCODE_STD = new TextEncoder().encode(`${ALPHABET.slice(0, 62)}+/`);
const asciiDecoder = new TextDecoder();

/**
 * Decodes unpadded base64url. Padding, whitespace, the `+/` alphabet, an impossible length and non-zero unused
 * trailing bits are all refused, so the encoding is canonical.
 *
 * @throws OppieError OPPIE_ERR_PROTOCOL on any malformed input
 * @example
 * fromB64u('-_8'); // Uint8Array [0xfb, 0xff]
 */
export function fromB64u(str: string): Uint8Array {
  if (typeof str !== 'string') throw new OppieError('OPPIE_ERR_PROTOCOL', 'base64url: expected a string');
  if (str.length % 4 === 1) throw new OppieError('OPPIE_ERR_PROTOCOL', 'base64url: impossible length');
  const out = new Uint8Array(Math.floor((str.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    const v = c < 128 ? (DECODE[c] as number) : -1;
    if (v < 0) throw new OppieError('OPPIE_ERR_PROTOCOL', `base64url: invalid character at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'base64url: non-canonical trailing bits');
  }
  return out;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string (one shared encoder). */
export const utf8 = (s: string): Uint8Array => encoder.encode(s);
