import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Chunk, Reassembler, splitPayload } from '../../src/delivery/chunker.js';
import {
  type Compression,
  DEFLATE_PROBE_BYTES,
  DEFLATE_PROBE_FROM,
  isLowGain,
  LOW_GAIN_MAX_REPEATS,
  LOW_GAIN_MIN_BITS,
  mayBeLowGain,
  nodeCompression,
  probeOf,
  repeatedQuads,
  SYNC_DEFLATE_BYTES,
  SYNC_INFLATE_BYTES,
  SYNC_INFLATE_OUTPUT,
  skipsLowGain,
  webCompression,
  type ZlibLike,
} from '../../src/delivery/compression.js';
import { rejectsWith } from './helpers.js';

const backends: Array<[string, Compression]> = [
  ['Web streams', webCompression],
  ['Node zlib', nodeCompression(zlib)],
];

/**
 * 64 KiB of UTF-8 Chinese-like text: 200 two-character words in random order. Its bytes carry ~5.7 bits each, as
 * many as base64's, yet the words repeat and deflate finds them (to ~35%). Seeded, so every run has the same text.
 */
const chineseText = (): Uint8Array => {
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * n); // the high bits: an LCG's low bits repeat in short cycles
  };
  const words = Array.from({ length: 200 }, () => String.fromCodePoint(0x4e00 + next(0x51a5), 0x4e00 + next(0x51a5)));
  let s = '';
  while (s.length < 24 * 1024) s += words[next(words.length)];
  return new TextEncoder().encode(s).subarray(0, 64 * 1024);
};

const text = (n: number) => new TextEncoder().encode('diff --git a/x b/x\n+ a line of a diff\n'.repeat(n));

/** A copy of `bytes` with 150 bytes of its probe repeated twice within the probe: ~290 repeats, too few for LZ77. */
const withRepeatsInProbe = (bytes: Uint8Array) => {
  const out = bytes.slice();
  const from = (out.length - DEFLATE_PROBE_BYTES) >>> 1;
  const piece = out.slice(from, from + 150);
  out.set(piece, from + 1000);
  out.set(piece, from + 3000);
  return out;
};

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
    // An attacker's bomb, at zlib's best ratio (the SDK's own level 1 makes a larger one).
    const bomb = zlib.deflateRawSync(new Uint8Array(20 * 1024 * 1024), { level: 9 });
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

  /** node:zlib with every call recorded: which function, how many input bytes, level and strategy. */
  const recorded = () => {
    const calls: Array<{ fn: string; bytes: number; level?: number; strategy?: number }> = [];
    const spy: ZlibLike = {
      deflateRaw: (buf, options, callback) => {
        calls.push({ fn: 'deflateRaw', bytes: buf.byteLength, level: options.level, strategy: options.strategy });
        zlib.deflateRaw(buf, options, callback);
      },
      deflateRawSync: (buf, options) => {
        calls.push({ fn: 'deflateRawSync', bytes: buf.byteLength, level: options.level, strategy: options.strategy });
        return zlib.deflateRawSync(buf, options);
      },
      inflateRaw: (buf, options, callback) => {
        calls.push({ fn: 'inflateRaw', bytes: buf.byteLength });
        zlib.inflateRaw(buf, options, callback);
      },
      inflateRawSync: (buf, options) => {
        calls.push({ fn: 'inflateRawSync', bytes: buf.byteLength });
        return zlib.inflateRawSync(buf, options);
      },
      constants: zlib.constants,
    };
    return { calls, c: nodeCompression(spy) };
  };
  const roundTrips = async (bytes: Uint8Array, deflated: Uint8Array) => {
    for (const [, to] of backends) {
      expect(Buffer.from(await to.inflateRaw(deflated, bytes.length)).equals(Buffer.from(bytes))).toBe(true);
    }
  };
  const { Z_BEST_SPEED, Z_HUFFMAN_ONLY } = zlib.constants;

  it('Node zlib: data that only Huffman coding shrinks is deflated Huffman-only after a probe; text keeps LZ77 at level 1', async () => {
    const { calls, c } = recorded();
    // base64 of random bytes: six bits per byte, nothing for LZ77 to find.
    const random = new TextEncoder().encode(randomBytes(48 * 1024).toString('base64'));
    const huffman = await c.deflateRaw(random);
    expect(calls).toEqual([
      { fn: 'deflateRawSync', bytes: 4096, level: Z_BEST_SPEED, strategy: undefined },
      { fn: 'deflateRawSync', bytes: random.length, level: undefined, strategy: Z_HUFFMAN_ONLY },
    ]);
    expect(huffman.length / random.length).toBeLessThan(0.77); // what Huffman coding gains is kept
    await roundTrips(random, huffman);

    calls.length = 0;
    const diff = text(3000);
    const lz = await c.deflateRaw(diff);
    expect(calls).toEqual([
      { fn: 'deflateRawSync', bytes: 4096, level: Z_BEST_SPEED, strategy: undefined },
      { fn: 'deflateRawSync', bytes: diff.length, level: Z_BEST_SPEED, strategy: undefined },
    ]);
    expect(lz.length).toBeLessThan(diff.length / 20);
    await roundTrips(diff, lz);

    calls.length = 0;
    const small = random.subarray(0, DEFLATE_PROBE_FROM - 1);
    await roundTrips(small, await c.deflateRaw(small));
    expect(calls).toEqual([{ fn: 'deflateRawSync', bytes: small.length, level: Z_BEST_SPEED, strategy: undefined }]);
  });

  it('Node zlib: with skipLowGain, data that only Huffman coding shrinks comes back undeflated, after the probe only when it has repeats', async () => {
    const { calls, c } = recorded();
    const random = new TextEncoder().encode(randomBytes(48 * 1024).toString('base64'));
    expect((await c.deflateRaw(random, { skipLowGain: true })) === random).toBe(true);
    expect(calls).toEqual([]); // no repeats in its probe: nothing to deflate
    // Repeats in the probe, but too few for LZ77 to pay: the deflated probe decides.
    const repeated = withRepeatsInProbe(random);
    expect(repeatedQuads(probeOf(repeated))).toBeGreaterThan(LOW_GAIN_MAX_REPEATS);
    expect((await c.deflateRaw(repeated, { skipLowGain: true })) === repeated).toBe(true);
    expect(calls).toEqual([{ fn: 'deflateRawSync', bytes: 4096, level: Z_BEST_SPEED, strategy: undefined }]);

    // Text is deflated as without the hint, and so is a payload too small to probe.
    calls.length = 0;
    const diff = text(3000);
    const lz = await c.deflateRaw(diff, { skipLowGain: true });
    expect(lz.length).toBeLessThan(diff.length / 20);
    await roundTrips(diff, lz);
    const small = random.subarray(0, DEFLATE_PROBE_FROM - 1);
    const deflatedSmall = await c.deflateRaw(small, { skipLowGain: true });
    expect(deflatedSmall.length).toBeLessThan(small.length);
    await roundTrips(small, deflatedSmall);
  });

  it.each(backends)('%s: skipLowGain leaves base64 of random bytes alone and deflates Chinese text', async (_, c) => {
    const random = new TextEncoder().encode(randomBytes(48 * 1024).toString('base64'));
    expect((await c.deflateRaw(random, { skipLowGain: true })) === random).toBe(true);
    // As many bits per byte as base64, so only the deflated probe tells it apart: it shrinks by more than half.
    const chinese = chineseText();
    expect(mayBeLowGain(chinese)).toBe(true);
    const deflated = await c.deflateRaw(chinese, { skipLowGain: true });
    expect(deflated.length).toBeLessThan(chinese.length / 2);
    await roundTrips(chinese, deflated);
    // Without the hint, the base64 is deflated as before (Huffman coding: to ~75%).
    expect((await c.deflateRaw(random)).length).toBeLessThan(random.length * 0.77);
    // Base32 has no repeats either, but only five bits per byte: under LOW_GAIN_MIN_BITS, so never skipped.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const base32 = new TextEncoder().encode(Array.from(randomBytes(64 * 1024), (b) => alphabet[b & 31]).join(''));
    const deflated32 = await c.deflateRaw(base32, { skipLowGain: true });
    expect(deflated32.length).toBeLessThan(base32.length * 0.7);
    await roundTrips(base32, deflated32);
  });

  it('repeatedQuads counts the positions whose four bytes came earlier, exactly (property)', () => {
    const reference = (b: Uint8Array) => {
      const seen = new Set<string>();
      let n = 0;
      for (let i = 0; i + 4 <= b.length; i++) {
        const quad = b.subarray(i, i + 4).join(',');
        if (seen.has(quad)) n += 1;
        else seen.add(quad);
      }
      return n;
    };
    // Small alphabets make repeats common; the full one makes distinct quads whose hashes collide.
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 4096 }),
      fc.uint8Array({ min: 0, max: 3, maxLength: 4096 }),
      fc.uint8Array({ min: 60, max: 75, maxLength: 600 }),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        expect(repeatedQuads(b)).toBe(reference(b));
      }),
      { numRuns: 300 },
    );
    expect(repeatedQuads(new TextEncoder().encode('abcdabcd'))).toBe(1);
    expect(repeatedQuads(new Uint8Array(4096))).toBe(4092);
    expect(repeatedQuads(new Uint8Array(3))).toBe(0);
  });

  it('a probe skipped for its few repeats is one the deflated probe calls low-gain too', () => {
    const kinds: Record<string, () => Uint8Array> = {
      base64: () => new TextEncoder().encode(randomBytes(48 * 1024).toString('base64')),
      binary: () => randomBytes(64 * 1024),
      printable: () => Uint8Array.from(randomBytes(64 * 1024), (b) => 32 + (b % 95)),
      'random CJK': () =>
        new TextEncoder().encode(
          String.fromCodePoint(...Array.from(randomBytes(44 * 1024), (b, i) => 0x4e00 + b * 80 + (i % 80))),
        ),
      'base64 in JSON': () =>
        new TextEncoder().encode(
          JSON.stringify(Array.from({ length: 60 }, (_, id) => ({ id, blob: randomBytes(800).toString('base64') }))),
        ),
    };
    for (const [kind, make] of Object.entries(kinds)) {
      for (let i = 0; i < 10; i++) {
        const bytes = make();
        const probe = probeOf(bytes);
        expect(mayBeLowGain(bytes), kind).toBe(true);
        expect(repeatedQuads(probe), kind).toBeLessThanOrEqual(LOW_GAIN_MAX_REPEATS);
        expect(isLowGain(zlib.deflateRawSync(probe, { level: 1 }).length), kind).toBe(true);
      }
    }
    // Text with as many bits per byte has thousands: the deflated probe decides, and deflates it.
    expect(repeatedQuads(probeOf(chineseText()))).toBeGreaterThan(1000);
  });

  it('skipsLowGain deflates the probe only when it has repeats', async () => {
    const probes: number[] = [];
    const deflateProbe = (probe: Uint8Array) => {
      probes.push(probe.length);
      return zlib.deflateRawSync(probe, { level: 1 });
    };
    const random = new TextEncoder().encode(randomBytes(48 * 1024).toString('base64'));
    expect(await skipsLowGain(random, { skipLowGain: true }, deflateProbe)).toBe(true);
    expect(probes).toEqual([]);
    expect(await skipsLowGain(withRepeatsInProbe(random), { skipLowGain: true }, deflateProbe)).toBe(true);
    expect(await skipsLowGain(chineseText(), { skipLowGain: true }, deflateProbe)).toBe(false);
    expect(probes).toEqual([DEFLATE_PROBE_BYTES, DEFLATE_PROBE_BYTES]);
    expect(await skipsLowGain(random, {}, deflateProbe)).toBe(false);
    expect(probes.length).toBe(2);
  });

  it('mayBeLowGain lets text through on its entropy alone and leaves base64 and binary to the probe', () => {
    const random = randomBytes(64 * 1024);
    expect(mayBeLowGain(random)).toBe(true);
    expect(mayBeLowGain(new TextEncoder().encode(random.toString('base64')))).toBe(true);
    expect(mayBeLowGain(text(3000))).toBe(false);
    expect(mayBeLowGain(new TextEncoder().encode(random.toString('hex')))).toBe(false);
    expect(mayBeLowGain(new Uint8Array(64 * 1024))).toBe(false);
    // At the threshold: 46 equally frequent symbols carry 5.52 bits, 45 carry 5.49.
    const uniform = (symbols: number) => Uint8Array.from({ length: 64 * 1024 }, (_, i) => 48 + (i % symbols));
    expect(mayBeLowGain(uniform(46))).toBe(true);
    expect(mayBeLowGain(uniform(45))).toBe(false);
    expect(Math.log2(46)).toBeGreaterThanOrEqual(LOW_GAIN_MIN_BITS);
    expect(Math.log2(45)).toBeLessThan(LOW_GAIN_MIN_BITS);
  });

  it('Node zlib: payloads over SYNC_DEFLATE_BYTES are deflated on the thread pool, the rest on the calling thread', async () => {
    const { calls, c } = recorded();
    const atBound = text(4000).subarray(0, SYNC_DEFLATE_BYTES);
    await roundTrips(atBound, await c.deflateRaw(atBound));
    expect(calls.map((x) => x.fn)).toEqual(['deflateRawSync', 'deflateRawSync']);

    calls.length = 0;
    const over = text(4000).subarray(0, SYNC_DEFLATE_BYTES + 1);
    await roundTrips(over, await c.deflateRaw(over));
    expect(calls.map((x) => x.fn)).toEqual(['deflateRawSync', 'deflateRaw']); // the 4 KiB probe stays synchronous
  });

  it('Node zlib: inflate runs on the calling thread up to SYNC_INFLATE_OUTPUT and finishes on the pool past it', async () => {
    const { calls, c } = recorded();
    // Zeros deflate about 1000:1, so a small input inflates past the synchronous bound.
    const big = new Uint8Array(SYNC_INFLATE_OUTPUT + 1000);
    const deflated = zlib.deflateRawSync(big);
    expect(deflated.byteLength).toBeLessThan(64 * 1024);

    const out = await c.inflateRaw(deflated, big.length);
    expect(out.length).toBe(big.length);
    expect(calls.map((x) => x.fn)).toEqual(['inflateRawSync', 'inflateRaw']);

    calls.length = 0;
    await rejectsWith(c.inflateRaw(deflated, big.length - 1), 'OPPIE_ERR_PAYLOAD_TOO_LARGE');
    expect(calls.map((x) => x.fn)).toEqual(['inflateRawSync', 'inflateRaw']);

    // Within the synchronous bound, the caller's smaller bound is the one enforced, without the pool.
    calls.length = 0;
    const small = zlib.deflateRawSync(new Uint8Array(5000));
    await rejectsWith(c.inflateRaw(small, 4999), 'OPPIE_ERR_PAYLOAD_TOO_LARGE');
    expect((await c.inflateRaw(small, 5000)).length).toBe(5000);
    await rejectsWith(c.inflateRaw(new Uint8Array([255, 255, 1]), 1024), 'OPPIE_ERR_PROTOCOL');
    expect(calls.map((x) => x.fn)).toEqual(['inflateRawSync', 'inflateRawSync', 'inflateRawSync']);

    // Deflated input over SYNC_INFLATE_BYTES goes straight to the pool (random bytes barely deflate).
    calls.length = 0;
    const noise = randomBytes(SYNC_INFLATE_BYTES + 1024);
    const stored = zlib.deflateRawSync(noise);
    expect(stored.byteLength).toBeGreaterThan(SYNC_INFLATE_BYTES);
    expect(Buffer.from(await c.inflateRaw(stored, noise.length)).equals(noise)).toBe(true);
    expect(calls.map((x) => x.fn)).toEqual(['inflateRaw']);
  });

  it('Node zlib: a zlib without the synchronous calls is used through its callbacks', async () => {
    const c = nodeCompression({
      deflateRaw: (buf, options, callback) => zlib.deflateRaw(buf, options, callback),
      inflateRaw: (buf, options, callback) => zlib.inflateRaw(buf, options, callback),
      constants: { Z_HUFFMAN_ONLY: zlib.constants.Z_HUFFMAN_ONLY },
    });
    const diff = text(3000);
    await roundTrips(diff, await c.deflateRaw(diff));
    await rejectsWith(c.inflateRaw(await c.deflateRaw(diff), diff.length - 1), 'OPPIE_ERR_PAYLOAD_TOO_LARGE');
  });
});
