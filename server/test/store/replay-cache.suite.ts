/**
 * The semantics of a `ReplayCache`, written once against the interface and run on every engine (memory, Redis):
 * a live key is refused, taken once, forgotten after its lifetime (and then usable again), keys are independent,
 * and racing adds or takes of one key have exactly one winner. Lifetimes run on the real clock (Redis expires keys
 * by its own), kept to tens of milliseconds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ReplayCache } from '../../src/auth/stores.js';

export type MakeReplayCache = () => Promise<ReplayCache & { close?(): Promise<void> }>;

/** Short lifetime of the expiry tests; every check before it ends runs well within it. */
const LIFETIME = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function replayCacheSuite(name: string, makeCache: MakeReplayCache): void {
  describe(`ReplayCache semantics: ${name}`, () => {
    const open: Array<{ close?(): Promise<void> }> = [];
    const make = async () => {
      const c = await makeCache();
      open.push(c);
      return c;
    };
    const later = (ms = 60_000) => Date.now() + ms;

    afterEach(async () => {
      for (const c of open.splice(0)) await c.close?.();
    });

    it('refuses a key while it lives and takes it once', async () => {
      const c = await make();
      expect(await c.add('a', later())).toBe(true);
      expect(await c.add('a', later())).toBe(false);
      expect(await c.take('a')).toBe(true);
      expect(await c.take('a')).toBe(false);
    });

    it('takes nothing for an unknown key', async () => {
      const c = await make();
      expect(await c.take('never-added')).toBe(false);
    });

    it('accepts a key again once it was taken', async () => {
      const c = await make();
      expect(await c.add('a', later())).toBe(true);
      expect(await c.take('a')).toBe(true);
      expect(await c.add('a', later())).toBe(true);
    });

    it('keeps keys apart', async () => {
      const c = await make();
      expect(await c.add('challenge:x', later())).toBe(true);
      expect(await c.add('nonce:x', later())).toBe(true);
      expect(await c.take('challenge:x')).toBe(true);
      expect(await c.add('nonce:x', later())).toBe(false);
      expect(await c.take('nonce:x')).toBe(true);
    });

    it('forgets a key after its lifetime: not taken, accepted again', async () => {
      const c = await make();
      expect(await c.add('a', later(LIFETIME))).toBe(true);
      expect(await c.add('b', later(LIFETIME))).toBe(true);
      expect(await c.add('long', later())).toBe(true);
      await sleep(2 * LIFETIME);
      expect(await c.take('a')).toBe(false);
      expect(await c.add('b', later())).toBe(true);
      expect(await c.add('b', later())).toBe(false);
      expect(await c.add('long', later())).toBe(false);
    });

    it('a duplicate does not extend the lifetime of the live key', async () => {
      const c = await make();
      expect(await c.add('a', later(LIFETIME))).toBe(true);
      expect(await c.add('a', later())).toBe(false);
      await sleep(2 * LIFETIME);
      expect(await c.take('a')).toBe(false);
    });

    it('accepts a key whose lifetime already ended, and never takes it', async () => {
      const c = await make();
      expect(await c.add('old', Date.now() - 1000)).toBe(true);
      expect(await c.take('old')).toBe(false);
      expect(await c.add('old', later())).toBe(true);
    });

    it('lets exactly one of racing adds of a key win', async () => {
      const c = await make();
      const wins = await Promise.all(Array.from({ length: 20 }, () => c.add('race', later())));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });

    it('lets exactly one of racing takes of a key win', async () => {
      const c = await make();
      await c.add('race', later());
      const wins = await Promise.all(Array.from({ length: 20 }, () => c.take('race')));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });
  });
}
