import { describe, expect, it } from 'vitest';
import { type EvictionReason, MemoryReplayCache } from '../../src/store/memory/replay-cache.js';

describe('MemoryReplayCache', () => {
  const make = (maxEntries = 10) => {
    const clock = { t: 1000 };
    const evicted: EvictionReason[] = [];
    const cache = new MemoryReplayCache({ maxEntries, now: () => clock.t, onEvict: (r) => evicted.push(r) });
    return { cache, clock, evicted };
  };

  it('refuses a key while it lives, takes it once', async () => {
    const { cache } = make();
    expect(await cache.add('a', 2000)).toBe(true);
    expect(await cache.add('a', 2000)).toBe(false);
    expect(await cache.take('a')).toBe(true);
    expect(await cache.take('a')).toBe(false);
  });

  it('forgets expired keys and counts them', async () => {
    const { cache, clock, evicted } = make();
    await cache.add('a', 2000);
    await cache.add('b', 5000);
    clock.t = 2000;
    expect(await cache.take('a')).toBe(false);
    expect(await cache.add('a', 3000)).toBe(true);
    expect(cache.size).toBe(2);
    expect(evicted).toEqual(['expired']);
  });

  it('stays within its bound and counts every capacity eviction', async () => {
    const { cache, evicted } = make(3);
    for (const k of ['a', 'b', 'c', 'd', 'e']) await cache.add(k, 10_000);
    expect(cache.size).toBe(3);
    expect(evicted).toEqual(['capacity', 'capacity']);
    expect(await cache.take('a')).toBe(false);
    expect(await cache.take('e')).toBe(true);
  });

  it('rejects a nonsensical bound', () => {
    expect(() => new MemoryReplayCache({ maxEntries: 0 })).toThrow(RangeError);
  });
});
