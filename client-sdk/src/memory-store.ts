/** In-memory storage, with long values kept as UTF-8 bytes in recycled buffers. */
import type { KeyValueStore } from './platform.js';

/**
 * Values of this many characters or more that {@link MemoryStore} keeps as UTF-8 bytes, off the JavaScript heap: a
 * frame waiting in the outbox for its receipt is ~87 KiB of text, and a long string kept for a while is copied by every
 * young-generation collection it survives (bench/RESULTS.md, 2026-12-02 11:00-12:30Z).
 */
export const MEMORY_STORE_BYTES_FROM = 4096;

/** Buffers are sized in steps of this, so values of about one size reuse each other's. */
const SIZE_STEP = 16 * 1024;
/** Spare buffers kept for reuse, in bytes over all sizes: beyond it a freed buffer is left to the collector. */
const SPARE_BYTES = 8 * 1024 * 1024;

// ignoreBOM: a value that starts with U+FEFF keeps it.
const utf8 = { encoder: new TextEncoder(), decoder: new TextDecoder('utf-8', { ignoreBOM: true }) };

/**
 * In-memory storage (tests, ephemeral clients). Bytes (`setBytes`) are kept as they are, and long text values
 * ({@link MEMORY_STORE_BYTES_FROM}) as UTF-8 bytes when that is lossless (no lone surrogate), read back as the same
 * string. The buffers of long values are reused: a buffer let go to the collector after a short life is freed only by
 * a full collection, so new ones for every frame of a stream would make the heap run those often (bench/RESULTS.md,
 * the same entry).
 *
 * @example
 * const storage = new MemoryStore();
 * await storage.set('outbox/n/peer', '7');
 * await storage.get('outbox/n/peer'); // '7'
 */
export class MemoryStore implements KeyValueStore {
  private readonly map = new Map<string, string | Uint8Array>();
  /** Spare buffers by byte length (a multiple of SIZE_STEP), and their total. */
  private readonly spare = new Map<number, ArrayBuffer[]>();
  private spareBytes = 0;
  /** Buffers this store made (the only ones it reuses: an encoder's array is not ours to write over). */
  private readonly own = new WeakSet<ArrayBuffer>();

  async get(key: string) {
    const value = this.map.get(key);
    return typeof value === 'string' || value === undefined ? value : utf8.decoder.decode(value);
  }

  async set(key: string, value: string) {
    const wellFormed = (value as { isWellFormed?: () => boolean }).isWellFormed;
    const asBytes = value.length >= MEMORY_STORE_BYTES_FROM && wellFormed?.call(value) === true;
    const kept = asBytes ? this.encode(value) : value;
    this.release(key);
    this.map.set(key, kept);
  }

  async setBytes(key: string, value: Uint8Array) {
    let kept: Uint8Array;
    // A copy whatever the array: a Node Buffer's slice() is a view of the caller's memory.
    if (value.byteLength < MEMORY_STORE_BYTES_FROM) kept = new Uint8Array(value);
    else {
      const size = Math.ceil(value.byteLength / SIZE_STEP) * SIZE_STEP;
      const buffer = this.takeSpare(size) ?? new ArrayBuffer(size);
      this.own.add(buffer);
      kept = new Uint8Array(buffer, 0, value.byteLength);
      kept.set(value);
    }
    this.release(key);
    this.map.set(key, kept);
  }

  async getBytes(key: string) {
    const value = this.map.get(key);
    return typeof value === 'string' ? utf8.encoder.encode(value) : value?.slice();
  }

  async delete(key: string) {
    this.release(key);
    this.map.delete(key);
  }

  async keys(prefix: string) {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix));
  }

  /**
   * `value` in UTF-8: in a buffer of its length rounded up (a spare one when there is one), which holds it when it is
   * ASCII, as frames and JSON are; else in a new array of its own.
   */
  private encode(value: string): Uint8Array {
    const size = Math.ceil(value.length / SIZE_STEP) * SIZE_STEP;
    const buffer = this.takeSpare(size) ?? new ArrayBuffer(size);
    this.own.add(buffer);
    const bytes = new Uint8Array(buffer);
    const { read, written } = utf8.encoder.encodeInto(value, bytes);
    if (read === value.length) return bytes.subarray(0, written);
    this.keepSpare(buffer);
    return utf8.encoder.encode(value);
  }

  /** A spare buffer of `size` bytes, if there is one; a size left without spares leaves the map. */
  private takeSpare(size: number): ArrayBuffer | undefined {
    const list = this.spare.get(size);
    const buffer = list?.pop();
    if (buffer === undefined) return undefined;
    if (list?.length === 0) this.spare.delete(size);
    this.spareBytes -= size;
    return buffer;
  }

  /** The buffer of `key`'s value, if bytes, becomes a spare. */
  private release(key: string): void {
    const old = this.map.get(key);
    if (old !== undefined && typeof old !== 'string') this.keepSpare(old.buffer as ArrayBuffer);
  }

  /** Keeps `buffer` for reuse, if it is one of ours, while the spares stay within SPARE_BYTES. */
  private keepSpare(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    if (!this.own.has(buffer) || this.spareBytes + size > SPARE_BYTES) return;
    const list = this.spare.get(size) ?? [];
    list.push(buffer);
    this.spare.set(size, list);
    this.spareBytes += size;
  }
}
