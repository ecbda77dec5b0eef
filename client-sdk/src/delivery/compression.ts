/**
 * Raw deflate through the Web `CompressionStream`/`DecompressionStream` (browsers and Node 20 alike), with an output
 * bound so a small hostile payload cannot expand into gigabytes (a decompression bomb).
 */
import { OppieError } from '../errors.js';

/**
 * Raw deflate for chunked payloads, as a replaceable backend (see `Platform.compression`). Every backend must produce
 * standard raw deflate (RFC 1951) and refuse output beyond the bound, so the two ends may use different ones.
 */
export interface Compression {
  /**
   * Deflates `bytes`. With `skipLowGain`, a payload of {@link DEFLATE_PROBE_FROM} bytes or more that only Huffman
   * coding would shrink ({@link skipsLowGain}: {@link mayBeLowGain}, then its probe's repeats or, with more than a
   * few, {@link isLowGain} of the deflated probe) comes back as the same bytes, undeflated: the caller then sends it
   * as it is.
   */
  deflateRaw(bytes: Uint8Array, hints?: DeflateHints): Promise<Uint8Array>;
  /**
   * Inflates `bytes`; past `maxOutputBytes` of output it throws `OPPIE_ERR_PAYLOAD_TOO_LARGE`, on data that is not
   * raw deflate `OPPIE_ERR_PROTOCOL`.
   */
  inflateRaw(bytes: Uint8Array, maxOutputBytes: number): Promise<Uint8Array>;
}

/** What the caller of {@link Compression.deflateRaw} knows about the link the bytes are for. */
export interface DeflateHints {
  /**
   * Leave data that only Huffman coding would shrink (base64 of binary: to ~75%) undeflated: its bytes carry at
   * least {@link LOW_GAIN_MIN_BITS} each and its probe has at most {@link LOW_GAIN_MAX_REPEATS} repeats or deflates
   * to more than {@link DEFLATE_HUFFMAN_ABOVE}. Its
   * deflate and inflate cost more time at the two ends than its bytes take on a fast link (with both ends on two
   * cores, deflating it cost a quarter of the throughput), while data with repeats (text: to ~20%) is deflated all
   * the same.
   */
  readonly skipLowGain?: boolean;
}

/**
 * The portable default: the Web `CompressionStream`/`DecompressionStream`. With `skipLowGain` it tells low-gain data
 * as `nodeCompression` does ({@link skipsLowGain}); a probe with repeats is deflated by the streams at their own
 * level (zlib's default, 6, where nodeCompression's probe uses 1): on data with no repeats the two levels come out
 * within a percent of each other, and on text both far below the threshold.
 */
export const webCompression: Compression = {
  deflateRaw: async (bytes, hints) => ((await skipsLowGain(bytes, hints, deflateRaw)) ? bytes : deflateRaw(bytes)),
  inflateRaw: (b, m) => inflateRaw(b, m),
};

type ZlibCallback = (err: (Error & { code?: string }) | null, result: Uint8Array) => void;
interface DeflateOptions {
  level?: number;
  strategy?: number;
  chunkSize?: number;
}
interface InflateOptions {
  maxOutputLength: number;
  chunkSize?: number;
}
/** The part of `node:zlib` {@link nodeCompression} uses (structural, so this file never imports Node modules). */
export interface ZlibLike {
  deflateRaw(buf: Uint8Array, options: DeflateOptions, callback: ZlibCallback): void;
  inflateRaw(buf: Uint8Array, options: InflateOptions, callback: ZlibCallback): void;
  /** Without the synchronous calls, everything goes through the callbacks. */
  deflateRawSync?(buf: Uint8Array, options: DeflateOptions): Uint8Array;
  inflateRawSync?(buf: Uint8Array, options: InflateOptions): Uint8Array;
  readonly constants: { readonly Z_HUFFMAN_ONLY: number; readonly Z_BEST_SPEED?: number };
}

/** Payloads from this size on are probed before they are deflated (below it the probe would cost more than it saves). */
export const DEFLATE_PROBE_FROM = 16 * 1024;
/** Bytes of the probe, taken from the middle of the payload. */
export const DEFLATE_PROBE_BYTES = 4 * 1024;
/**
 * Probe ratio (deflated / original) above which LZ77 matching is not paying for itself: such data (base64 of
 * random or already compressed bytes is the common case, ~0.75) shrinks as much by Huffman coding alone.
 */
export const DEFLATE_HUFFMAN_ABOVE = 0.6;

/** The {@link DEFLATE_PROBE_BYTES} from the middle of `bytes` that the low-gain probe deflates. */
export function probeOf(bytes: Uint8Array): Uint8Array {
  const from = (bytes.byteLength - DEFLATE_PROBE_BYTES) >>> 1;
  return bytes.subarray(from, from + DEFLATE_PROBE_BYTES);
}

/**
 * Bits per byte (order 0) below which a probe is never taken for low-gain data. Huffman coding alone takes such bytes
 * below ~{@link DEFLATE_HUFFMAN_ABOVE} of their size, so only data above it needs the deflated probe to tell: base64
 * has 6.0 bits, raw binary 8.0, but UTF-8 Chinese text has 6.0 too and deflates to ~48%. Code and English text have
 * 4.5-5.3. The margin above the 4.8 bits where Huffman coding alone reaches 60% lets text with a few rare symbols
 * through without the probe: what it could miss is repeat-free data of 4.8-5.5 bits (base32), which is then deflated
 * as before, never skipped by mistake.
 */
export const LOW_GAIN_MIN_BITS = 5.5;

/**
 * Whether `bytes` may be low-gain data, from the order-0 entropy of their {@link probeOf} sample (~10-20 µs for 4 KiB,
 * against ~90 µs for deflating it): false means no, true means the probe's repeats ({@link repeatedQuads}) or, when
 * it has some, the deflated probe ({@link isLowGain}) have to say.
 *
 * @example
 * const worthAProbe = mayBeLowGain(bytes); // false: deflate it
 */
export function mayBeLowGain(bytes: Uint8Array): boolean {
  const sample = probeOf(bytes);
  const counts = new Uint32Array(256);
  for (let i = 0; i < sample.length; i++) {
    const byte = sample[i] as number;
    counts[byte] = (counts[byte] as number) + 1;
  }
  let bits = 0;
  for (let i = 0; i < 256; i++) {
    const n = counts[i] as number;
    if (n !== 0) bits -= n * Math.log2(n / sample.length);
  }
  return bits / sample.length >= LOW_GAIN_MIN_BITS;
}

/**
 * Repeated four-byte sequences ({@link repeatedQuads}) in a probe of {@link LOW_GAIN_MIN_BITS} or more at or below
 * which it is low-gain data without deflating it (out of 4,093 positions). LZ77 gains by repeats, and those of three
 * bytes (no repeated quad) save next to nothing at 5.5 bits a byte: a length and a distance cost about what three
 * literals do. 64 repeated positions let it replace at most ~256 bytes, 6% of the probe, and the rest, at 5.5 bits a
 * byte or more, takes Huffman coding to more than 68% of its size: above 64% in all, over
 * {@link DEFLATE_HUFFMAN_ABOVE}. Probes of base64 of random bytes have 0-4, random binary 0, random CJK characters
 * 3-37, JSON around base64 blobs 27-31; UTF-8 Chinese text has thousands, as has base64 of text. Of 3,300 probes of
 * eleven kinds, none that passed here deflated to 60% or less (the lowest: 72.4%; 2026-12-02).
 */
export const LOW_GAIN_MAX_REPEATS = 64;

const QUAD_SLOTS = 1 << 14;
const quadKeys = new Int32Array(QUAD_SLOTS);
const quadStamps = new Int32Array(QUAD_SLOTS);
let quadStamp = 0;

/**
 * How many positions of `sample` start four bytes that occur earlier in it, compared exactly (a hash only picks the
 * slot). About 20 µs for a 4 KiB probe on Node 20, against 65-110 µs for deflating it: most of that is making a zlib
 * stream. Up to 8,192 positions are looked at (a probe is 4 KiB).
 *
 * @example
 * const low = mayBeLowGain(bytes) && repeatedQuads(probeOf(bytes)) <= LOW_GAIN_MAX_REPEATS;
 */
export function repeatedQuads(sample: Uint8Array): number {
  const n = Math.min(sample.length, QUAD_SLOTS / 2 + 3);
  if (n < 4) return 0;
  quadStamp = quadStamp === 0x7fffffff ? 1 : quadStamp + 1;
  if (quadStamp === 1) quadStamps.fill(0);
  let repeats = 0;
  // Bytes i-3..i, the oldest in the low byte: each step shifts one out and the next one in at the top.
  let quad = ((sample[0] as number) << 8) | ((sample[1] as number) << 16) | ((sample[2] as number) << 24);
  for (let i = 3; i < n; i++) {
    quad = (quad >>> 8) | ((sample[i] as number) << 24);
    let slot = Math.imul(quad, 0x9e3779b1) >>> 18;
    for (;;) {
      if (quadStamps[slot] !== quadStamp) {
        quadStamps[slot] = quadStamp;
        quadKeys[slot] = quad;
        break;
      }
      if (quadKeys[slot] === quad) {
        repeats += 1;
        break;
      }
      slot = (slot + 1) & (QUAD_SLOTS - 1);
    }
  }
  return repeats;
}

/**
 * Whether a probe that deflated (level 1) to `deflatedBytes` is data that only Huffman coding shrinks: above
 * {@link DEFLATE_HUFFMAN_ABOVE} of its size.
 *
 * @example
 * const huffmanOnly = isLowGain(zlib.deflateRawSync(probeOf(bytes), { level: 1 }).byteLength);
 */
export function isLowGain(deflatedBytes: number): boolean {
  return deflatedBytes > DEFLATE_PROBE_BYTES * DEFLATE_HUFFMAN_ABOVE;
}

/**
 * Whether a deflate asked with `hints` leaves `bytes` as they are: `skipLowGain`, {@link DEFLATE_PROBE_FROM} bytes or
 * more, {@link mayBeLowGain}, and then its probe has at most {@link LOW_GAIN_MAX_REPEATS} repeats or, deflated by
 * `deflateProbe`, {@link isLowGain}. The decision every backend makes (`nodeCompression` deflates the probe anyway
 * when it has repeats, to choose its strategy).
 *
 * @example
 * if (await skipsLowGain(bytes, hints, (probe) => zlib.deflateRawSync(probe, { level: 1 }))) return bytes;
 */
export async function skipsLowGain(
  bytes: Uint8Array,
  hints: DeflateHints | undefined,
  deflateProbe: (probe: Uint8Array) => Uint8Array | Promise<Uint8Array>,
): Promise<boolean> {
  if (hints?.skipLowGain !== true || bytes.byteLength < DEFLATE_PROBE_FROM || !mayBeLowGain(bytes)) return false;
  const probe = probeOf(bytes);
  return repeatedQuads(probe) <= LOW_GAIN_MAX_REPEATS || isLowGain((await deflateProbe(probe)).byteLength);
}
/**
 * Inputs up to this size are deflated on the calling thread. A round trip through libuv's thread pool costs more than
 * the work itself at this size (64 KiB of base64 random bytes, Huffman-only: 0.63 ms synchronously, 1.25 ms of wall
 * time through the pool), and in a stream of messages the wake-ups split what would have been one batch of frames
 * (and one receipt) into one per message. Bounded so one call blocks the event loop for a few milliseconds at most
 * (128 KiB: ~1.3 ms Huffman-only, ~0.6 ms of text at level 1, ~3 ms at level 1 when the probe took incompressible
 * data for text); larger payloads go to the pool.
 */
export const SYNC_DEFLATE_BYTES = 128 * 1024;
/** Deflated inputs up to this size are inflated on the calling thread, to at most {@link SYNC_INFLATE_OUTPUT} bytes. */
export const SYNC_INFLATE_BYTES = 64 * 1024;
/** Output bound of the synchronous attempt; a payload that inflates further is inflated again on the pool. */
export const SYNC_INFLATE_OUTPUT = 512 * 1024;
/**
 * zlib's output buffer per pass, between its 16 KiB default and 256 KiB: each pass is a round trip to the thread
 * pool and a copy on the main thread, and a 64 KiB payload took four (16 KiB: 1.8 ms to deflate base64 of random
 * bytes and 0.83 ms to inflate it; one pass: 1.0-1.2 and 0.52 ms).
 */
const passBytes = (expected: number) => Math.min(256 * 1024, Math.max(16 * 1024, expected));

/**
 * Raw deflate on Node's zlib: the same bytes as the Web streams, without their per-chunk promise machinery, at zlib's
 * fastest level. The output bound is zlib's own `maxOutputLength`, so a bomb stops inside zlib.
 *
 * - Level 1 (`Z_BEST_SPEED`): a 64 KiB unified diff deflates in 0.31 instead of 1.0 ms (level 6) to 20.6 instead of
 *   18.7% of its size, and inflates in 0.12 instead of 0.19 ms: for frames on a live link, CPU is worth more than
 *   the last 2% of size.
 * - A payload of {@link DEFLATE_PROBE_FROM} bytes or more is probed first: 4 KiB from its middle are deflated, and
 *   when they come out above 60% of their size the payload is deflated with Huffman coding only (`Z_HUFFMAN_ONLY`),
 *   which for such data gives the same size at about half of level 1's CPU (64 KiB of base64 random bytes: 0.63
 *   instead of 1.4 ms, both 75%), or with `skipLowGain` not at all. Data whose repeats lie further apart than the
 *   probe sees keeps only its Huffman gain.
 * - Small inputs (deflate up to {@link SYNC_DEFLATE_BYTES}, inflate of up to 64 KiB into at most
 *   {@link SYNC_INFLATE_OUTPUT}) run on the calling thread, larger ones on the thread pool.
 *
 * Either way the output is standard raw deflate that any backend inflates.
 *
 * @example
 * import zlib from 'node:zlib';
 * const platform = { ...others, compression: nodeCompression(zlib) };
 */
export function nodeCompression(zlib: ZlibLike): Compression {
  const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const deflateSync = zlib.deflateRawSync?.bind(zlib);
  const inflateSync = zlib.inflateRawSync?.bind(zlib);
  const deflate = async (bytes: Uint8Array, options: DeflateOptions): Promise<Uint8Array> => {
    if (deflateSync !== undefined && bytes.byteLength <= SYNC_DEFLATE_BYTES) return plain(deflateSync(bytes, options));
    return new Promise<Uint8Array>((resolve, reject) =>
      zlib.deflateRaw(bytes, { ...options, chunkSize: passBytes(bytes.byteLength + 1024) }, (err, out) =>
        err ? reject(err) : resolve(plain(out)),
      ),
    );
  };
  const fast = { level: zlib.constants.Z_BEST_SPEED ?? 1 };
  const inflateFailure = (err: Error & { code?: string }, maxOutputBytes: number) =>
    err.code === 'ERR_BUFFER_TOO_LARGE'
      ? new OppieError('OPPIE_ERR_PAYLOAD_TOO_LARGE', `decompressed payload exceeds ${maxOutputBytes} bytes`)
      : new OppieError('OPPIE_ERR_PROTOCOL', 'chunked payload does not decompress', { cause: err });
  const inflatePooled = (bytes: Uint8Array, maxOutputBytes: number) => {
    // Text inflates to about five times its deflated size; the bound caps the buffer for small outputs.
    const options = {
      maxOutputLength: Math.max(1, maxOutputBytes),
      chunkSize: passBytes(Math.min(maxOutputBytes, bytes.byteLength * 5)),
    };
    return new Promise<Uint8Array>((resolve, reject) =>
      zlib.inflateRaw(bytes, options, (err, out) =>
        err === null ? resolve(plain(out)) : reject(inflateFailure(err, maxOutputBytes)),
      ),
    );
  };
  return {
    deflateRaw: async (bytes, hints) => {
      if (bytes.byteLength < DEFLATE_PROBE_FROM) return deflate(bytes, fast);
      // The skip is skipsLowGain's; a probe it deflated also chooses the strategy, and is not deflated twice.
      let probed: Uint8Array | undefined;
      const deflateProbe = async (probe: Uint8Array) => {
        probed = await deflate(probe, fast);
        return probed;
      };
      if (await skipsLowGain(bytes, hints, deflateProbe)) return bytes;
      const huffman = isLowGain((probed ?? (await deflateProbe(probeOf(bytes)))).byteLength);
      return deflate(bytes, huffman ? { strategy: zlib.constants.Z_HUFFMAN_ONLY } : fast);
    },
    inflateRaw: async (bytes, maxOutputBytes) => {
      if (inflateSync === undefined || bytes.byteLength > SYNC_INFLATE_BYTES)
        return inflatePooled(bytes, maxOutputBytes);
      const bound = Math.max(1, Math.min(maxOutputBytes, SYNC_INFLATE_OUTPUT));
      try {
        // One or two passes of zlib's output buffer, not the five of its 16 KiB default for a 64 KiB diff (0.11-0.14
        // instead of 0.15-0.17 ms on Node 20).
        const chunkSize = passBytes(Math.min(bound, bytes.byteLength * 5));
        return plain(inflateSync(bytes, { maxOutputLength: bound, chunkSize }));
      } catch (cause) {
        const err = cause as Error & { code?: string };
        // Past the synchronous attempt's own bound but within the caller's: the rest is work for the pool.
        if (err.code === 'ERR_BUFFER_TOO_LARGE' && maxOutputBytes > bound) return inflatePooled(bytes, maxOutputBytes);
        throw inflateFailure(err, maxOutputBytes);
      }
    },
  };
}

/** Compresses `bytes` with raw deflate. */
export function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  return pump(bytes, new CompressionStream('deflate-raw'), Number.POSITIVE_INFINITY);
}

/**
 * Inflates raw-deflate `bytes`, stopping as soon as the output would exceed `maxOutputBytes`
 * (`OPPIE_ERR_PAYLOAD_TOO_LARGE`). Data that is not valid deflate throws `OPPIE_ERR_PROTOCOL`.
 */
export async function inflateRaw(bytes: Uint8Array, maxOutputBytes: number): Promise<Uint8Array> {
  try {
    return await pump(bytes, new DecompressionStream('deflate-raw'), maxOutputBytes);
  } catch (cause) {
    if (cause instanceof OppieError) throw cause;
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'chunked payload does not decompress', { cause });
  }
}

async function pump(input: Uint8Array, stream: CompressionStream, maxOut: number): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  const writing = writer.write(input as Uint8Array<ArrayBuffer>).then(() => writer.close());
  // When reading stops early (bound hit, bad data) the write side rejects too; that failure is the same one the
  // reader reports below, so it is observed here only to keep it from surfacing as an unhandled rejection.
  writing.catch(() => undefined);
  const reader = stream.readable.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxOut) {
      await reader.cancel();
      throw new OppieError('OPPIE_ERR_PAYLOAD_TOO_LARGE', `decompressed payload exceeds ${maxOut} bytes`);
    }
    parts.push(value);
  }
  await writing;
  return concat(parts, total);
}

/** Joins byte arrays whose lengths add up to `total`. */
export function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
