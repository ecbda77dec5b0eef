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

  it('keeps a copy of bytes, short or long, from any Uint8Array; reads text as bytes and bytes as text', async () => {
    const store = new MemoryStore();
    const short = Buffer.from('hi\n'); // a Buffer's own slice() would be a view of it
    const long = new Uint8Array(MEMORY_STORE_BYTES_FROM + 10).fill(0x61);
    await store.setBytes('short', short);
    await store.setBytes('long', long.subarray(5));
    short.fill(0);
    long.fill(0);
    expect(await store.getBytes('short')).toEqual(new Uint8Array([0x68, 0x69, 0x0a]));
    expect(await store.getBytes('long')).toEqual(new Uint8Array(MEMORY_STORE_BYTES_FROM + 5).fill(0x61));
    expect(await store.get('short')).toBe('hi\n');
    await store.set('text', 'é');
    expect(await store.getBytes('text')).toEqual(new Uint8Array([0xc3, 0xa9]));
    expect(await store.getBytes('missing')).toBeUndefined();
    // What getBytes gives is the caller's: writing to it changes nothing stored.
    (await store.getBytes('long'))?.fill(0);
    expect((await store.getBytes('long'))?.[0]).toBe(0x61);
    // A long value's buffer goes back to the spares when the key goes, and the next of its size takes it.
    const buffer = (held(store, 'long') as Uint8Array).buffer;
    await store.delete('long');
    await store.setBytes('again', new Uint8Array(MEMORY_STORE_BYTES_FROM + 1));
    expect((held(store, 'again') as Uint8Array).buffer).toBe(buffer);
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
