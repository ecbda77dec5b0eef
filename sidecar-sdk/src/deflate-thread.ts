/**
 * Raw deflate on a worker thread, so a sidecar streaming large messages keeps its event loop for the sockets and the
 * data channel while zlib runs on another core. One thread per process, shared by every client in it, started on
 * the first payload that needs it, and kept from holding the process open while it has no work.
 *
 * The thread deflates as {@link nodeCompression} does (level 1; Huffman coding alone when a 4 KiB probe from the
 * middle shrinks by less than 40%), probe included, so its output is byte for byte what the calling thread would have
 * made. If the thread cannot start or dies, every call it held and every later one is deflated on the calling thread
 * instead: nothing is lost, and {@link DeflateThread.stats} counts it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import {
  type Compression,
  DEFLATE_HUFFMAN_ABOVE,
  DEFLATE_PROBE_BYTES,
  DEFLATE_PROBE_FROM,
  nodeCompression,
  skipsLowGain,
} from '@oppie/client-sdk';

/**
 * The thread's whole program. Plain CommonJS run with `eval`, so it needs no file of its own next to the module
 * (the package runs from TypeScript sources in tests and from dist/ when installed). It repeats nodeCompression's
 * choice with the same constants (tests compare the two outputs byte for byte), and answers each request with the
 * deflated bytes, their buffer transferred, not copied.
 */
export const DEFLATE_THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
const FAST = { level: 1 };
const HUFFMAN = { strategy: zlib.constants.Z_HUFFMAN_ONLY };
function deflate(bytes) {
  if (bytes.length < ${DEFLATE_PROBE_FROM}) return zlib.deflateRawSync(bytes, FAST);
  const from = (bytes.length - ${DEFLATE_PROBE_BYTES}) >>> 1;
  const probe = zlib.deflateRawSync(bytes.subarray(from, from + ${DEFLATE_PROBE_BYTES}), FAST);
  return zlib.deflateRawSync(bytes, probe.length > ${DEFLATE_PROBE_BYTES * DEFLATE_HUFFMAN_ABOVE} ? HUFFMAN : FAST);
}
parentPort.on('message', ({ id, bytes }) => {
  let out;
  try {
    out = deflate(bytes);
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
    return;
  }
  parentPort.postMessage({ id, buffer: out.buffer, offset: out.byteOffset, length: out.byteLength }, [out.buffer]);
});
`;

interface Reply {
  readonly id: number;
  readonly buffer?: ArrayBuffer;
  readonly offset?: number;
  readonly length?: number;
  readonly error?: string;
}

/**
 * Bytes handed to the thread and not answered yet, at most. Past it a payload is deflated on the calling thread: a
 * burst of large messages from many clients cannot pile copies up in the thread's queue (each client already holds
 * at most four compressions at a time, but payloads go up to 64 MiB).
 */
export const DEFLATE_THREAD_MAX_PENDING_BYTES = 32 * 1024 * 1024;

interface Pending {
  readonly bytes: Uint8Array;
  readonly resolve: (out: Uint8Array) => void;
  readonly reject: (err: Error) => void;
}

/** What a {@link DeflateThread} did since it was made. */
export interface DeflateThreadStats {
  /** Payloads deflated on the thread. */
  readonly threaded: number;
  /**
   * Payloads deflated on the calling thread instead: the thread could not start, had died or was closed, could not be
   * handed the payload, or answered with an error.
   */
  readonly inPlace: number;
  /** Calls handed to the thread and not answered yet. */
  readonly pending: number;
  /**
   * Whether the thread is out of use for good (it failed, or `close()` was called): a thread that died once would
   * likely die again, so it is not started twice.
   */
  readonly failed: boolean;
}

/**
 * A worker thread running raw deflate. Most code wants {@link workerCompression}; this is the part it shares
 * per process, exported for tests and for embedders that run their own.
 *
 * @example
 * const thread = new DeflateThread();
 * const out = await thread.deflate(bytes); // the same bytes as nodeCompression(zlib).deflateRaw(bytes)
 */
export class DeflateThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private threaded = 0;
  private inPlace = 0;
  private failed = false;
  private pendingBytes = 0;
  private lastFailure: Error | undefined;
  private readonly here = nodeCompression(zlib);

  /**
   * @param source the thread's program (tests give ones that fail); default {@link DEFLATE_THREAD_SOURCE}.
   * @param maxPendingBytes bytes handed over and not answered, at most; default {@link DEFLATE_THREAD_MAX_PENDING_BYTES}.
   */
  constructor(
    private readonly source: string = DEFLATE_THREAD_SOURCE,
    private readonly maxPendingBytes: number = DEFLATE_THREAD_MAX_PENDING_BYTES,
  ) {}

  get stats(): DeflateThreadStats {
    return { threaded: this.threaded, inPlace: this.inPlace, pending: this.pending.size, failed: this.failed };
  }

  /**
   * Why the last call went to the calling thread instead (the thread could not start, died, refused a payload or could
   * not be handed one); undefined while none did. A fallback costs CPU on the event loop, never a message, so it is
   * kept here for the embedder to log rather than thrown.
   */
  get lastError(): Error | undefined {
    return this.lastFailure;
  }

  /**
   * Raw deflate of `bytes`, as nodeCompression makes it. The thread gets a copy (a fresh buffer of exactly its bytes,
   * also for a `Buffer`, whose `slice()` would share the caller's memory); `bytes` must stay as they are until the
   * promise settles, since a failed thread's calls are deflated from them here.
   */
  deflate(bytes: Uint8Array): Promise<Uint8Array> {
    const worker = this.failed ? undefined : this.start();
    // A full queue is not a failure: this payload waits for no one else's, on the calling thread.
    if (worker === undefined || this.pendingBytes + bytes.byteLength > this.maxPendingBytes)
      return this.deflateHere(bytes);
    const id = this.nextId++;
    try {
      const copy = new Uint8Array(bytes);
      worker.postMessage({ id, bytes: copy }, [copy.buffer]);
    } catch (err) {
      // Not handed over: nothing waits on the thread for it.
      this.lastFailure = asError(err);
      return this.deflateHere(bytes);
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { bytes, resolve, reject });
      this.pendingBytes += bytes.byteLength;
      // Held open only while it has work: an idle thread never keeps a finished process alive.
      if (this.pending.size === 1) worker.ref();
    });
  }

  /** Stops the thread; calls it held are deflated here. For tests and orderly shutdowns. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failed = true;
    this.drainHere();
    await worker?.terminate();
  }

  private start(): Worker | undefined {
    if (this.worker !== undefined) return this.worker;
    let worker: Worker;
    try {
      // No flags of this process: `--input-type=module` would make the program ESM (it is CommonJS), and a test
      // runner's loaders only slow the thread's start.
      worker = new Worker(this.source, { eval: true, execArgv: [] });
    } catch (err) {
      this.failed = true;
      this.lastFailure = asError(err);
      return undefined;
    }
    worker.unref();
    worker.on('message', (m: Reply) => this.answered(m));
    worker.on('error', (err) => this.fail(worker, err));
    // A reply that cannot be read names no call: every call the thread holds is deflated here instead.
    worker.on('messageerror', (err) => this.fail(worker, err));
    worker.on('exit', (code) => this.fail(worker, new Error(`deflate thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private answered(m: Reply): void {
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    this.pending.delete(m.id);
    this.pendingBytes -= p.bytes.byteLength;
    if (this.pending.size === 0) this.worker?.unref();
    if (m.buffer === undefined) {
      // zlib refused on the thread: the calling thread's zlib gives the same answer, or the error with its code.
      this.lastFailure = new Error(`deflate failed on its thread: ${m.error ?? 'unknown error'}`);
      this.deflateHere(p.bytes).then(p.resolve, p.reject);
      return;
    }
    this.threaded += 1;
    p.resolve(new Uint8Array(m.buffer, m.offset ?? 0, m.length ?? m.buffer.byteLength));
  }

  /** The thread is gone (an error, or an exit nobody asked for): what it held is deflated here, and so is the rest. */
  private fail(worker: Worker, err: unknown): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.failed = true;
    this.lastFailure = asError(err);
    this.drainHere();
  }

  private drainHere(): void {
    const held = [...this.pending.values()];
    this.pending.clear();
    this.pendingBytes = 0;
    for (const p of held) this.deflateHere(p.bytes).then(p.resolve, p.reject);
  }

  private deflateHere(bytes: Uint8Array): Promise<Uint8Array> {
    this.inPlace += 1;
    return this.here.deflateRaw(bytes);
  }
}

/** The level the probe deflates at: nodeCompression's (zlib's fastest). */
const PROBE_LEVEL = { level: zlib.constants.Z_BEST_SPEED };

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

let shared: DeflateThread | undefined;

/** The process's deflate thread (made on first use; started on the first payload that needs it). */
export function sharedDeflateThread(): DeflateThread {
  shared ??= new DeflateThread();
  return shared;
}

/**
 * sidecar-sdk's default compression: Node's zlib as {@link nodeCompression} uses it (level 1, Huffman-only for data
 * that only Huffman coding shrinks, inflate on the calling thread up to 64 KiB), with every payload of
 * {@link DEFLATE_PROBE_FROM} bytes or more deflated on the process's deflate thread. On a machine with one CPU
 * (`os.availableParallelism()`: the CPUs this process may run on by its affinity mask; on Node 20 it does not see a
 * cgroup CPU quota, so a container limited to one CPU on a larger host still gets the thread) a thread would only
 * take turns with the event loop, so everything stays on the calling thread there.
 *
 * Measured (bench:direct, both ends in one process on 2 vCPUs, 64 KiB diffs over the direct path, four alternating
 * runs each): 47.0 MB/s on average against 41.3 with zlib on the event loop (bench/RESULTS.md, 2026-12-01).
 *
 * @example
 * const platform = { ...nodePlatform({ dataDir }), compression: workerCompression() }; // what nodePlatform does
 */
export function workerCompression(thread: DeflateThread = sharedDeflateThread()): Compression {
  const here = nodeCompression(zlib);
  if (availableParallelism() < 2) return here;
  return {
    // Below the probe's size a message costs less than the trip to the thread.
    deflateRaw: async (bytes, hints) => {
      if (bytes.byteLength < DEFLATE_PROBE_FROM) return here.deflateRaw(bytes, hints);
      // Data to skip is found here: the probe costs less than a trip to the thread and back (which would then carry
      // nothing back), and a stream of such payloads leaves the thread idle. Text passes the entropy test and goes to
      // the thread without the deflated probe on this thread.
      if (await skipsLowGain(bytes, hints, (probe) => zlib.deflateRawSync(probe, PROBE_LEVEL))) return bytes;
      return thread.deflate(bytes);
    },
    inflateRaw: here.inflateRaw,
  };
}
