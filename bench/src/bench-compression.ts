/**
 * The compression backend of a bench's SDK clients (`bench:direct --compression`). `zlib` is what sidecar-sdk's
 * nodePlatform injects (zlib, large payloads deflated on a worker thread) and what the targets are measured with. The
 * others are diagnostics:
 *
 * - `inline`: zlib all on the event loop (`nodeCompression(zlib)`, what sidecar-sdk injected before its deflate
 *   thread): what the thread buys.
 *
 * The last two take compression's CPU out of a run, to show how much of it the transport itself costs:
 *
 * - `none`: nothing is compressed (deflate returns its input, which the chunker then keeps as it is): the same CPU as
 *   without compression, but more bytes on the wire, and a 64 KiB message no longer fits one chunk.
 * - `memo`: zlib, with the last input and output of each direction remembered, so a bench that sends one payload
 *   over and over deflates and inflates it once: the same bytes and chunks as `zlib`, without zlib's CPU (a byte
 *   comparison and a copy instead).
 */
import zlib from 'node:zlib';
import { type Compression, nodeCompression } from '@oppie/client-sdk';
import { workerCompression } from '@oppie/sidecar-sdk';

export const BENCH_COMPRESSIONS = ['zlib', 'inline', 'none', 'memo'] as const;
export type BenchCompression = (typeof BENCH_COMPRESSIONS)[number];

export function isBenchCompression(v: string): v is BenchCompression {
  return (BENCH_COMPRESSIONS as readonly string[]).includes(v);
}

const same = (a: Uint8Array, b: Uint8Array | undefined) => b !== undefined && Buffer.from(a).equals(Buffer.from(b));

/** One remembered call: the output again (a copy, as a fresh call would allocate) for an input equal to the last. */
function memo<A extends unknown[]>(f: (bytes: Uint8Array, ...rest: A) => Promise<Uint8Array>) {
  let last: { input: Uint8Array; rest: A; output: Uint8Array } | undefined;
  return async (bytes: Uint8Array, ...rest: A): Promise<Uint8Array> => {
    if (last !== undefined && same(bytes, last.input) && rest.every((r, i) => r === last?.rest[i]))
      return last.output.slice();
    const output = await f(bytes, ...rest);
    last = { input: bytes.slice(), rest, output: output.slice() };
    return output;
  };
}

/** The backend for `mode`; every one inflates what any peer sends. */
export function benchCompression(mode: BenchCompression): Compression {
  // What sidecar-sdk's nodePlatform injects: zlib, large payloads deflated on the process's deflate thread.
  if (mode === 'zlib') return workerCompression();
  const real = nodeCompression(zlib);
  if (mode === 'inline') return real;
  if (mode === 'none') return { deflateRaw: async (bytes) => bytes, inflateRaw: real.inflateRaw };
  return { deflateRaw: memo(real.deflateRaw), inflateRaw: memo(real.inflateRaw) };
}
