import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Chunk, Reassembler, splitPayload } from '../../src/delivery/chunker.js';
import {
  type Compression,
  DEFLATE_PROBE_FROM,
  nodeCompression,
  webCompression,
  type ZlibLike,
} from '../../src/delivery/compression.js';
import { rejectsWith } from './helpers.js';

const backends: Array<[string, Compression]> = [
  ['Web streams', webCompression],
  ['Node zlib', nodeCompression(zlib)],
];

const text = (n: number) => new TextEncoder().encode('diff --git a/x b/x\n+ a line of a diff\n'.repeat(n));

describe('compression backends', () => {
  it('each inflates what the other deflates (the two ends of a pair may differ)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 0, max: 300 }), async (noise, lines) => {
        const bytes = new Uint8Array([...text(lines), ...noise]);
        for (const [, from] of backends) {
          const deflated = await from.deflateRaw(bytes);
          for (const [, to] of backends) {
            expect(Buffer.from(await to.inflateRaw(deflated, bytes.length)).equals(Buffer.from(bytes))).toBe(true);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it.each(backends)(
    '%s: output of exactly the bound passes, one byte more is OPPIE_ERR_PAYLOAD_TOO_LARGE',
    async (_, c) => {
      const bytes = text(500);
      const deflated = await c.deflateRaw(bytes);
      expect((await c.inflateRaw(deflated, bytes.length)).length).toBe(bytes.length);
      await rejectsWith(c.inflateRaw(deflated, bytes.length - 1), 'OPPIE_ERR_PAYLOAD_TOO_LARGE');
    },
  );

  it.each(backends)('%s: a decompression bomb stops at the bound inside the reassembler', async (_, c) => {
    const bomb = await c.deflateRaw(new Uint8Array(20 * 1024 * 1024));
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    const chunk: Chunk = { transferId: 'ab'.repeat(16), index: 0, count: 1, compressed: true, data: bomb };
    const r = new Reassembler({ maxOutputBytes: 1024 * 1024, inflate: c.inflateRaw });
    await rejectsWith(r.add(chunk), 'OPPIE_ERR_PAYLOAD_TOO_LARGE');
  });

  it.each(backends)('%s: data that is not raw deflate is OPPIE_ERR_PROTOCOL', async (_, c) => {
    await rejectsWith(c.inflateRaw(new Uint8Array([255, 255, 1]), 1024), 'OPPIE_ERR_PROTOCOL');
    const truncated = (await c.deflateRaw(text(200))).subarray(0, 20);
    await rejectsWith(c.inflateRaw(truncated, 1 << 20), 'OPPIE_ERR_PROTOCOL');
  });

  it('splitPayload compresses with the deflate it is given', async () => {
    const seen: number[] = [];
    const node = nodeCompression(zlib);
    const chunks = await splitPayload(text(2000), {
      chunkBytes: 1000,
      deflate: (b) => {
        seen.push(b.length);
        return node.deflateRaw(b);
      },
    });
    expect(seen).toEqual([text(2000).length]);
    expect(chunks[0]?.compressed).toBe(true);
  });

  it('Node zlib: data that only Huffman coding shrinks is deflated Huffman-only after a probe; text keeps LZ77', async () => {
    const calls: Array<{ bytes: number; strategy: number | undefined }> = [];
    const spy: ZlibLike = {
      deflateRaw: (buf, options, callback) => {
        calls.push({ bytes: buf.byteLength, strategy: options.strategy });
        zlib.deflateRaw(buf, options, callback);
      },
      inflateRaw: (buf, options, callback) => zlib.inflateRaw(buf, options, callback),
      constants: zlib.constants,
    };
    const c = nodeCompression(spy);
    const roundTrips = async (bytes: Uint8Array, deflated: Uint8Array) => {
      for (const [, to] of backends) {
        expect(Buffer.from(await to.inflateRaw(deflated, bytes.length)).equals(Buffer.from(bytes))).toBe(true);
      }
    };

    // base64 of random bytes: six bits per byte, nothing for LZ77 to find.
    const random = new TextEncoder().encode(randomBytes(48 * 1024).toString('base64'));
    const huffman = await c.deflateRaw(random);
    expect(calls).toEqual([
      { bytes: 4096, strategy: undefined },
      { bytes: random.length, strategy: zlib.constants.Z_HUFFMAN_ONLY },
    ]);
    expect(huffman.length / random.length).toBeLessThan(0.77); // what Huffman coding gains is kept
    await roundTrips(random, huffman);

    calls.length = 0;
    const diff = text(3000);
    const lz = await c.deflateRaw(diff);
    expect(calls).toEqual([
      { bytes: 4096, strategy: undefined },
      { bytes: diff.length, strategy: undefined },
    ]);
    expect(lz.length).toBeLessThan(diff.length / 20);
    await roundTrips(diff, lz);

    calls.length = 0;
    const small = random.subarray(0, DEFLATE_PROBE_FROM - 1);
    await roundTrips(small, await c.deflateRaw(small));
    expect(calls).toEqual([{ bytes: small.length, strategy: undefined }]);
  });
});
