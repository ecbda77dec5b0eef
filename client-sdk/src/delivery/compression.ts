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
  deflateRaw(bytes: Uint8Array): Promise<Uint8Array>;
  /**
   * Inflates `bytes`; past `maxOutputBytes` of output it throws `OPPIE_ERR_PAYLOAD_TOO_LARGE`, on data that is not
   * raw deflate `OPPIE_ERR_PROTOCOL`.
   */
  inflateRaw(bytes: Uint8Array, maxOutputBytes: number): Promise<Uint8Array>;
}

/** The portable default: the Web `CompressionStream`/`DecompressionStream`. */
export const webCompression: Compression = { deflateRaw: (b) => deflateRaw(b), inflateRaw: (b, m) => inflateRaw(b, m) };

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
 *   instead of 1.4 ms, both 75%). Data whose repeats lie further apart than the probe sees keeps only its Huffman
 *   gain.
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
    deflateRaw: async (bytes) => {
      if (bytes.byteLength < DEFLATE_PROBE_FROM) return deflate(bytes, fast);
      const from = (bytes.byteLength - DEFLATE_PROBE_BYTES) >>> 1;
      const probe = await deflate(bytes.subarray(from, from + DEFLATE_PROBE_BYTES), fast);
      const huffman = probe.byteLength > DEFLATE_PROBE_BYTES * DEFLATE_HUFFMAN_ABOVE;
      return deflate(bytes, huffman ? { strategy: zlib.constants.Z_HUFFMAN_ONLY } : fast);
    },
    inflateRaw: async (bytes, maxOutputBytes) => {
      if (inflateSync === undefined || bytes.byteLength > SYNC_INFLATE_BYTES)
        return inflatePooled(bytes, maxOutputBytes);
      const bound = Math.max(1, Math.min(maxOutputBytes, SYNC_INFLATE_OUTPUT));
      try {
        return plain(inflateSync(bytes, { maxOutputLength: bound }));
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
