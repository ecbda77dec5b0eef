import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHUNK_HEADER_BYTES,
  type Chunk,
  DEFAULT_CHUNK_BYTES,
  decodeChunk,
  encodeChunk,
  encodeChunkInPlace,
  FOLDED_CHUNK_BYTES,
  FOLDED_MESSAGE_BYTES,
  Reassembler,
  splitPayload,
  TAIL_FOLD_BYTES,
} from '../../src/delivery/chunker.js';
import { deflateRaw } from '../../src/delivery/compression.js';
import { rejectsWith } from './helpers.js';

async function reassemble(chunks: Chunk[], r = new Reassembler()): Promise<Uint8Array | undefined> {
  let out: Uint8Array | undefined;
  for (const c of chunks) {
    const p = await r.add(decodeChunk(encodeChunk(c)));
    if (p.done) out = p.bytes;
  }
  return out;
}

/** Byte equality via Buffer: vitest's deep equality walks a multi-MiB array element by element (seconds). */
const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

const random = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
};

describe('chunker', () => {
  it('round-trips payloads of random sizes, compressed or not', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.boolean(),
        async (bytes, chunkBytes, compress) => {
          const chunks = await splitPayload(bytes, { chunkBytes, compress });
          expect(chunks.every((c) => c.data.byteLength <= chunkBytes && c.count === chunks.length)).toBe(true);
          expect(same(await reassemble(chunks), bytes)).toBe(true);
        },
      ),
    );
  });

  it('folds a last piece of at most tailBytes into the chunk before it, and only such a piece', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 0, max: 700 }),
        async (bytes, chunkBytes, tailBytes) => {
          const chunks = await splitPayload(bytes, { chunkBytes, tailBytes, compress: false });
          const pieces = Math.max(1, Math.ceil(bytes.byteLength / chunkBytes));
          const last = bytes.byteLength - (pieces - 1) * chunkBytes;
          const folds = pieces > 1 && last <= tailBytes;
          expect(chunks).toHaveLength(pieces - (folds ? 1 : 0));
          for (const c of chunks.slice(0, -1)) expect(c.data.byteLength).toBe(chunkBytes);
          expect(chunks.at(-1)!.data.byteLength).toBe(folds ? chunkBytes + last : last);
          expect(same(await reassemble(chunks), bytes)).toBe(true);
        },
      ),
    );
    await expect(splitPayload(random(10), { tailBytes: -1 })).rejects.toThrow(RangeError);
    await expect(splitPayload(random(10), { tailBytes: 1.5 })).rejects.toThrow(RangeError);
  });

  it('gives one empty chunk for an empty payload', async () => {
    const chunks = await splitPayload(new Uint8Array(0));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ index: 0, count: 1, compressed: false });
    expect(await reassemble(chunks)).toEqual(new Uint8Array(0));
  });

  it('round-trips 5 MiB of incompressible data, sent uncompressed in default-sized chunks', async () => {
    const bytes = random(5 * 1024 * 1024);
    const chunks = await splitPayload(bytes);
    expect(chunks[0]!.compressed).toBe(false);
    expect(chunks).toHaveLength(Math.ceil(bytes.byteLength / DEFAULT_CHUNK_BYTES));
    expect(same(await reassemble(chunks), bytes)).toBe(true);
  });

  it('fits a sealed chunk into one 64 KiB data-channel message, and its base64url frame within the relay minimum', () => {
    const sealed = CHUNK_HEADER_BYTES + DEFAULT_CHUNK_BYTES + 24 + 16; // nonce + Poly1305 tag
    // Binary channel message: kind and head length (5), a JSON head of up to ~1.9 KB, the sealed bytes.
    expect(5 + 1_900 + sealed).toBeLessThanOrEqual(64 * 1024);
    // Relay frame: the sealed bytes as base64url plus the envelope's other fields, below MAX_FRAME_BYTES' minimum.
    expect(Math.ceil((sealed * 4) / 3) + 1024).toBeLessThan(128 * 1024);
  });

  it('fits a sealed chunk with a folded tail into one FOLDED_MESSAGE_BYTES message, and its frame within the relay minimum', () => {
    expect(FOLDED_CHUNK_BYTES).toBe(DEFAULT_CHUNK_BYTES + TAIL_FOLD_BYTES);
    const sealed = CHUNK_HEADER_BYTES + FOLDED_CHUNK_BYTES + 24 + 16;
    // The same head budget as a full chunk's: 1,977 bytes.
    expect(5 + 1_977 + sealed).toBeLessThanOrEqual(FOLDED_MESSAGE_BYTES);
    expect(Math.ceil((sealed * 4) / 3) + 1024).toBeLessThan(128 * 1024);
  });

  it('shrinks a repetitive diff', async () => {
    const line = (i: number) => `+  const value${i % 50} = compute(input, options); // unchanged context\n`;
    const diff = new TextEncoder().encode(Array.from({ length: 20_000 }, (_, i) => line(i)).join(''));
    const chunks = await splitPayload(diff);
    const sent = chunks.reduce((n, c) => n + c.data.byteLength, 0);
    expect(chunks[0]!.compressed).toBe(true);
    expect(sent).toBeLessThan(diff.byteLength / 10);
    expect(same(await reassemble(chunks), diff)).toBe(true);
  });

  it('reassembles shuffled and duplicated chunks', async () => {
    const bytes = random(20_000);
    const chunks = await splitPayload(bytes, { chunkBytes: 1000 });
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray([...chunks.keys(), ...chunks.keys()], { minLength: 40 }), async (order) => {
        const r = new Reassembler();
        const results = [];
        for (const i of order) results.push(await r.add(chunks[i]!));
        const done = results.filter((p) => p.done);
        expect(done).toHaveLength(1);
        expect(done[0]!.done && same(done[0]!.bytes, bytes)).toBe(true);
        expect(r.bufferedBytes).toBe(0);
      }),
    );
  });

  it('hands over the data of a transfer of one uncompressed chunk as it is, and joins several into a new array', async () => {
    const bytes = random(5000);
    const [only] = await splitPayload(bytes, { compress: false });
    const one = await new Reassembler().add(only as Chunk);
    expect(one.done && one.bytes).toBe(only?.data);
    const chunks = await splitPayload(bytes, { chunkBytes: 3000, compress: false });
    const r = new Reassembler();
    let joined: Uint8Array | undefined;
    for (const c of chunks) {
      const p = await r.add(c);
      if (p.done) joined = p.bytes;
    }
    expect(same(joined, bytes)).toBe(true);
    expect(chunks.some((c) => c.data.buffer === joined?.buffer)).toBe(false);
  });

  it('holds a copy of a part that is a small view of a larger array (a chunk of a batch message), not the array', async () => {
    const bytes = random(200);
    const chunks = await splitPayload(bytes, { chunkBytes: 100, compress: false });
    const message = new Uint8Array(10_000); // the batch message the first chunk's plaintext is a view of
    message.set((chunks[0] as Chunk).data, 5_000);
    const r = new Reassembler();
    await r.add({ ...(chunks[0] as Chunk), data: message.subarray(5_000, 5_100) });
    message.fill(0xff); // the message's memory goes on to other uses
    const done = await r.add(chunks[1] as Chunk);
    expect(done.done && same(done.bytes, bytes)).toBe(true);
  });

  it('encodes a chunk in place in the room in front of its data, as encodeChunk would, and refuses without room', async () => {
    const array = random(CHUNK_HEADER_BYTES + 3000);
    const data = array.subarray(CHUNK_HEADER_BYTES);
    const [chunk] = await splitPayload(data.slice(), { compress: false });
    const expected = encodeChunk(chunk as Chunk);
    const framed = encodeChunkInPlace({ ...(chunk as Chunk), data });
    expect(framed).toEqual(expected);
    expect(framed.buffer).toBe(array.buffer);
    expect(framed.byteOffset).toBe(0);
    expect(() => encodeChunkInPlace({ ...(chunk as Chunk), data: array.subarray(CHUNK_HEADER_BYTES - 1) })).toThrow(
      RangeError,
    );
  });

  it('gives every transfer its own id of 32 lowercase hex digits, which the header carries', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const [c] = await splitPayload(new Uint8Array(1), { compress: false });
      expect(c?.transferId).toMatch(/^[0-9a-f]{32}$/);
      expect(decodeChunk(encodeChunk(c as Chunk)).transferId).toBe(c?.transferId);
      ids.add(c?.transferId as string);
    }
    expect(ids.size).toBe(300);
    // Every hex digit survives the header's bytes both ways.
    const all = {
      ...((await splitPayload(new Uint8Array(1)))[0] as Chunk),
      transferId: '0123456789abcdeffedcba9876543210',
    };
    expect(decodeChunk(encodeChunk(all)).transferId).toBe(all.transferId);
    expect(encodeChunk(all).subarray(2, 18)).toEqual(
      new Uint8Array([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10]),
    );
  });

  it('bounds concurrent transfers and buffered bytes with OPPIE_ERR_PAYLOAD_TOO_LARGE', async () => {
    const r = new Reassembler({ maxTransfers: 2, maxBytes: 2500 });
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => splitPayload(random(2000), { chunkBytes: 1000 })));
    await r.add(a![0]!);
    await r.add(b![0]!);
    await rejectsWith(r.add(c![0]!), 'OPPIE_ERR_PAYLOAD_TOO_LARGE');
    await rejectsWith(r.add(a![1]!), 'OPPIE_ERR_PAYLOAD_TOO_LARGE'); // 3000 > 2500 buffered: a is abandoned
    await rejectsWith(r.add(a![0]!), 'OPPIE_ERR_PAYLOAD_TOO_LARGE');
    expect(r.bufferedBytes).toBe(1000);
    expect(await r.add(b![1]!)).toMatchObject({ done: true });
    expect(await reassemble(c!, r)).toBeDefined(); // the slots and bytes of a and b were freed
    expect(r.bufferedBytes).toBe(0);
  });

  it('stops a decompression bomb at maxOutputBytes', async () => {
    const bomb = await deflateRaw(new Uint8Array(20 * 1024 * 1024));
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    const chunk: Chunk = { transferId: 'ab'.repeat(16), index: 0, count: 1, compressed: true, data: bomb };
    await rejectsWith(new Reassembler({ maxOutputBytes: 1024 * 1024 }).add(chunk), 'OPPIE_ERR_PAYLOAD_TOO_LARGE');
  });

  it('refuses corrupt compressed data and inconsistent chunks with OPPIE_ERR_PROTOCOL', async () => {
    const id = 'cd'.repeat(16);
    const junk: Chunk = { transferId: id, index: 0, count: 1, compressed: true, data: new Uint8Array([255, 255, 1]) };
    await rejectsWith(new Reassembler().add(junk), 'OPPIE_ERR_PROTOCOL');
    const r = new Reassembler();
    await r.add({ ...junk, count: 2, compressed: false });
    await rejectsWith(r.add({ ...junk, index: 1, count: 3, compressed: false }), 'OPPIE_ERR_PROTOCOL');
    // One chunk of a transfer says packed, another not.
    const p = new Reassembler();
    await p.add({ ...junk, count: 2, compressed: false, packed: true });
    await rejectsWith(p.add({ ...junk, index: 1, count: 2, compressed: false }), 'OPPIE_ERR_PROTOCOL');
  });

  it('carries the packed flag (bit 1) in the header, with or without deflate, and splits packed bodies so', async () => {
    for (const compressed of [false, true]) {
      const chunk: Chunk = {
        transferId: '1a'.repeat(16),
        index: 0,
        count: 1,
        compressed,
        packed: true,
        data: random(9),
      };
      const wire = encodeChunk(chunk);
      expect(wire[1]).toBe(compressed ? 3 : 2);
      expect(decodeChunk(wire)).toEqual(chunk);
    }
    const chunks = await splitPayload(random(100_000), { chunkBytes: 40_000, packed: true });
    expect(chunks.map((c) => c.packed)).toEqual([true, true, true]);
    expect((await splitPayload(random(10))).map((c) => c.packed)).toEqual([undefined]);
  });

  it('validates the wire header', () => {
    const ok = encodeChunk({
      transferId: '0f'.repeat(16),
      index: 1,
      count: 2,
      compressed: true,
      data: new Uint8Array([7]),
    });
    expect(decodeChunk(ok)).toEqual({
      transferId: '0f'.repeat(16),
      index: 1,
      count: 2,
      compressed: true,
      data: new Uint8Array([7]),
    });
    const bad = (at: number, value: number) => () => {
      const b = ok.slice();
      b[at] = value;
      return decodeChunk(b);
    };
    expect(() => decodeChunk(ok.subarray(0, 10))).toThrow(expect.objectContaining({ code: 'OPPIE_ERR_PROTOCOL' }));
    expect(bad(0, 2)).toThrow(/unknown version/);
    expect(bad(1, 4)).toThrow(/unknown flags/);
    expect(bad(1, 6)).toThrow(/unknown flags/);
    expect(bad(21, 5)).toThrow(/index 5 not below count 2/);
    expect(bad(25, 0)).toThrow(/count 0/);
    expect(() =>
      encodeChunk({ transferId: 'x', index: 0, count: 1, compressed: false, data: new Uint8Array() }),
    ).toThrow(RangeError);
  });
});
