/**
 * The semantics of an `EnrollmentStore`, written once against the interface and run on every engine (SQLite, Redis):
 * a token is used at most `uses` times and only before it expires (also under racing registrations), a token hash is
 * stored once, and `deleteExpired` drops exactly the tokens that expired before the bound or have no use left.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { EnrollmentRecord, EnrollmentStore } from '../../src/auth/stores.js';

export type MakeEnrollmentStore = () => Promise<EnrollmentStore & { close?(): Promise<void> }>;

/** An unused token valid for ten minutes from `createdAt`. */
export function enrollmentRecord(opts: Partial<EnrollmentRecord> = {}): EnrollmentRecord {
  const createdAt = opts.createdAt ?? 1_700_000_000_000;
  return {
    tokenHash: randomBytes(32).toString('base64url'),
    createdAt,
    expiresAt: createdAt + 600_000,
    uses: 1,
    ...opts,
  };
}

export function enrollmentStoreSuite(name: string, makeStore: MakeEnrollmentStore): void {
  describe(`EnrollmentStore semantics: ${name}`, () => {
    const open: Array<{ close?(): Promise<void> }> = [];
    const make = async () => {
      const s = await makeStore();
      open.push(s);
      return s;
    };

    afterEach(async () => {
      for (const s of open.splice(0)) await s.close?.();
    });

    it('spends a token exactly `uses` times', async () => {
      const s = await make();
      const r = enrollmentRecord({ uses: 3 });
      await s.create(r);
      const now = r.createdAt + 1;
      expect(await s.consume(r.tokenHash, now)).toBe(true);
      expect(await s.consume(r.tokenHash, now)).toBe(true);
      expect(await s.consume(r.tokenHash, now)).toBe(true);
      expect(await s.consume(r.tokenHash, now)).toBe(false);
      expect(await s.consume('unknown', now)).toBe(false);
    });

    it('refuses a token at or after its expiry', async () => {
      const s = await make();
      const r = enrollmentRecord({ uses: 5 });
      await s.create(r);
      expect(await s.consume(r.tokenHash, r.expiresAt)).toBe(false);
      expect(await s.consume(r.tokenHash, r.expiresAt + 1)).toBe(false);
      expect(await s.consume(r.tokenHash, r.expiresAt - 1)).toBe(true);
      expect(await s.consume(r.tokenHash, Number.POSITIVE_INFINITY)).toBe(false);
      expect(await s.consume(r.tokenHash, Number.NEGATIVE_INFINITY)).toBe(true);
      expect(await s.deleteExpired(Number.NEGATIVE_INFINITY)).toBe(0);
      expect(await s.deleteExpired(Number.POSITIVE_INFINITY)).toBe(1);
    });

    it('never spends a token created without uses', async () => {
      const s = await make();
      const r = enrollmentRecord({ uses: 0 });
      await s.create(r);
      expect(await s.consume(r.tokenHash, r.createdAt)).toBe(false);
    });

    it('refuses a second token with the same hash and keeps the first', async () => {
      const s = await make();
      const r = enrollmentRecord({ uses: 1 });
      await s.create(r);
      await expect(s.create({ ...r, uses: 100 })).rejects.toThrow();
      expect(await s.consume(r.tokenHash, r.createdAt)).toBe(true);
      expect(await s.consume(r.tokenHash, r.createdAt)).toBe(false);
    });

    it('lets exactly `uses` of racing registrations spend a token', async () => {
      const s = await make();
      const r = enrollmentRecord({ uses: 3 });
      await s.create(r);
      const spent = await Promise.all(Array.from({ length: 20 }, () => s.consume(r.tokenHash, r.createdAt)));
      expect(spent.filter(Boolean)).toHaveLength(3);
    });

    it('deletes the tokens that expired before the bound or have no use left, and counts them', async () => {
      const s = await make();
      const t = 1_700_000_000_000;
      const a = enrollmentRecord({ createdAt: t, expiresAt: t + 1000 });
      const b = enrollmentRecord({ createdAt: t, expiresAt: t + 2000 });
      const spent = enrollmentRecord({ createdAt: t, expiresAt: t + 9000, uses: 1 });
      const empty = enrollmentRecord({ createdAt: t, expiresAt: t + 9000, uses: 0 });
      const live = enrollmentRecord({ createdAt: t, expiresAt: t + 9000, uses: 2 });
      for (const r of [a, b, spent, empty, live]) await s.create(r);
      expect(await s.consume(spent.tokenHash, t)).toBe(true);
      expect(await s.consume(live.tokenHash, t)).toBe(true);

      // The spent and the empty token go whatever the bound; a token expiring at the bound stays.
      expect(await s.deleteExpired(t + 1000)).toBe(2);
      expect(await s.consume(a.tokenHash, t)).toBe(true);
      expect(await s.deleteExpired(t + 1001)).toBe(1); // a: expired, and now spent too: counted once
      expect(await s.consume(a.tokenHash, t)).toBe(false);
      expect(await s.deleteExpired(t + 2001)).toBe(1);
      expect(await s.consume(b.tokenHash, t)).toBe(false);
      expect(await s.deleteExpired(t + 2001)).toBe(0);
      expect(await s.consume(live.tokenHash, t)).toBe(true);
      expect(await s.deleteExpired(t)).toBe(1);
      expect(await s.deleteExpired(t + 100_000)).toBe(0);
    });

    it('takes a token hash again once its record was deleted', async () => {
      const s = await make();
      const r = enrollmentRecord({ uses: 1 });
      await s.create(r);
      expect(await s.consume(r.tokenHash, r.createdAt)).toBe(true);
      expect(await s.deleteExpired(r.createdAt)).toBe(1);
      await s.create({ ...r, uses: 2 });
      expect(await s.consume(r.tokenHash, r.createdAt)).toBe(true);
      expect(await s.consume(r.tokenHash, r.createdAt)).toBe(true);
      expect(await s.consume(r.tokenHash, r.createdAt)).toBe(false);
    });
  });
}
