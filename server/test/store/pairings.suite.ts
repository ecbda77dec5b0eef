/**
 * The semantics of a `PairingStore`, written once against the interface and run on every engine (SQLite, Redis):
 * records round-trip unchanged, a lookup id is created once, wrong attempts are counted (atomically under races)
 * and only for known codes, a code is marked used once (one winner among racing claims), and `deleteExpired`
 * removes exactly the records that expired before the bound.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { PairingRecord, PairingStore } from '../../src/auth/stores.js';

export type MakePairingStore = () => Promise<PairingStore & { close?(): Promise<void> }>;

let n = 0;

/** A pending record; times are near the real clock (a Redis engine keeps records relative to it). */
export function pairingRecord(opts: Partial<PairingRecord> = {}): PairingRecord {
  n++;
  const now = Date.now();
  return {
    lookupId: `L${n}x${randomBytes(3).toString('hex')}`,
    secretHash: randomBytes(32),
    accountId: `acct-${n}`,
    sidecarDeviceId: `sidecar-${n}`,
    createdAt: now,
    expiresAt: now + 600_000,
    maxAttempts: 5,
    attempts: 0,
    usedAt: null,
    ...opts,
  };
}

export function pairingStoreSuite(name: string, makeStore: MakePairingStore): void {
  describe(`PairingStore semantics: ${name}`, () => {
    const open: Array<{ close?(): Promise<void> }> = [];
    const make = async () => {
      const s = await makeStore();
      open.push(s);
      return s;
    };

    afterEach(async () => {
      for (const s of open.splice(0)) await s.close?.();
    });

    it('returns a created record unchanged, nothing for an unknown id', async () => {
      const s = await make();
      const r = pairingRecord();
      await s.create(r);
      const got = await s.get(r.lookupId);
      expect(got).toEqual(r);
      expect(Buffer.isBuffer(got?.secretHash)).toBe(true);
      expect(await s.get('unknown')).toBeUndefined();
    });

    it('round-trips counted attempts, a used code and binary hashes with zero bytes', async () => {
      const s = await make();
      const r = pairingRecord({
        attempts: 3,
        usedAt: Date.now() - 5,
        maxAttempts: 7,
        secretHash: Buffer.from([0, 255, 0, 10, 13, 0]),
        accountId: 'acct-ünïcode-✓',
      });
      await s.create(r);
      expect(await s.get(r.lookupId)).toEqual(r);
    });

    it('refuses a second record with the same lookup id and keeps the first', async () => {
      const s = await make();
      const r = pairingRecord();
      await s.create(r);
      await expect(s.create({ ...r, accountId: 'intruder', secretHash: randomBytes(32) })).rejects.toThrow();
      expect(await s.get(r.lookupId)).toEqual(r);
    });

    it('counts wrong attempts of a code and returns the count so far', async () => {
      const s = await make();
      const r = pairingRecord();
      const other = pairingRecord();
      await s.create(r);
      await s.create(other);
      expect(await s.recordFailedAttempt(r.lookupId)).toBe(1);
      expect(await s.recordFailedAttempt(r.lookupId)).toBe(2);
      expect(await s.recordFailedAttempt(other.lookupId)).toBe(1);
      expect((await s.get(r.lookupId))?.attempts).toBe(2);
      expect({ ...(await s.get(r.lookupId)), attempts: 0 }).toEqual(r);
    });

    it('counts nothing for an unknown code and does not create it', async () => {
      const s = await make();
      expect(await s.recordFailedAttempt('unknown')).toBe(0);
      expect(await s.get('unknown')).toBeUndefined();
    });

    it('takes any lookup id, also ones that look like internal names', async () => {
      const s = await make();
      for (const lookupId of ['exp', 'c:exp', '{pairing}:exp', '']) {
        expect(await s.get(lookupId)).toBeUndefined();
        const r = { ...pairingRecord(), lookupId };
        await s.create(r);
        expect(await s.get(lookupId)).toEqual(r);
        expect(await s.recordFailedAttempt(lookupId)).toBe(1);
      }
      expect(await s.deleteExpired(Date.now() + 3_600_000)).toBe(4);
    });

    it('counts every one of racing wrong attempts exactly once', async () => {
      const s = await make();
      const r = pairingRecord();
      await s.create(r);
      const counts = await Promise.all(Array.from({ length: 25 }, () => s.recordFailedAttempt(r.lookupId)));
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect((await s.get(r.lookupId))?.attempts).toBe(25);
    });

    it('marks a code used once', async () => {
      const s = await make();
      const r = pairingRecord();
      await s.create(r);
      const at = Date.now();
      expect(await s.markUsed(r.lookupId, at)).toBe(true);
      expect(await s.markUsed(r.lookupId, at + 1)).toBe(false);
      expect(await s.get(r.lookupId)).toEqual({ ...r, usedAt: at });
      expect(await s.markUsed('unknown', at)).toBe(false);
      expect(await s.get('unknown')).toBeUndefined();
    });

    it('refuses to mark a code created as used', async () => {
      const s = await make();
      const r = pairingRecord({ usedAt: Date.now() - 10 });
      await s.create(r);
      expect(await s.markUsed(r.lookupId, Date.now())).toBe(false);
      expect(await s.get(r.lookupId)).toEqual(r);
    });

    it('lets exactly one of racing claims win', async () => {
      const s = await make();
      const r = pairingRecord();
      await s.create(r);
      const base = Date.now();
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => s.markUsed(r.lookupId, base + i)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect((await s.get(r.lookupId))?.usedAt).toBe(base + wins.indexOf(true));
    });

    it('deletes exactly the codes that expired before the bound and counts them', async () => {
      const s = await make();
      const t = Date.now();
      const a = pairingRecord({ expiresAt: t + 1000 });
      const b = pairingRecord({ expiresAt: t + 2000 });
      const c = pairingRecord({ expiresAt: t + 3000, usedAt: t });
      const d = pairingRecord({ expiresAt: t + 4000 });
      for (const r of [a, b, c, d]) await s.create(r);
      expect(await s.deleteExpired(t + 500)).toBe(0);
      // Strictly before: a code expiring at the bound stays.
      expect(await s.deleteExpired(t + 2000)).toBe(1);
      expect(await s.get(a.lookupId)).toBeUndefined();
      expect(await s.get(b.lookupId)).toEqual(b);
      expect(await s.deleteExpired(t + 3500)).toBe(2);
      expect(await s.get(b.lookupId)).toBeUndefined();
      expect(await s.get(c.lookupId)).toBeUndefined();
      expect(await s.get(d.lookupId)).toEqual(d);
      expect(await s.deleteExpired(t + 3500)).toBe(0);
      expect(await s.recordFailedAttempt(a.lookupId)).toBe(0);
      expect(await s.markUsed(b.lookupId, t)).toBe(false);
    });

    it('accepts a lookup id again once its record was deleted', async () => {
      const s = await make();
      const t = Date.now();
      const r = pairingRecord({ expiresAt: t + 1000 });
      await s.create(r);
      expect(await s.deleteExpired(t + 1001)).toBe(1);
      const again = { ...pairingRecord(), lookupId: r.lookupId };
      await s.create(again);
      expect(await s.get(r.lookupId)).toEqual(again);
    });
  });
}
