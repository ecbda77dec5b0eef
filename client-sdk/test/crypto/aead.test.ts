import * as nodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defaultBase64url,
  hchacha20,
  jsBase64url,
  nativeSodiumAead,
  nodeAead,
  nodeBase64url,
  nodeFrameCrypto,
  resolveFrameCrypto,
  type SodiumNativeLike,
  setDefaultFrameCrypto,
  sodiumAead,
} from '../../src/crypto/aead.js';
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { type FrameHeader, PeerSession } from '../../src/crypto/session.js';
import { fromB64u, type Sodium, sodiumReady, toB64u } from '../../src/crypto/sodium.js';
import { OppieError } from '../../src/errors.js';

let s: Sodium;
beforeAll(async () => {
  s = await sodiumReady();
});

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof OppieError ? err.code : 'other error';
  }
  return 'did not throw';
};
const throws = (fn: () => unknown) => {
  try {
    fn();
  } catch {
    return true;
  }
  return false;
};

describe('hchacha20', () => {
  it('matches the draft-irtf-cfrg-xchacha-03 test vector (section 2.2.1)', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const nonce = Buffer.from('000000090000004a0000000031415927', 'hex');
    expect(Buffer.from(hchacha20(key, nonce)).toString('hex')).toBe(
      '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc',
    );
  });

  it('is the subkey libsodium derives: XChaCha20-Poly1305 = ChaCha20-Poly1305-IETF under it (libsodium both sides)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.uint8Array({ maxLength: 100 }),
        (key, nonce, plaintext) => {
          const iv = new Uint8Array(12);
          iv.set(nonce.subarray(16), 4);
          const viaSubkey = s.crypto_aead_chacha20poly1305_ietf_encrypt(
            plaintext,
            null,
            null,
            iv,
            hchacha20(key, nonce),
          );
          expect(viaSubkey).toEqual(s.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, null, null, nonce, key));
        },
      ),
      { numRuns: 300 },
    );
  });
});

const sodiumNative = createRequire(import.meta.url)('sodium-native') as SodiumNativeLike;

describe.each([
  ['nodeAead (OpenSSL ChaCha20-Poly1305 + HChaCha20)', () => nodeAead(nodeCrypto)],
  ['nativeSodiumAead (sodium-native)', () => nativeSodiumAead(sodiumNative)],
] as const)('%s', (_, node) => {
  const sizes = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.integer({ min: 0, max: 70_000 }).map((n) => new Uint8Array(nodeCrypto.randomBytes(n))),
  );

  it('produces byte-identical output to libsodium XChaCha20-Poly1305-IETF, and each opens the other', () => {
    const sodium = sodiumAead(s);
    fc.assert(
      fc.property(
        sizes,
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        (plaintext, ad, key, nonce) => {
          const mine = node().seal(key, nonce, ad, plaintext);
          const theirs = s.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
          expect(Buffer.from(mine).equals(Buffer.from(theirs))).toBe(true);
          expect(Buffer.from(node().open(key, nonce, ad, theirs)).equals(Buffer.from(plaintext))).toBe(true);
          expect(Buffer.from(sodium.open(key, nonce, ad, mine)).equals(Buffer.from(plaintext))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses a flipped bit anywhere, another ad, nonce or key, and a short input', () => {
    const key = new Uint8Array(nodeCrypto.randomBytes(32));
    const nonce = new Uint8Array(nodeCrypto.randomBytes(24));
    const ad = new TextEncoder().encode('oppie-e2e-v1\na\nb\nchat\nid\n1');
    const sealed = node().seal(key, nonce, ad, new TextEncoder().encode('approve op 42'));
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const copy = sealed.slice();
      copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
      expect(throws(() => node().open(key, nonce, ad, copy))).toBe(true);
    }
    const other = (b: Uint8Array, i: number) => {
      const c = b.slice();
      c[i] = (c[i] as number) ^ 1;
      return c;
    };
    expect(throws(() => node().open(key, nonce, other(ad, 3), sealed))).toBe(true);
    expect(throws(() => node().open(key, other(nonce, 0), ad, sealed))).toBe(true);
    expect(throws(() => node().open(key, other(nonce, 20), ad, sealed))).toBe(true);
    expect(throws(() => node().open(other(key, 31), nonce, ad, sealed))).toBe(true);
    expect(throws(() => node().open(key, nonce, ad, sealed.subarray(0, 15)))).toBe(true);
    expect(throws(() => node().seal(key.subarray(1), nonce, ad, sealed))).toBe(true);
    expect(throws(() => node().seal(key, nonce.subarray(1), ad, sealed))).toBe(true);
  });

  it('openInPlace (when the backend has one) opens what seal made and refuses a flipped bit', () => {
    const aead = resolveFrameCrypto(s, { aead: node() }).aead;
    fc.assert(
      fc.property(sizes, fc.nat(), (plaintext, flip) => {
        const key = new Uint8Array(nodeCrypto.randomBytes(32));
        const nonce = new Uint8Array(nodeCrypto.randomBytes(24));
        const ad = new Uint8Array([1, 2, 3]);
        const sealed = s.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
        const mine = sealed.slice();
        const opened = aead.openInPlace(key, nonce, ad, mine);
        expect(Buffer.from(opened).equals(Buffer.from(plaintext))).toBe(true);
        // A backend with its own openInPlace allocates nothing: the plaintext is a view of the sealed array.
        expect(opened.buffer === mine.buffer).toBe(node().openInPlace !== undefined);
        const bad = sealed.slice();
        const bit = flip % (bad.length * 8);
        bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
        expect(throws(() => aead.openInPlace(key, nonce, ad, bad))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('sealAt leaves the offset to the caller and writes the same ciphertext after it', () => {
    const aead = resolveFrameCrypto(s, { aead: node() }).aead;
    fc.assert(
      fc.property(sizes, fc.integer({ min: 0, max: 40 }), (plaintext, offset) => {
        const key = new Uint8Array(nodeCrypto.randomBytes(32));
        const nonce = new Uint8Array(nodeCrypto.randomBytes(24));
        const at = aead.sealAt(key, nonce, new Uint8Array(0), plaintext, offset);
        expect(at.length).toBe(offset + plaintext.length + 16);
        expect(at.subarray(0, offset).every((b) => b === 0)).toBe(true);
        expect(
          Buffer.from(at.subarray(offset)).equals(Buffer.from(node().seal(key, nonce, new Uint8Array(0), plaintext))),
        ).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

describe('nodeBase64url', () => {
  const codec = nodeBase64url(Buffer);

  it('encodes and decodes exactly as the SDK codec', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = codec.encode(bytes);
        expect(text).toBe(toB64u(bytes));
        expect(new Uint8Array(codec.decode(text))).toEqual(fromB64u(text));
      }),
    );
  });

  it.each([
    ['padding', 'AA=='],
    ['standard alphabet', 'a+/b'],
    ['whitespace', 'AAAA AAAA'],
    ['impossible length', 'AAAAA'],
    ['non-zero trailing bits', 'AB'],
    ['non-ASCII', 'AAé'],
    ['a foreign character', 'AA*A'],
    ['a character Buffer reads as A', 'ŁAAA'],
    ['a character Buffer reads as +', 'īAAA'],
  ])('refuses %s with OPPIE_ERR_PROTOCOL, as the SDK codec does', (_, text) => {
    expect(codeOf(() => codec.decode(text))).toBe('OPPIE_ERR_PROTOCOL');
    expect(codeOf(() => fromB64u(text))).toBe('OPPIE_ERR_PROTOCOL');
  });

  it('refuses a non-string', () => {
    expect(codeOf(() => codec.decode(42 as unknown as string))).toBe('OPPIE_ERR_PROTOCOL');
  });

  it('accepts and refuses exactly what the SDK codec does, on arbitrary text near the alphabet', () => {
    // Ł and ī: Buffer reads U+0100 and up by the low byte ('A', '+'), so they must be refused as non-ASCII.
    const near = fc.constantFrom(...'AAQgw-_09az+/= \n*éŁīĀİ'.split(''), 'B', 'f', 'P', '8');
    const verdict = (f: () => Uint8Array) => {
      try {
        return Buffer.from(f()).toString('hex');
      } catch (err) {
        return (err as { code?: string }).code ?? 'no code';
      }
    };
    fc.assert(
      fc.property(fc.array(near, { maxLength: 14 }), (chars) => {
        const text = chars.join('');
        expect(verdict(() => codec.decode(text))).toBe(verdict(() => fromB64u(text)));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('PeerSession with the Node backend', () => {
  let a: Identity;
  let b: Identity;
  beforeAll(async () => {
    [a, b] = await Promise.all([generateIdentity(), generateIdentity()]);
  });

  it('interoperates with the default backend in both directions, on the same wire text', async () => {
    const fast = await PeerSession.create(a, b.publicKey, 'sidecar', nodeFrameCrypto(nodeCrypto, Buffer));
    const portable = await PeerSession.create(b, a.publicKey, 'pwa');
    const out: FrameHeader = { from: fast.selfDeviceId, to: fast.peerDeviceId, type: 'chat', id: 'm-1', seq: 1 };
    const back: FrameHeader = { ...out, from: out.to, to: out.from, seq: 2 };
    for (const n of [0, 1, 1024, 48 * 1024]) {
      const payload = new Uint8Array(nodeCrypto.randomBytes(n));
      expect(portable.open(out, fast.seal(out, payload))).toEqual(payload);
      expect(new Uint8Array(fast.open(back, portable.seal(back, payload)))).toEqual(payload);
    }
    const sealed = fast.seal(out, new Uint8Array(10));
    expect(codeOf(() => portable.open({ ...out, seq: 9 }, sealed))).toBe('OPPIE_ERR_DECRYPT');
    expect(codeOf(() => fast.open(back, `${portable.seal(back, new Uint8Array(3))}=`))).toBe('OPPIE_ERR_DECRYPT');
  });

  it('takes the process default when created without a backend', async () => {
    const calls: string[] = [];
    const aead = nodeAead(nodeCrypto);
    setDefaultFrameCrypto({
      aead: {
        seal: (...args) => {
          calls.push('seal');
          return aead.seal(...args);
        },
        open: (...args) => {
          calls.push('open');
          return aead.open(...args);
        },
      },
    });
    try {
      const x = await PeerSession.create(a, b.publicKey, 'sidecar');
      const y = await PeerSession.create(b, a.publicKey, 'pwa');
      const h: FrameHeader = { from: x.selfDeviceId, to: x.peerDeviceId, type: 'chat', id: 'm-1', seq: 1 };
      expect(y.open(h, x.seal(h, new Uint8Array([1, 2, 3])))).toEqual(new Uint8Array([1, 2, 3]));
      expect(calls).toEqual(['seal', 'open']);
    } finally {
      setDefaultFrameCrypto({});
    }
  });

  it('gives clients without platform.frameCrypto the default codec their sessions use (chunks, channel envelopes)', () => {
    expect(defaultBase64url()).toBe(jsBase64url);
    const codec = nodeBase64url(Buffer);
    setDefaultFrameCrypto({ base64url: codec });
    try {
      expect(defaultBase64url()).toBe(codec);
    } finally {
      setDefaultFrameCrypto({});
    }
    expect(defaultBase64url()).toBe(jsBase64url);
  });

  it('never repeats a nonce across many seals (the pooled nonces)', async () => {
    const x = await PeerSession.create(a, b.publicKey, 'sidecar');
    const h: FrameHeader = { from: x.selfDeviceId, to: x.peerDeviceId, type: 'chat', id: 'm-1', seq: 1 };
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) seen.add(toB64u(fromB64u(x.seal(h, new Uint8Array(1))).subarray(0, 24)));
    expect(seen.size).toBe(2_000);
  });
});
