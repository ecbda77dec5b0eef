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
/** The part of `node:zlib` {@link nodeCompression} uses (structural, so this file never imports Node modules). */
export interface ZlibLike {
  deflateRaw(buf: Uint8Array, options: { strategy?: number; chunkSize: number }, callback: ZlibCallback): void;
  inflateRaw(buf: Uint8Array, options: { maxOutputLength: number; chunkSize: number }, callback: ZlibCallback): void;
  readonly constants: { readonly Z_HUFFMAN_ONLY: number };
}

/** Payloads from this size on are probed before they are deflated (below it the probe would cost more than it saves). */
export const DEFLATE_PROBE_FROM = 16 * 1024;
/** Bytes of the probe, taken from the middle of the payload. */
const PROBE_BYTES = 4 * 1024;
/**
 * Probe ratio (deflated / original) above which LZ77 matching is not paying for itself: such data (base64 of
 * random or already compressed bytes is the common case, ~0.75) shrinks as much by Huffman coding alone.
 */
const HUFFMAN_ABOVE = 0.6;
/**
 * zlib's output buffer per pass, between its 16 KiB default and 256 KiB: each pass is a round trip to the thread
 * pool and a copy on the main thread, and a 64 KiB payload took four (16 KiB: 1.8 ms to deflate base64 of random
 * bytes and 0.83 ms to inflate it; one pass: 1.0-1.2 and 0.52 ms).
 */
const passBytes = (expected: number) => Math.min(256 * 1024, Math.max(16 * 1024, expected));

/**
 * Raw deflate on Node's zlib: the same bytes as the Web streams, without their per-chunk promise machinery (on Node 20
 * about 20% less CPU for a 64 KiB payload), still off the main thread. The output bound is zlib's own
 * `maxOutputLength`, so a bomb stops inside zlib.
 *
 * A payload of {@link DEFLATE_PROBE_FROM} bytes or more is probed first: 4 KiB from its middle are deflated, and when
 * they come out above 60% of their size the payload is deflated with Huffman coding only (`Z_HUFFMAN_ONLY`), which for
 * such data gives the same size at about a quarter of the CPU (64 KiB of base64 random bytes here: 1.1 instead of 4.6
 * ms, both 75%; the receiver's inflate is faster too). Either way the output is standard raw deflate that any
 * backend inflates. Data whose repeats lie further apart than the probe sees keeps only its Huffman gain.
 *
 * @example
 * import zlib from 'node:zlib';
 * const platform = { ...others, compression: nodeCompression(zlib) };
 */
export function nodeCompression(zlib: ZlibLike): Compression {
  const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const deflate = (bytes: Uint8Array, options: { strategy?: number }) =>
    new Promise<Uint8Array>((resolve, reject) =>
      zlib.deflateRaw(bytes, { ...options, chunkSize: passBytes(bytes.byteLength + 1024) }, (err, out) =>
        err ? reject(err) : resolve(plain(out)),
      ),
    );
  return {
    deflateRaw: async (bytes) => {
      if (bytes.byteLength < DEFLATE_PROBE_FROM) return deflate(bytes, {});
      const from = (bytes.byteLength - PROBE_BYTES) >>> 1;
      const probe = await deflate(bytes.subarray(from, from + PROBE_BYTES), {});
      const huffman = probe.byteLength > PROBE_BYTES * HUFFMAN_ABOVE;
      return deflate(bytes, huffman ? { strategy: zlib.constants.Z_HUFFMAN_ONLY } : {});
    },
    inflateRaw: (bytes, maxOutputBytes) => {
      // Text inflates to about five times its deflated size; the bound caps the buffer for small outputs.
      const options = {
        maxOutputLength: Math.max(1, maxOutputBytes),
        chunkSize: passBytes(Math.min(maxOutputBytes, bytes.byteLength * 5)),
      };
      return new Promise((resolve, reject) =>
        zlib.inflateRaw(bytes, options, (err, out) => {
          if (err === null) return resolve(plain(out));
          if (err.code === 'ERR_BUFFER_TOO_LARGE') {
            reject(
              new OppieError('OPPIE_ERR_PAYLOAD_TOO_LARGE', `decompressed payload exceeds ${maxOutputBytes} bytes`),
            );
          } else reject(new OppieError('OPPIE_ERR_PROTOCOL', 'chunked payload does not decompress', { cause: err }));
        }),
      );
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
