/** Rebuilds chunked payloads, bounded in transfers, buffered bytes and decompressed size. */
import { OppieError } from '../errors.js';
import { type Chunk, checkShape } from './chunker.js';
import { type Compression, concat, inflateRaw } from './compression.js';

export interface ReassemblerOptions {
  /** Transfers in progress at once. Default 4. */
  maxTransfers?: number;
  /** Chunk bytes buffered over all transfers in progress. Default 32 MiB. */
  maxBytes?: number;
  /** Size of one reassembled (decompressed) payload: the decompression bomb guard. Default 64 MiB. */
  maxOutputBytes?: number;
  /** Inflates a compressed transfer (bounded, with the errors of {@link Compression.inflateRaw}). Default: Web streams. */
  inflate?: Compression['inflateRaw'];
}

/**
 * Progress of a transfer, or its payload. The payload of a transfer of one uncompressed chunk is that chunk's `data`
 * itself (a view of the caller's memory, not a copy); every other payload is a new array.
 */
export type ReassemblyProgress = { done: false; received: number; count: number } | { done: true; bytes: Uint8Array };

interface Transfer {
  count: number;
  compressed: boolean;
  packed: boolean;
  parts: Map<number, Uint8Array>;
  bytes: number;
}

/** Finished (completed or failed) transfer ids remembered, so a late duplicate neither restarts nor leaks a slot. */
const FINISHED_MEMORY = 1024;

/**
 * Collects the chunks of each transfer in any order, ignores duplicates, and returns the payload once complete.
 *
 * A bound that is hit throws `OPPIE_ERR_PAYLOAD_TOO_LARGE` and abandons that transfer (its remaining chunks are
 * refused the same way): chunks reach here after the inbox committed them, so a refused chunk cannot come back and
 * keeping the rest would only hold memory. Inconsistent chunks throw `OPPIE_ERR_PROTOCOL` the same way.
 *
 * @example
 * const reassembler = new Reassembler();
 * const r = await reassembler.add(decodeChunk(plaintext));
 * if (r.done) app.emit('diff', new TextDecoder().decode(r.bytes));
 */
export class Reassembler {
  private readonly transfers = new Map<string, Transfer>();
  private readonly finished = new Map<string, { ok: boolean; count: number }>();
  private buffered = 0;
  private readonly maxTransfers: number;
  private readonly maxBytes: number;
  private readonly maxOutputBytes: number;
  private readonly inflate: Compression['inflateRaw'];

  constructor(opts: ReassemblerOptions = {}) {
    this.maxTransfers = positive('maxTransfers', opts.maxTransfers ?? 4);
    this.maxBytes = positive('maxBytes', opts.maxBytes ?? 32 * 1024 * 1024);
    this.maxOutputBytes = positive('maxOutputBytes', opts.maxOutputBytes ?? 64 * 1024 * 1024);
    this.inflate = opts.inflate ?? inflateRaw;
  }

  /** Chunk bytes currently held over all transfers in progress. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Adds one chunk. Returns progress, or the whole payload when this chunk completes it. A duplicate (also one of a
   * finished transfer) changes nothing and reports progress.
   */
  async add(chunk: Chunk): Promise<ReassemblyProgress> {
    const { transferId: id, index, count } = chunk;
    checkShape(id, index, count, (m) => new OppieError('OPPIE_ERR_PROTOCOL', `bad chunk: ${m}`));
    const finished = this.finished.get(id);
    if (finished?.ok) return { done: false, received: finished.count, count: finished.count };
    if (finished) throw new OppieError('OPPIE_ERR_PAYLOAD_TOO_LARGE', `transfer ${id} was abandoned`);
    let t = this.transfers.get(id);
    if (t === undefined) {
      if (this.transfers.size >= this.maxTransfers) {
        throw new OppieError('OPPIE_ERR_PAYLOAD_TOO_LARGE', `more than ${this.maxTransfers} transfers in progress`);
      }
      t = { count, compressed: chunk.compressed, packed: chunk.packed === true, parts: new Map(), bytes: 0 };
      this.transfers.set(id, t);
    }
    if (t.count !== count || t.compressed !== chunk.compressed || t.packed !== (chunk.packed === true)) {
      throw this.abandon(id, new OppieError('OPPIE_ERR_PROTOCOL', `chunk ${index} disagrees with transfer ${id}`));
    }
    if (t.parts.has(index)) return { done: false, received: t.parts.size, count };
    const size = chunk.data.byteLength;
    if (this.buffered + size > this.maxBytes || (!t.compressed && t.bytes + size > this.maxOutputBytes)) {
      throw this.abandon(id, new OppieError('OPPIE_ERR_PAYLOAD_TOO_LARGE', `transfer ${id} exceeds the byte bound`));
    }
    // A part held for later is copied when it is a small view of a larger array (a chunk in a batch message): the
    // bound counts its bytes, and the whole message must not stay in memory behind it.
    const data = chunk.data;
    t.parts.set(index, count > 1 && data.byteLength * 2 < data.buffer.byteLength ? new Uint8Array(data) : data);
    t.bytes += size;
    this.buffered += size;
    if (t.parts.size < count) return { done: false, received: t.parts.size, count };

    // A message of one chunk (most of them) is its chunk's data as it is: a copy would only cost time and memory.
    const body =
      count === 1
        ? (t.parts.get(0) as Uint8Array)
        : concat(
            Array.from({ length: count }, (_, i) => t.parts.get(i)!),
            t.bytes,
          );
    this.release(id, true);
    if (!t.compressed) return { done: true, bytes: body };
    try {
      return { done: true, bytes: await this.inflate(body, this.maxOutputBytes) };
    } catch (err) {
      this.remember(id, false, count);
      throw err;
    }
  }

  private abandon(id: string, err: OppieError): OppieError {
    this.release(id, false);
    return err;
  }

  private release(id: string, ok: boolean): void {
    const t = this.transfers.get(id);
    if (t === undefined) return;
    this.transfers.delete(id);
    this.buffered -= t.bytes;
    this.remember(id, ok, t.count);
  }

  private remember(id: string, ok: boolean, count: number): void {
    this.finished.delete(id);
    this.finished.set(id, { ok, count });
    if (this.finished.size > FINISHED_MEMORY) this.finished.delete(this.finished.keys().next().value!);
  }
}

function positive(name: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be an integer >= 1`);
  return n;
}
