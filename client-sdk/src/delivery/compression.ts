/**
 * Raw deflate through the Web `CompressionStream`/`DecompressionStream` (browsers and Node 20 alike), with an output
 * bound so a small hostile payload cannot expand into gigabytes (a decompression bomb).
 */
import { OppieError } from '../errors.js';

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
