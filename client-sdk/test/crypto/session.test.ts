import { createRequire } from 'node:module';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { nativeSodiumAead, type SodiumNativeLike } from '../../src/crypto/aead.js';
import { generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { type FrameHeader, PeerSession } from '../../src/crypto/session.js';
import { fromB64u, toB64u } from '../../src/crypto/sodium.js';
import { OppieError } from '../../src/errors.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof OppieError ? err.code : String(err);
  }
  return 'did not throw';
};
const bytes = (s: string) => new TextEncoder().encode(s);

let sidecarId: Identity;
let pwaId: Identity;
let sidecar: PeerSession;
let pwa: PeerSession;
let header: FrameHeader;
let back: FrameHeader;

beforeAll(async () => {
  [sidecarId, pwaId] = await Promise.all([generateIdentity(), generateIdentity()]);
  sidecar = await PeerSession.create(sidecarId, pwaId.publicKey, 'sidecar');
  pwa = await PeerSession.create(pwaId, sidecarId.publicKey, 'pwa');
  header = { from: pwa.selfDeviceId, to: pwa.peerDeviceId, type: 'chat', id: 'm-1', seq: 7 };
  back = { from: sidecar.selfDeviceId, to: sidecar.peerDeviceId, type: 'progress', id: 'm-2', seq: 3 };
});

describe('PeerSession', () => {
  it('agrees on device ids from the keys', () => {
    expect(pwa.peerDeviceId).toBe(sidecar.selfDeviceId);
    expect(sidecar.peerDeviceId).toBe(pwa.selfDeviceId);
  });

  it('round-trips in both directions', () => {
    expect(sidecar.open(header, pwa.seal(header, bytes('run it')))).toEqual(bytes('run it'));
    expect(pwa.open(back, sidecar.seal(back, bytes('progress 40%')))).toEqual(bytes('progress 40%'));
  });

  it('still opens a frame sealed by a session rebuilt later (queued for an offline peer)', async () => {
    const queued = pwa.seal(header, bytes('while you were away'));
    const restarted = await PeerSession.create(sidecarId, pwaId.publicKey, 'sidecar');
    expect(restarted.open(header, queued)).toEqual(bytes('while you were away'));
  });

  it('opens the sealed bytes of a binary channel message, leaves them intact, and refuses any flipped bit', async () => {
    const sealed = fromB64u(pwa.seal(header, bytes('as bytes')));
    const copy = sealed.slice();
    expect(sidecar.open(header, sealed)).toEqual(bytes('as bytes'));
    expect(sealed).toEqual(copy); // decrypted over its own copy, never over the caller's array
    // What simple-peer hands over is a Buffer, whose slice() is a view: still intact after native libsodium, the
    // backend that decrypts in place.
    const native = await PeerSession.create(sidecarId, pwaId.publicKey, 'sidecar', {
      aead: nativeSodiumAead(createRequire(import.meta.url)('sodium-native') as SodiumNativeLike),
    });
    const received = Buffer.from(sealed).subarray(0);
    expect(native.open(header, received)).toEqual(bytes('as bytes'));
    expect(Buffer.from(received).equals(Buffer.from(copy))).toBe(true);
    for (let bit = 0; bit < sealed.length * 8; bit += 13) {
      const flipped = sealed.slice();
      flipped[bit >>> 3] = (flipped[bit >>> 3] as number) ^ (1 << (bit & 7));
      expect(codeOf(() => sidecar.open(header, flipped))).toBe('OPPIE_ERR_DECRYPT');
    }
    expect(codeOf(() => sidecar.open(header, sealed.subarray(0, 39)))).toBe('OPPIE_ERR_DECRYPT');
  });

  it('decrypts bytes given up (consume) over them, in the same memory with a backend that can', async () => {
    const native = await PeerSession.create(sidecarId, pwaId.publicKey, 'sidecar', {
      aead: nativeSodiumAead(createRequire(import.meta.url)('sodium-native') as SodiumNativeLike),
    });
    for (const session of [native, sidecar]) {
      const message = new Uint8Array(100);
      const sealed = fromB64u(pwa.seal(header, bytes('given up')));
      message.set(sealed, 10);
      const view = message.subarray(10, 10 + sealed.length);
      const plain = session.open(header, view, true);
      expect(plain).toEqual(bytes('given up'));
      // Nothing outside the view is written.
      expect(message.subarray(0, 10)).toEqual(new Uint8Array(10));
      expect(message.subarray(10 + sealed.length)).toEqual(new Uint8Array(90 - sealed.length));
      if (session === sidecar) break; // libsodium.js decrypts in its own memory: nothing to save there
      expect(plain.buffer).toBe(message.buffer);
      expect(Buffer.isBuffer(plain)).toBe(false);
      // A Buffer given up (what simple-peer hands over) still gives a plain Uint8Array, whose slice() copies.
      const received = Buffer.from(fromB64u(pwa.seal(header, bytes('from a Buffer'))));
      expect(Buffer.isBuffer(session.open(header, received, true))).toBe(false);
      expect(codeOf(() => session.open(header, view, true))).toBe('OPPIE_ERR_DECRYPT'); // it is plaintext now
    }
  });

  it('seals into bytes after free room, which open like the text', () => {
    const sealed = pwa.sealBytes(header, bytes('framed in place'), 64);
    expect(sealed.byteOffset).toBe(64);
    expect(new Uint8Array(sealed.buffer, 0, 64)).toEqual(new Uint8Array(64));
    expect(sidecar.open(header, toB64u(sealed))).toEqual(bytes('framed in place'));
    expect(sidecar.open(header, sealed)).toEqual(bytes('framed in place'));
    const none = pwa.sealBytes(header, bytes('no room'), 0);
    expect(none.byteOffset).toBe(0);
    expect(sidecar.open(header, none)).toEqual(bytes('no room'));
    expect(() => pwa.sealBytes(header, bytes('x'), -1)).toThrow(RangeError);
    expect(codeOf(() => pwa.sealBytes(back, bytes('x'), 8))).toBe('OPPIE_ERR_PROTOCOL');
  });

  it('uses a fresh nonce per frame', () => {
    const a = fromB64u(pwa.seal(header, bytes('x')));
    const b = fromB64u(pwa.seal(header, bytes('x')));
    expect(a.subarray(0, 24)).not.toEqual(b.subarray(0, 24));
    expect(a).toHaveLength(24 + 1 + 16);
  });

  it.each([
    ['type', { type: 'approve' }],
    ['id', { id: 'm-9' }],
    ['seq', { seq: 8 }],
  ] as const)('refuses a frame whose %s was changed with OPPIE_ERR_DECRYPT', (_, change) => {
    const sealed = pwa.seal(header, bytes('hello'));
    expect(codeOf(() => sidecar.open({ ...header, ...change }, sealed))).toBe('OPPIE_ERR_DECRYPT');
  });

  it('refuses a frame whose sender or recipient was changed', async () => {
    const other = await generateIdentity();
    const otherSession = await PeerSession.create(other, sidecarId.publicKey, 'pwa');
    const sealed = pwa.seal(header, bytes('hello'));
    expect(codeOf(() => sidecar.open({ ...header, from: otherSession.selfDeviceId }, sealed))).toBe(
      'OPPIE_ERR_DECRYPT',
    );
    expect(codeOf(() => sidecar.open({ ...header, to: otherSession.selfDeviceId }, sealed))).toBe('OPPIE_ERR_DECRYPT');
  });

  it('refuses a frame with any single bit flipped', () => {
    const sealed = fromB64u(pwa.seal(header, bytes('approve op 42')));
    for (let bit = 0; bit < sealed.length * 8; bit += 7) {
      const copy = sealed.slice();
      copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
      expect(codeOf(() => sidecar.open(header, toB64u(copy)))).toBe('OPPIE_ERR_DECRYPT');
    }
  });

  it('refuses truncated and non-base64url payloads', () => {
    const sealed = pwa.seal(header, bytes(''));
    expect(codeOf(() => sidecar.open(header, sealed.slice(0, 40)))).toBe('OPPIE_ERR_DECRYPT');
    expect(codeOf(() => sidecar.open(header, '***'))).toBe('OPPIE_ERR_DECRYPT');
  });

  it('a third party paired with the same sidecar cannot open the frame', async () => {
    const mallory = await generateIdentity();
    // Mallory's session with the sidecar: she can ask it to open frames "from" her, never read the PWA's.
    const malloryAsSidecar = await PeerSession.create(mallory, pwaId.publicKey, 'sidecar');
    const sealed = pwa.seal(header, bytes('secret plan'));
    const forMallory = { ...header, to: malloryAsSidecar.selfDeviceId };
    expect(codeOf(() => malloryAsSidecar.open(forMallory, sealed))).toBe('OPPIE_ERR_DECRYPT');
  });

  it('refuses a frame reflected back to its sender (A->B replayed as B->A)', () => {
    const sealed = pwa.seal(header, bytes('hi'));
    const reflected = { ...header, from: header.to, to: header.from };
    expect(codeOf(() => pwa.open(reflected, sealed))).toBe('OPPIE_ERR_DECRYPT');
  });

  it('refuses to seal a header that is not from this device to its peer, or malformed', () => {
    expect(codeOf(() => pwa.seal(back, bytes('x')))).toBe('OPPIE_ERR_PROTOCOL');
    expect(codeOf(() => pwa.seal({ ...header, id: 'a\nb' }, bytes('x')))).toBe('OPPIE_ERR_PROTOCOL');
    expect(codeOf(() => pwa.seal({ ...header, seq: -1 }, bytes('x')))).toBe('OPPIE_ERR_PROTOCOL');
    expect(codeOf(() => pwa.seal({ ...header, seq: 1.5 }, bytes('x')))).toBe('OPPIE_ERR_PROTOCOL');
  });

  it('refuses a malformed, weak or own peer key with OPPIE_ERR_PROTOCOL', async () => {
    await expect(PeerSession.create(pwaId, new Uint8Array(31), 'pwa')).rejects.toMatchObject({
      code: 'OPPIE_ERR_PROTOCOL',
    });
    // The identity point (y = 1): small order, would give an all-zero shared secret.
    const weak = new Uint8Array(32);
    weak[0] = 1;
    await expect(PeerSession.create(pwaId, weak, 'pwa')).rejects.toMatchObject({ code: 'OPPIE_ERR_PROTOCOL' });
    await expect(PeerSession.create(pwaId, pwaId.publicKey, 'pwa')).rejects.toMatchObject({
      code: 'OPPIE_ERR_PROTOCOL',
    });
  });

  it('round-trips random payloads and headers, and any header change breaks it (property)', () => {
    const field = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 4096 }),
        field,
        field,
        fc.nat(),
        fc.constantFrom('type', 'id', 'seq'),
        (payload, type, id, seq, tamper) => {
          const h = { from: pwa.selfDeviceId, to: pwa.peerDeviceId, type, id, seq };
          const sealed = pwa.seal(h, payload);
          expect(sidecar.open(h, sealed)).toEqual(payload);
          const changed =
            tamper === 'seq'
              ? { ...h, seq: seq + 1 }
              : tamper === 'id'
                ? { ...h, id: `${id}x` }
                : { ...h, type: `${type}x` };
          expect(codeOf(() => sidecar.open(changed, sealed))).toBe('OPPIE_ERR_DECRYPT');
        },
      ),
      { numRuns: 200 },
    );
  });
});
