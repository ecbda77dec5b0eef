/**
 * The frame cipher behind {@link PeerSession}: XChaCha20-Poly1305-IETF (combined mode: ciphertext || 16-byte tag) and
 * the base64url codec a sealed frame travels in, as a replaceable backend. Every backend produces the same bytes and
 * the same text for the same inputs, so the two ends of a pair may use different ones.
 *
 * The default is libsodium's WebAssembly build and the SDK's own codec (browsers). A runtime with faster primitives
 * injects them: {@link nodeFrameCrypto} uses OpenSSL's ChaCha20-Poly1305 (through HChaCha20 for the extended nonce)
 * and Node's `Buffer` base64url, several times faster on large frames.
 */
import { OppieError } from '../errors.js';
import { fromB64u, type Sodium, toB64u } from './sodium.js';

export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;

/** XChaCha20-Poly1305-IETF, combined mode. */
export interface Aead {
  /** ciphertext || tag of `plaintext` under `key` (32 bytes) and `nonce` (24 bytes), `ad` authenticated. */
  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * The plaintext; throws (any error) when the tag does not verify. The caller owns the returned memory and may keep
   * views of it (a received chunk is kept as bytes until it is delivered): never a reused scratch buffer.
   */
  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array): Uint8Array;
  /**
   * Inputs (plaintext to seal, ciphertext to open) shorter than this go to libsodium instead: a backend with a fixed
   * cost per call may lose to the WebAssembly build on small frames. Default 0 (this backend for everything).
   */
  readonly minBytes?: number;
  /**
   * Optional: {@link Aead.seal} into a new array of `offset` + ciphertext + tag bytes, leaving the first `offset`
   * bytes to the caller (the nonce goes there), so a sealed frame is allocated and written once.
   */
  sealAt?(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, offset: number): Uint8Array;
  /**
   * Optional: {@link Aead.open} that may decrypt over `sealed` (memory the caller gives up: its own copy, or a received
   * data-channel message) and return a view of it, instead of allocating the plaintext. On a bad tag it throws and the
   * caller discards `sealed`.
   */
  openInPlace?(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array): Uint8Array;
}

/** Unpadded base64url (RFC 4648 section 5). `decode` must refuse every non-canonical spelling, as {@link fromB64u}. */
export interface Base64url {
  encode(bytes: Uint8Array): string;
  decode(text: string): Uint8Array;
}

/** What a {@link PeerSession} seals and opens frames with. */
export interface FrameCrypto {
  readonly aead: Aead;
  readonly base64url: Base64url;
}

/** libsodium (WebAssembly) for the AEAD. */
export function sodiumAead(s: Sodium): Aead {
  return {
    seal: (key, nonce, ad, plaintext) => s.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key),
    open: (key, nonce, ad, sealed) => s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed, ad, nonce, key),
  };
}

/** The SDK's portable base64url codec. */
export const jsBase64url: Base64url = { encode: toB64u, decode: fromB64u };

let defaultBackend: Partial<FrameCrypto> = {};

/**
 * Sets the process-wide backend for sessions created without one (see {@link PeerSession.create}); parts left out
 * stay the portable default. Call it once at startup, before sessions are created.
 *
 * @example
 * import * as nodeCrypto from 'node:crypto';
 * setDefaultFrameCrypto(nodeFrameCrypto(nodeCrypto));
 */
export function setDefaultFrameCrypto(backend: Partial<FrameCrypto>): void {
  defaultBackend = { ...backend };
}

/**
 * The base64url codec of the process default ({@link setDefaultFrameCrypto}), else the SDK's own: what a client
 * without `platform.frameCrypto` uses for chunk text and data-channel envelopes, the same codec its sessions use.
 *
 * @example
 * const codec = platform.frameCrypto?.base64url ?? defaultBase64url();
 */
export function defaultBase64url(): Base64url {
  return defaultBackend.base64url ?? jsBase64url;
}

/** A resolved backend: every AEAD has {@link Aead.sealAt} and {@link Aead.openInPlace} (adapters where absent). */
export interface ResolvedFrameCrypto {
  readonly aead: Aead & Pick<Required<Aead>, 'sealAt' | 'openInPlace'>;
  readonly base64url: Base64url;
}

/** The backend for a new session: `explicit` parts first, then the process default, then libsodium and the JS codec. */
export function resolveFrameCrypto(s: Sodium, explicit: Partial<FrameCrypto> = {}): ResolvedFrameCrypto {
  const sodium = sodiumAead(s);
  const chosen = explicit.aead ?? defaultBackend.aead ?? sodium;
  const min = chosen.minBytes ?? 0;
  const aead: Aead =
    min <= 0
      ? chosen
      : {
          seal: (key, nonce, ad, pt) => (pt.length < min ? sodium : chosen).seal(key, nonce, ad, pt),
          open: (key, nonce, ad, ct) => (ct.length < min ? sodium : chosen).open(key, nonce, ad, ct),
        };
  const base64url = explicit.base64url ?? defaultBackend.base64url ?? jsBase64url;
  // Closures, not a spread: a backend written as a class keeps its prototype methods and its `this`.
  const own = min <= 0 ? chosen.sealAt : undefined;
  const ownOpen = min <= 0 ? chosen.openInPlace : undefined;
  return {
    aead: {
      seal: (key, nonce, ad, pt) => aead.seal(key, nonce, ad, pt),
      open: (key, nonce, ad, ct) => aead.open(key, nonce, ad, ct),
      openInPlace:
        ownOpen !== undefined
          ? (key, nonce, ad, ct) => ownOpen.call(chosen, key, nonce, ad, ct)
          : (key, nonce, ad, ct) => aead.open(key, nonce, ad, ct),
      sealAt:
        own !== undefined
          ? (key, nonce, ad, pt, offset) => own.call(chosen, key, nonce, ad, pt, offset)
          : (key, nonce, ad, pt, offset) => {
              const ct = aead.seal(key, nonce, ad, pt);
              const out = new Uint8Array(offset + ct.length);
              out.set(ct, offset);
              return out;
            },
    },
    base64url,
  };
}

// ---- Native libsodium (sodium-native): XChaCha20-Poly1305 in C, into caller-allocated arrays ----

/** The part of `sodium-native` {@link nativeSodiumAead} uses (structural: this file never imports Node modules). */
export interface SodiumNativeLike {
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Throws when the tag does not verify. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
}

/**
 * XChaCha20-Poly1305-IETF from native libsodium (the `sodium-native` addon): the same construction and bytes as the
 * WebAssembly build, without the copies in and out of its heap, and written straight into the frame's array
 * ({@link Aead.sealAt}). Measured on Node 20 here: about 3 µs to seal 1 KiB (WebAssembly 9, OpenSSL 20) and 35-44 µs
 * for 48 KB (OpenSSL through {@link nodeAead} 59, with its HChaCha20 and copies). Fast at every size: `minBytes` 0.
 *
 * @example
 * import sodiumNative from 'sodium-native';
 * setDefaultFrameCrypto({ aead: nativeSodiumAead(sodiumNative) });
 */
export function nativeSodiumAead(sn: SodiumNativeLike): Aead {
  const check = (key: Uint8Array, nonce: Uint8Array) => {
    if (key.length !== AEAD_KEY_BYTES) throw new RangeError('aead: the key must be 32 bytes');
    if (nonce.length !== AEAD_NONCE_BYTES) throw new RangeError('aead: the nonce must be 24 bytes');
  };
  const sealAt = (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, offset: number) => {
    check(key, nonce);
    const out = new Uint8Array(offset + plaintext.length + AEAD_TAG_BYTES);
    sn.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(offset), plaintext, ad, null, nonce, key);
    return out;
  };
  // libsodium checks the tag before it writes, and its stream cipher XORs in place.
  const openInPlace = (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array) => {
    check(key, nonce);
    if (sealed.length < AEAD_TAG_BYTES) throw new Error('aead: ciphertext shorter than the tag');
    const out = sealed.subarray(0, sealed.length - AEAD_TAG_BYTES);
    sn.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed, ad, nonce, key);
    return out;
  };
  return {
    sealAt,
    seal: (key, nonce, ad, plaintext) => sealAt(key, nonce, ad, plaintext, 0),
    openInPlace,
    // The caller keeps `sealed`: decrypt over a copy of it (one allocation, as before).
    open: (key, nonce, ad, sealed) => openInPlace(key, nonce, ad, sealed.slice()),
  };
}

// ---- Node: OpenSSL ChaCha20-Poly1305 + HChaCha20, Buffer base64url ----

/** The part of `node:crypto` the Node backend uses (structural, so this file never imports Node modules). */
export interface NodeCryptoLike {
  getCiphers(): string[];
  createCipheriv(
    algorithm: 'chacha20-poly1305',
    key: Uint8Array,
    iv: Uint8Array,
    options: { authTagLength: number },
  ): NodeAeadCipher;
  createDecipheriv(
    algorithm: 'chacha20-poly1305',
    key: Uint8Array,
    iv: Uint8Array,
    options: { authTagLength: number },
  ): NodeAeadDecipher;
}
interface NodeAeadCipher {
  setAAD(ad: Uint8Array, options: { plaintextLength: number }): unknown;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
  getAuthTag(): Uint8Array;
}
interface NodeAeadDecipher {
  setAAD(ad: Uint8Array, options: { plaintextLength: number }): unknown;
  setAuthTag(tag: Uint8Array): unknown;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}
/** The part of Node's `Buffer` the Node codec uses. */
export interface BufferLike {
  from(text: string, encoding: 'base64url'): Uint8Array & { toString(encoding: 'base64url'): string };
  from(
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
  ): Uint8Array & { toString(encoding: 'base64url'): string };
  byteLength(text: string, encoding: 'utf8'): number;
}

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

const le32 = (b: Uint8Array, i: number): number =>
  ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha, libsodium `crypto_core_hchacha20` with the default constants): the 32-byte
 * subkey for `key` and the first 16 bytes of an extended nonce.
 */
export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  if (key.length !== AEAD_KEY_BYTES || nonce16.length < 16) throw new RangeError('hchacha20: bad key or nonce length');
  const x = new Uint32Array(16);
  x.set(SIGMA);
  for (let i = 0; i < 8; i++) x[4 + i] = le32(key, i * 4);
  for (let i = 0; i < 4; i++) x[12 + i] = le32(nonce16, i * 4);
  for (let r = 0; r < 10; r++) {
    quarterRound(x, 0, 4, 8, 12);
    quarterRound(x, 1, 5, 9, 13);
    quarterRound(x, 2, 6, 10, 14);
    quarterRound(x, 3, 7, 11, 15);
    quarterRound(x, 0, 5, 10, 15);
    quarterRound(x, 1, 6, 11, 12);
    quarterRound(x, 2, 7, 8, 13);
    quarterRound(x, 3, 4, 9, 14);
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const w = x[i < 4 ? i : i + 8] as number;
    out[i * 4] = w;
    out[i * 4 + 1] = w >>> 8;
    out[i * 4 + 2] = w >>> 16;
    out[i * 4 + 3] = w >>> 24;
  }
  x.fill(0);
  return out;
}

const rotl = (v: number, n: number): number => (v << n) | (v >>> (32 - n));

/** The ChaCha quarter round on state words a, b, c, d (RFC 8439 section 2.1); the Uint32Array wraps the sums. */
function quarterRound(x: Uint32Array, a: number, b: number, c: number, d: number): void {
  x[a] = (x[a] as number) + (x[b] as number);
  x[d] = rotl((x[d] as number) ^ (x[a] as number), 16);
  x[c] = (x[c] as number) + (x[d] as number);
  x[b] = rotl((x[b] as number) ^ (x[c] as number), 12);
  x[a] = (x[a] as number) + (x[b] as number);
  x[d] = rotl((x[d] as number) ^ (x[a] as number), 8);
  x[c] = (x[c] as number) + (x[d] as number);
  x[b] = rotl((x[b] as number) ^ (x[c] as number), 7);
}

/**
 * A plain Uint8Array view of a Node `Buffer` (no copy): callers get the type every other backend returns, where
 * `slice` copies (`Buffer#slice` would share memory).
 */
const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * Below this many bytes libsodium's WebAssembly AEAD is faster than a Node cipher object (measured on Node 20: about
 * 12 vs 27 µs to seal 1 KiB, even at 2 KiB, 3 vs 1 times faster from 8 KiB up).
 */
export const NODE_AEAD_MIN_BYTES = 2048;

/**
 * XChaCha20-Poly1305-IETF on OpenSSL's ChaCha20-Poly1305 (RFC 8439): subkey = HChaCha20(key, nonce[0..16]),
 * IETF nonce = 4 zero bytes || nonce[16..24], exactly as libsodium builds it, so the bytes are identical. Through
 * {@link PeerSession} it takes frames from {@link NODE_AEAD_MIN_BYTES} up (`minBytes`; pass 0 for every size).
 *
 * @throws Error when this Node has no `chacha20-poly1305` cipher
 * @example
 * import * as nodeCrypto from 'node:crypto';
 * const aead = nodeAead(nodeCrypto);
 */
export function nodeAead(nodeCrypto: NodeCryptoLike, minBytes = NODE_AEAD_MIN_BYTES): Aead {
  if (!nodeCrypto.getCiphers().includes('chacha20-poly1305')) {
    throw new Error('this runtime has no chacha20-poly1305 cipher');
  }
  const opts = { authTagLength: AEAD_TAG_BYTES };
  const ietfNonce = (nonce: Uint8Array): Uint8Array => {
    const iv = new Uint8Array(12);
    iv.set(nonce.subarray(16, 24), 4);
    return iv;
  };
  const check = (key: Uint8Array, nonce: Uint8Array) => {
    if (key.length !== AEAD_KEY_BYTES) throw new RangeError('aead: the key must be 32 bytes');
    if (nonce.length !== AEAD_NONCE_BYTES) throw new RangeError('aead: the nonce must be 24 bytes');
  };
  return {
    minBytes,
    seal(key, nonce, ad, plaintext) {
      check(key, nonce);
      const subkey = hchacha20(key, nonce);
      try {
        const c = nodeCrypto.createCipheriv('chacha20-poly1305', subkey, ietfNonce(nonce), opts);
        c.setAAD(ad, { plaintextLength: plaintext.length });
        const body = c.update(plaintext);
        const tail = c.final();
        const tag = c.getAuthTag();
        const out = new Uint8Array(body.length + tail.length + AEAD_TAG_BYTES);
        out.set(body);
        out.set(tail, body.length);
        out.set(tag, body.length + tail.length);
        return out;
      } finally {
        subkey.fill(0);
      }
    },
    open(key, nonce, ad, sealed) {
      check(key, nonce);
      if (sealed.length < AEAD_TAG_BYTES) throw new Error('aead: ciphertext shorter than the tag');
      const n = sealed.length - AEAD_TAG_BYTES;
      const subkey = hchacha20(key, nonce);
      try {
        const d = nodeCrypto.createDecipheriv('chacha20-poly1305', subkey, ietfNonce(nonce), opts);
        d.setAAD(ad, { plaintextLength: n });
        d.setAuthTag(sealed.subarray(n));
        const body = d.update(sealed.subarray(0, n));
        const tail = d.final(); // throws when the tag does not verify; nothing of `body` is returned then
        if (tail.length === 0) return plain(body);
        const out = new Uint8Array(body.length + tail.length);
        out.set(body);
        out.set(tail, body.length);
        return out;
      } finally {
        subkey.fill(0);
      }
    },
  };
}

/**
 * Base64url on Node's `Buffer`, canonical like {@link fromB64u}. `Buffer` decoding is lenient: it skips padding,
 * whitespace and foreign ASCII (each skipped character shortens the output), takes `+/` as well as `-_`, and reads a
 * character from U+0100 up by its low byte. So a text is accepted only when its length is possible, it is ASCII,
 * nothing was skipped (the output has exactly the length the text implies), it has no `+` or `/`, and the unused low
 * bits of its last character are zero; the same set as re-encoding and comparing, at about half the cost on a 64 KB
 * frame.
 *
 * @example
 * const codec = nodeBase64url(Buffer);
 */
export function nodeBase64url(buffer: BufferLike): Base64url {
  return {
    encode: (bytes) => buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url'),
    decode(text) {
      if (typeof text !== 'string') throw new OppieError('OPPIE_ERR_PROTOCOL', 'base64url: expected a string');
      const n = text.length;
      const bytes = buffer.from(text, 'base64url');
      if (
        n % 4 === 1 ||
        // ASCII only: Buffer reads a character from U+0100 up by its low byte (U+0141 as 'A').
        buffer.byteLength(text, 'utf8') !== n ||
        bytes.length !== Math.floor((n * 3) / 4) ||
        text.includes('+') ||
        text.includes('/') ||
        !zeroTail(text)
      ) {
        throw new OppieError('OPPIE_ERR_PROTOCOL', 'base64url: not the canonical unpadded base64url of any bytes');
      }
      return plain(bytes);
    },
  };
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Whether the bits of the last character that encode no byte (4 after 2 characters, 2 after 3) are zero. */
function zeroTail(text: string): boolean {
  const rest = text.length % 4;
  if (rest === 0) return true;
  const v = B64URL.indexOf(text.charAt(text.length - 1));
  return v >= 0 && (v & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/**
 * The Node backend: OpenSSL AEAD and `Buffer` base64url.
 *
 * @example
 * import * as nodeCrypto from 'node:crypto';
 * setDefaultFrameCrypto(nodeFrameCrypto(nodeCrypto, Buffer));
 */
export function nodeFrameCrypto(nodeCrypto: NodeCryptoLike, buffer: BufferLike): FrameCrypto {
  return { aead: nodeAead(nodeCrypto), base64url: nodeBase64url(buffer) };
}
