/**
 * The semantics of a `Registry`, written once against the interface and run on every engine (SQLite, Redis):
 * accounts and devices round-trip unchanged, a known account, device id or public key is RELAY_ERR_DEVICE_EXISTS
 * (and nothing is half-written), devices are listed oldest first without the revoked ones, a device is revoked once
 * and shows up in `revokedSince`, `touchDevice` never creates a device, and the OTP state machine (pending secret,
 * confirmation by the first accepted time step, replay guard that lets exactly one of racing requests pass).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewDevice, Registry } from '../../src/auth/stores.js';
import type { DeviceRecord } from '../../src/auth/types.js';

export type MakeRegistry = () => Promise<Registry & { close?(): Promise<void> }>;

let n = 0;

/** A fresh account id. */
export function accountId(): string {
  n++;
  return `acct-${n}-${randomBytes(3).toString('hex')}`;
}

/** A device of `account` never stored before. */
export function newDevice(account: string, opts: Partial<NewDevice> = {}): NewDevice {
  n++;
  return {
    id: `dev-${n}-${randomBytes(3).toString('hex')}`,
    accountId: account,
    role: 'pwa',
    name: `device ${n}`,
    publicKey: randomBytes(32).toString('base64url'),
    createdAt: 1_700_000_000_000 + n,
    ...opts,
  };
}

/** The record of a device as stored, never seen nor revoked. */
export const stored = (d: NewDevice): DeviceRecord => ({ ...d, lastSeenAt: null, revokedAt: null });

export function registrySuite(name: string, makeRegistry: MakeRegistry): void {
  describe(`Registry semantics: ${name}`, () => {
    const open: Array<{ close?(): Promise<void> }> = [];
    const make = async () => {
      const s = await makeRegistry();
      open.push(s);
      return s;
    };

    afterEach(async () => {
      for (const s of open.splice(0)) await s.close?.();
    });

    it('creates an account with its first device and adds more, all returned unchanged', async () => {
      const r = await make();
      const acct = accountId();
      const first = newDevice(acct, { role: 'sidecar', name: 'laptop ✓ ünïcode' });
      await r.createAccount(acct, first);
      const second = newDevice(acct, { name: '' });
      await r.addDevice(second);
      expect(await r.getDevice(first.id)).toEqual(stored(first));
      expect(await r.getDevice(second.id)).toEqual(stored(second));
      expect(await r.getDevice('unknown')).toBeUndefined();
      expect(await r.listDevices(acct)).toEqual([stored(first), stored(second)]);
      expect(await r.listDevices('unknown')).toEqual([]);
      // A fresh account has no OTP state.
      expect(await r.getOtp(acct)).toBeUndefined();
    });

    it('stores the first device under the account given, whatever its accountId says', async () => {
      const r = await make();
      const acct = accountId();
      const d = newDevice('someone-else');
      await r.createAccount(acct, d);
      expect(await r.getDevice(d.id)).toEqual(stored({ ...d, accountId: acct }));
      expect(await r.listDevices(acct)).toHaveLength(1);
      expect(await r.listDevices('someone-else')).toEqual([]);
    });

    it('refuses a known account, device id or public key with RELAY_ERR_DEVICE_EXISTS and writes nothing', async () => {
      const r = await make();
      const acct = accountId();
      const d = newDevice(acct);
      await r.createAccount(acct, d);
      const code = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: unknown) => (e as { code?: string }).code,
        );

      const other = accountId();
      const sameId = newDevice(other, { id: d.id });
      const samePk = newDevice(other, { publicKey: d.publicKey });
      expect(await code(r.createAccount(other, sameId))).toBe('RELAY_ERR_DEVICE_EXISTS');
      expect(await code(r.createAccount(other, samePk))).toBe('RELAY_ERR_DEVICE_EXISTS');
      // Nothing of the refused account was written: it can be created afterwards, its first device was not kept.
      expect(await r.listDevices(other)).toEqual([]);
      expect(await r.getDevice(samePk.id)).toBeUndefined();
      expect(await r.setPendingOtp(other, 'S')).toBe(false);

      const fresh = newDevice(acct);
      expect(await code(r.createAccount(acct, fresh))).toBe('RELAY_ERR_DEVICE_EXISTS');
      expect(await r.getDevice(fresh.id)).toBeUndefined();

      expect(await code(r.addDevice(newDevice(acct, { id: d.id })))).toBe('RELAY_ERR_DEVICE_EXISTS');
      const dupKey = newDevice(acct, { publicKey: d.publicKey });
      expect(await code(r.addDevice(dupKey))).toBe('RELAY_ERR_DEVICE_EXISTS');
      expect(await r.getDevice(dupKey.id)).toBeUndefined();
      expect(await r.getDevice(d.id)).toEqual(stored(d));
      expect(await r.listDevices(acct)).toEqual([stored(d)]);

      await r.createAccount(other, newDevice(other));
      expect(await r.listDevices(other)).toHaveLength(1);
    });

    it('refuses a device of an unknown account without storing it', async () => {
      const r = await make();
      const d = newDevice(accountId());
      await expect(r.addDevice(d)).rejects.toThrow();
      expect(await r.getDevice(d.id)).toBeUndefined();
      expect(await r.listDevices(d.accountId)).toEqual([]);
    });

    it('lists devices oldest first (then by id), revoked ones excluded', async () => {
      const r = await make();
      const acct = accountId();
      const c = newDevice(acct, { id: 'c', createdAt: 5 });
      const b = newDevice(acct, { id: 'b', createdAt: 5 });
      const a = newDevice(acct, { id: 'a', createdAt: 9 });
      const z = newDevice(acct, { id: 'z', createdAt: 1 });
      await r.createAccount(acct, a);
      for (const d of [c, b, z]) await r.addDevice(d);
      expect((await r.listDevices(acct)).map((d) => d.id)).toEqual(['z', 'b', 'c', 'a']);
      expect(await r.revokeDevice('b', 100)).toBe(true);
      expect((await r.listDevices(acct)).map((d) => d.id)).toEqual(['z', 'c', 'a']);
    });

    it('revokes a device once; unknown devices are not revoked', async () => {
      const r = await make();
      const acct = accountId();
      const d = newDevice(acct);
      await r.createAccount(acct, d);
      expect(await r.revokeDevice(d.id, 1000)).toBe(true);
      expect(await r.revokeDevice(d.id, 2000)).toBe(false);
      expect(await r.getDevice(d.id)).toEqual({ ...stored(d), revokedAt: 1000 });
      expect(await r.revokeDevice('unknown', 1000)).toBe(false);
      expect(await r.getDevice('unknown')).toBeUndefined();
      // Its public key stays taken: a revoked key is not registered again.
      await expect(r.addDevice(newDevice(acct, { publicKey: d.publicKey }))).rejects.toMatchObject({
        code: 'RELAY_ERR_DEVICE_EXISTS',
      });
    });

    it('lets exactly one of racing revocations win', async () => {
      const r = await make();
      const acct = accountId();
      const d = newDevice(acct);
      await r.createAccount(acct, d);
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => r.revokeDevice(d.id, 100 + i)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect((await r.getDevice(d.id))?.revokedAt).toBe(100 + wins.indexOf(true));
      expect(await r.revokedSince(0)).toEqual([{ deviceId: d.id, revokedAt: 100 + wins.indexOf(true) }]);
    });

    it('reports devices revoked at or after `since`, in revocation order', async () => {
      const r = await make();
      const acct = accountId();
      const [d1, d2, d3, d4] = [newDevice(acct), newDevice(acct), newDevice(acct), newDevice(acct)] as const;
      await r.createAccount(acct, d1);
      for (const d of [d2, d3, d4]) await r.addDevice(d);
      expect(await r.revokedSince(0)).toEqual([]);
      await r.revokeDevice(d3.id, 3000);
      await r.revokeDevice(d1.id, 1000);
      await r.revokeDevice(d2.id, 2000);
      expect(await r.revokedSince(0)).toEqual([
        { deviceId: d1.id, revokedAt: 1000 },
        { deviceId: d2.id, revokedAt: 2000 },
        { deviceId: d3.id, revokedAt: 3000 },
      ]);
      expect(await r.revokedSince(2000)).toEqual([
        { deviceId: d2.id, revokedAt: 2000 },
        { deviceId: d3.id, revokedAt: 3000 },
      ]);
      expect(await r.revokedSince(3001)).toEqual([]);
      expect(await r.listDevices(acct)).toEqual([stored(d4)]);
    });

    it('records activity of a known device only, revoked or not', async () => {
      const r = await make();
      const acct = accountId();
      const d = newDevice(acct);
      await r.createAccount(acct, d);
      await r.touchDevice(d.id, 500);
      expect(await r.getDevice(d.id)).toEqual({ ...stored(d), lastSeenAt: 500 });
      await r.touchDevice(d.id, 700);
      expect((await r.listDevices(acct))[0]?.lastSeenAt).toBe(700);
      await r.revokeDevice(d.id, 800);
      await r.touchDevice(d.id, 900);
      expect(await r.getDevice(d.id)).toEqual({ ...stored(d), lastSeenAt: 900, revokedAt: 800 });
      await r.touchDevice('unknown', 900);
      expect(await r.getDevice('unknown')).toBeUndefined();
    });

    it('keeps a pending OTP secret replaceable until the first accepted code confirms it', async () => {
      const r = await make();
      const acct = accountId();
      await r.createAccount(acct, newDevice(acct));
      expect(await r.setPendingOtp('unknown', 'S')).toBe(false);
      expect(await r.getOtp('unknown')).toBeUndefined();
      expect(await r.acceptOtpCounter(acct, 1, 10)).toBe(false); // no secret yet

      expect(await r.setPendingOtp(acct, 'SECRET1')).toBe(true);
      expect(await r.getOtp(acct)).toEqual({ secret: 'SECRET1', confirmedAt: null, lastCounter: null });
      expect(await r.acceptOtpCounter(acct, 40, 1000)).toBe(true);
      expect(await r.getOtp(acct)).toEqual({ secret: 'SECRET1', confirmedAt: 1000, lastCounter: 40 });
      // A confirmed secret is not replaced.
      expect(await r.setPendingOtp(acct, 'SECRET2')).toBe(false);
      expect(await r.getOtp(acct)).toEqual({ secret: 'SECRET1', confirmedAt: 1000, lastCounter: 40 });
    });

    it('replaces a pending secret', async () => {
      const r = await make();
      const acct = accountId();
      await r.createAccount(acct, newDevice(acct));
      expect(await r.setPendingOtp(acct, 'A')).toBe(true);
      expect(await r.setPendingOtp(acct, 'B')).toBe(true);
      expect(await r.getOtp(acct)).toEqual({ secret: 'B', confirmedAt: null, lastCounter: null });
    });

    it('accepts each time step once, only newer ones, and confirms once', async () => {
      const r = await make();
      const acct = accountId();
      await r.createAccount(acct, newDevice(acct));
      await r.setPendingOtp(acct, 'S');
      expect(await r.acceptOtpCounter(acct, 100, 5000)).toBe(true);
      expect(await r.acceptOtpCounter(acct, 100, 5001)).toBe(false);
      expect(await r.acceptOtpCounter(acct, 99, 5002)).toBe(false);
      expect(await r.acceptOtpCounter(acct, 101, 6000)).toBe(true);
      expect(await r.getOtp(acct)).toEqual({ secret: 'S', confirmedAt: 5000, lastCounter: 101 });
      expect(await r.acceptOtpCounter(acct, 1000, 7000)).toBe(true);
      expect(await r.getOtp(acct)).toEqual({ secret: 'S', confirmedAt: 5000, lastCounter: 1000 });
      expect(await r.acceptOtpCounter('unknown', 1, 1)).toBe(false);
    });

    it('lets exactly one of 20 racing requests with the same code pass', async () => {
      const r = await make();
      const acct = accountId();
      await r.createAccount(acct, newDevice(acct));
      await r.setPendingOtp(acct, 'S');
      const passed = await Promise.all(Array.from({ length: 20 }, (_, i) => r.acceptOtpCounter(acct, 57, 100 + i)));
      expect(passed.filter(Boolean)).toHaveLength(1);
      expect(await r.getOtp(acct)).toEqual({ secret: 'S', confirmedAt: 100 + passed.indexOf(true), lastCounter: 57 });
    });

    it('keeps OTP state per account', async () => {
      const r = await make();
      const a = accountId();
      const b = accountId();
      await r.createAccount(a, newDevice(a));
      await r.createAccount(b, newDevice(b));
      await r.setPendingOtp(a, 'A');
      await r.setPendingOtp(b, 'B');
      expect(await r.acceptOtpCounter(a, 10, 1)).toBe(true);
      expect(await r.acceptOtpCounter(b, 10, 2)).toBe(true);
      expect(await r.getOtp(a)).toEqual({ secret: 'A', confirmedAt: 1, lastCounter: 10 });
      expect(await r.getOtp(b)).toEqual({ secret: 'B', confirmedAt: 2, lastCounter: 10 });
    });

    it('answers ping while usable', async () => {
      const r = await make();
      await expect(r.ping()).resolves.toBeUndefined();
    });
  });
}
