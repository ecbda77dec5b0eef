/**
 * The semantics of a `SigningKeyStore`, written once against the interface and run on every engine (SQLite, Redis):
 * keys round-trip unchanged (also verify-only ones), exactly one key is active after every rotation and the previous
 * one keeps verifying until its `retireAt`, a kid is stored once, `list` orders by creation, and `deleteExpired`
 * drops exactly the retired keys whose window ended at or before `now`.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SigningKeyStore, StoredSigningKey } from '../../src/auth/stores.js';

export type MakeSigningKeyStore = () => Promise<SigningKeyStore & { close?(): Promise<void> }>;

let n = 0;

/** An active key as `activate` receives it. */
export function signingKey(opts: Partial<StoredSigningKey> = {}): StoredSigningKey {
  n++;
  return {
    kid: `kid-${n}-${randomBytes(3).toString('hex')}`,
    privatePem: `-----BEGIN PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END PRIVATE KEY-----\n`,
    publicPem: `-----BEGIN PUBLIC KEY-----\n${randomBytes(48).toString('base64')}\n-----END PUBLIC KEY-----\n`,
    createdAt: 1_700_000_000_000 + n,
    active: true,
    verifyUntil: null,
    ...opts,
  };
}

export function signingKeyStoreSuite(name: string, makeStore: MakeSigningKeyStore): void {
  describe(`SigningKeyStore semantics: ${name}`, () => {
    const open: Array<{ close?(): Promise<void> }> = [];
    const make = async () => {
      const s = await makeStore();
      open.push(s);
      return s;
    };

    afterEach(async () => {
      for (const s of open.splice(0)) await s.close?.();
    });

    it('starts empty and returns the first activated key unchanged', async () => {
      const s = await make();
      expect(await s.list()).toEqual([]);
      const k = signingKey();
      await s.activate(k, 123);
      expect(await s.list()).toEqual([k]);
    });

    it('keeps a verify-only key (no private key) apart from an empty private key', async () => {
      const s = await make();
      const a = signingKey({ privatePem: null, createdAt: 1 });
      await s.activate(a, 0);
      expect(await s.list()).toEqual([a]);
      const b = signingKey({ privatePem: '', createdAt: 2 });
      await s.activate(b, 50);
      expect(await s.list()).toEqual([{ ...a, active: false, verifyUntil: 50 }, b]);
    });

    it('rotates: exactly one active key, the previous one verifies until retireAt', async () => {
      const s = await make();
      const k1 = signingKey({ createdAt: 1000 });
      const k2 = signingKey({ createdAt: 2000 });
      const k3 = signingKey({ createdAt: 3000 });
      await s.activate(k1, 0);
      await s.activate(k2, 5000);
      expect(await s.list()).toEqual([{ ...k1, active: false, verifyUntil: 5000 }, k2]);
      await s.activate(k3, 7000);
      const keys = await s.list();
      expect(keys).toEqual([
        { ...k1, active: false, verifyUntil: 5000 },
        { ...k2, active: false, verifyUntil: 7000 },
        k3,
      ]);
      expect(keys.filter((k) => k.active)).toHaveLength(1);
    });

    it('refuses a kid stored already and changes nothing', async () => {
      const s = await make();
      const k1 = signingKey({ createdAt: 10 });
      const k2 = signingKey({ createdAt: 20 });
      await s.activate(k1, 0);
      await s.activate(k2, 100);
      const before = await s.list();
      await expect(s.activate({ ...signingKey({ createdAt: 30 }), kid: k1.kid }, 200)).rejects.toThrow();
      await expect(s.activate({ ...signingKey({ createdAt: 30 }), kid: k2.kid }, 200)).rejects.toThrow();
      expect(await s.list()).toEqual(before);
    });

    it('lists by creation time, then by kid', async () => {
      const s = await make();
      const c = signingKey({ kid: 'c', createdAt: 5 });
      const b = signingKey({ kid: 'b', createdAt: 5 });
      const a = signingKey({ kid: 'a', createdAt: 9 });
      const z = signingKey({ kid: 'z', createdAt: 1 });
      for (const k of [a, c, b, z]) await s.activate(k, 100);
      expect((await s.list()).map((k) => k.kid)).toEqual(['z', 'b', 'c', 'a']);
    });

    it('deletes exactly the retired keys whose window ended at or before now', async () => {
      const s = await make();
      const k1 = signingKey({ createdAt: 1 });
      const k2 = signingKey({ createdAt: 2 });
      const k3 = signingKey({ createdAt: 3 });
      const k4 = signingKey({ createdAt: 4 });
      await s.activate(k1, 0);
      await s.activate(k2, 1000); // k1 until 1000
      await s.activate(k3, 2000); // k2 until 2000
      await s.activate(k4, 3000); // k3 until 3000
      expect(await s.deleteExpired(999)).toEqual([]);
      expect(await s.deleteExpired(1000)).toEqual([k1.kid]);
      expect((await s.list()).map((k) => k.kid)).toEqual([k2.kid, k3.kid, k4.kid]);
      expect([...(await s.deleteExpired(3500))].sort()).toEqual([k2.kid, k3.kid].sort());
      expect(await s.list()).toEqual([k4]);
      // The active key never expires, whatever the bound.
      expect(await s.deleteExpired(Number.MAX_SAFE_INTEGER)).toEqual([]);
      expect(await s.list()).toEqual([k4]);
    });

    it('takes a deleted kid again', async () => {
      const s = await make();
      const k1 = signingKey({ createdAt: 1 });
      await s.activate(k1, 0);
      await s.activate(signingKey({ createdAt: 2 }), 10);
      expect(await s.deleteExpired(10)).toEqual([k1.kid]);
      const again = signingKey({ kid: k1.kid, createdAt: 3 });
      await s.activate(again, 20);
      const keys = await s.list();
      expect(keys.filter((k) => k.active)).toEqual([again]);
    });

    it('keeps exactly one active key under racing rotations', async () => {
      const s = await make();
      await s.activate(signingKey({ createdAt: 0 }), 0);
      const racing = Array.from({ length: 10 }, (_, i) => signingKey({ createdAt: 100 + i }));
      await Promise.all(racing.map((k, i) => s.activate(k, 1000 + i)));
      const keys = await s.list();
      expect(keys).toHaveLength(11);
      expect(keys.filter((k) => k.active)).toHaveLength(1);
      expect(keys.filter((k) => !k.active).every((k) => k.verifyUntil !== null)).toBe(true);
    });
  });
}
