/**
 * MemoryStore: long values are kept as UTF-8 bytes where that is lossless, in buffers it reuses, and every value reads
 * back as it was set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MEMORY_STORE_BYTES_FROM, MemoryStore } from '../src/memory-store.js';

/** Its private state: the point of these tests is where the characters live and which buffers are reused. */
const inside = (store: MemoryStore) => store as unknown as { map: Map<string, unknown>; spareBytes: number };
const held = (store: MemoryStore, key: string) => inside(store).map.get(key);

describe('MemoryStore', () => {
  it('keeps a long value as UTF-8 bytes and a short one as a string, and reads both back', async () => {
    const store = new MemoryStore();
    const long = 'é'.repeat(MEMORY_STORE_BYTES_FROM);
    const short = 'x'.repeat(MEMORY_STORE_BYTES_FROM - 1);
    await store.set('long', long);
    await store.set('short', short);
    expect(held(store, 'long')).toBeInstanceOf(Uint8Array);
    expect((held(store, 'long') as Uint8Array).byteLength).toBe(2 * MEMORY_STORE_BYTES_FROM);
    expect(held(store, 'short')).toBe(short);
    expect(await store.get('long')).toBe(long);
    expect(await store.get('short')).toBe(short);
    expect(await store.keys('')).toEqual(['long', 'short']);
    await store.delete('long');
    expect(await store.get('long')).toBeUndefined();
  });

  it("reuses a deleted or replaced value's buffer for the next value of its size, and keeps at most 8 MiB of spares", async () => {
    const store = new MemoryStore();
    const frame = (c: string) => c.repeat(87_000);
    await store.set('a', frame('a'));
    const first = (held(store, 'a') as Uint8Array).buffer;
    await store.delete('a');
    await store.set('b', frame('b'));
    expect((held(store, 'b') as Uint8Array).buffer).toBe(first);
    await store.set('b', frame('c'));
    await store.set('d', frame('d'));
    expect((held(store, 'd') as Uint8Array).buffer).toBe(first);
    expect(await store.get('b')).toBe(frame('c'));
    expect(await store.get('d')).toBe(frame('d'));
    // A value that is not ASCII outgrows the buffer of its length: it gets an array of its own, never reused.
    const wide = '€'.repeat(16 * 1024);
    await store.set('w', wide);
    const own = (held(store, 'w') as Uint8Array).buffer;
    await store.delete('w');
    await store.set('w2', 'x'.repeat(own.byteLength));
    expect((held(store, 'w2') as Uint8Array).buffer).not.toBe(own);
    expect(await store.get('w2')).toBe('x'.repeat(own.byteLength));
    for (let i = 0; i < 200; i++) await store.set(`k${i}`, frame('k'));
    for (let i = 0; i < 200; i++) await store.delete(`k${i}`);
    expect(inside(store).spareBytes).toBeGreaterThan(0);
    expect(inside(store).spareBytes).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('keeps a leading U+FEFF, and keeps a value with a lone surrogate as its string', async () => {
    const store = new MemoryStore();
    const bom = `\ufeff${'a'.repeat(MEMORY_STORE_BYTES_FROM)}`;
    const lone = `${'a'.repeat(MEMORY_STORE_BYTES_FROM)}\ud800`;
    await store.set('bom', bom);
    await store.set('lone', lone);
    expect(held(store, 'bom')).toBeInstanceOf(Uint8Array);
    expect(await store.get('bom')).toBe(bom);
    expect(held(store, 'lone')).toBe(lone);
    expect(await store.get('lone')).toBe(lone);
  });

  it('reads back any value as it was set (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 64 }),
        fc.integer({ min: 0, max: 2 * MEMORY_STORE_BYTES_FROM }),
        async (piece, repeat) => {
          const store = new MemoryStore();
          const value = piece.repeat(piece.length === 0 ? 0 : Math.ceil(repeat / piece.length));
          await store.set('k', value);
          expect(await store.get('k')).toBe(value);
        },
      ),
      { numRuns: 300 },
    );
  });
});
