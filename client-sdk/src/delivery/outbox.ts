/**
 * The sender's outbox: every application frame stays here, persisted, until the peer acknowledges it end to end
 * with a `receipt`. It knows nothing about transports: after a reconnect or a switch between the relay and a data
 * channel the client simply resends `pending(peer)`.
 */
import { OppieError } from '../errors.js';
import type { KeyValueStore } from '../platform.js';
import { isSeq, keySegment, Serial, storageOp } from './internal.js';
import { encodeEntry, encodeEntryBytes, readOutbox, SEQ_DIGITS } from './outbox-codec.js';

/** Records of acknowledged entries whose delete failed that an outbox tries again, per peer (the newest ones). */
export const STALE_TRACKED = 64;

/** One application frame waiting for its end-to-end receipt. */
export interface OutboxEntry {
  peer: string;
  /** Envelope id; resends reuse it so the relay's de-duplication recognises them. */
  id: string;
  type: string;
  seq: number;
  /**
   * Ciphertext, opaque here: its base64url text, or its bytes (a view; the messaging layer's array has free room in
   * front of it). Bytes are off the JavaScript heap, so a frame waiting for its receipt costs the garbage collector
   * nothing; a 64 KiB frame's text is copied by every young-generation collection it survives (bench/RESULTS.md,
   * 2026-12-02 11:00-12:30Z). A store that takes bytes keeps them as they are, any other their text (see
   * {@link Outbox.add}); entries read back from storage hold what was stored.
   */
  payload: string | Uint8Array;
  priority?: 'high' | 'normal' | 'low';
  ttl?: number;
  createdAt: number;
  /** Size charged against `maxBytes`, as computed by the caller (normally the encoded envelope). */
  bytes: number;
}

export interface OutboxOptions {
  /** Default 10,000 entries over all peers. */
  maxEntries?: number;
  /** Default 64 MiB over all peers. */
  maxBytes?: number;
  /** Default `'outbox/'`. */
  prefix?: string;
}

/**
 * Persistent, bounded outbox with per-peer sequence numbers.
 *
 * Storage layout: `${prefix}e/${peer}/${seq, zero-padded}` holds one entry (its fields' JSON, a newline, the payload:
 * its text, or its bytes on a store that takes bytes; outbox-codec.ts); `${prefix}n/${peer}` holds the
 * next seq, written only when giving up on a peer past every seq added: otherwise the record of the highest seq added
 * says as much, and stays (once acknowledged, until the next acknowledgment deletes it; a restart before then sends it
 * once more, a duplicate the peer drops). Both are rebuilt by {@link Outbox.open}; an unreadable entry is skipped and
 * counted in `corrupt`.
 *
 * Call `nextSeq` and `add` for one frame under the client's per-peer send lock: a failed `add` gives its seq back
 * only when it is still the latest allocation, and a seq that is allocated but never added would leave a gap the
 * receiver waits on.
 *
 * Adds run one at a time in call order; acknowledgments and replacements run one at a time beside them, since they
 * touch only entries already queued (an acknowledgment that reaches past them, as giving up on a peer does, waits for
 * the adds under way). On a durable store a frame's write and a receipt's deletes then overlap instead of queueing.
 *
 * @example
 * const outbox = await Outbox.open(platform.storage);
 * const seq = outbox.nextSeq(peer);
 * await outbox.add({ peer, id, type: 'chat', seq, payload, createdAt: now(), bytes: payload.length });
 * // on a receipt { upTo } from peer:
 * await outbox.acknowledge(peer, receipt.upTo);
 * // after a reconnect or a transport switch:
 * for (const e of outbox.pending(peer)) transport.send(e);
 */
export class Outbox {
  /** Entries or counters found unreadable at open (skipped, left in storage for inspection). */
  readonly corrupt: number;
  private readonly entries = new Map<string, Map<number, OutboxEntry>>();
  /** Next seq to allocate, per peer (in memory; may run ahead of what is added). */
  private readonly counters = new Map<string, number>();
  /** Highest seq ever added, per peer: the only allocation worth persisting (see `acknowledge`). */
  private readonly highestAdded = new Map<string, number>();
  private readonly persistedCounters = new Map<string, number>();
  /** Adds, one at a time in call order (the records share {@link scratch}). */
  private readonly serial = new Serial();
  /**
   * Acknowledgments and replacements, one at a time, beside the adds: on a durable store a receipt's deletes take
   * a directory sync, and an add waiting behind them (or a receipt behind a frame's write) held the whole stream up.
   * They touch only queued entries, which no add writes (bench/RESULTS.md, 2026-12-03 06:50Z).
   */
  private readonly settling = new Serial();
  /**
   * Per peer, the seqs of acknowledged entries whose records are still in storage: the newest one a receipt settled,
   * kept as the record of the seqs used (see `acknowledge`), and any whose delete failed. No longer queued; the next
   * acknowledgment deletes them (all but a newly kept one).
   */
  private readonly stale = new Map<string, Set<number>>();
  /** Adds queued or in flight, per peer and seq: an acknowledgment that covers one waits for it. */
  private readonly adding = new Map<string, Map<number, Promise<void>>>();
  private totalBytes = 0;
  private totalEntries = 0;
  /**
   * Where the records of frames kept as bytes are written, reused: a new array per frame would add a frame's size of
   * garbage outside the JavaScript heap to every message (in the A/B where it did, two of four processes fell into
   * back-to-back mark-compacts, a state that text processes fall into too; bench/RESULTS.md 2026-12-02
   * 20:38-21:25Z). Safe because adds run one at a time, each after the last one's write settled; a replacement
   * (beside them) gets an array of its own.
   */
  private scratch: Uint8Array = new Uint8Array(0);

  private constructor(
    private readonly store: KeyValueStore,
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly prefix: string,
    corrupt: number,
  ) {
    this.corrupt = corrupt;
  }

  /** Settles once the outbox's storage calls queued so far (and any queued meanwhile) have settled. */
  async settled(): Promise<void> {
    await Promise.all([this.serial.idle(), this.settling.idle()]);
  }

  /** Opens the outbox stored under `prefix`, rebuilding entries and counters. */
  static async open(store: KeyValueStore, opts: OutboxOptions = {}): Promise<Outbox> {
    const maxEntries = opts.maxEntries ?? 10_000;
    const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    const prefix = opts.prefix ?? 'outbox/';
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be an integer >= 1');
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be an integer >= 1');
    const { corrupt, loaded, counters } = await readOutbox(store, prefix);
    const box = new Outbox(store, maxEntries, maxBytes, prefix, corrupt);
    for (const [peer, n] of counters) {
      box.persistedCounters.set(peer, n);
      box.counters.set(peer, Math.max(box.counters.get(peer) ?? 0, n));
    }
    // Even an unreadable entry's key proves its seq was used, so the counter never goes back over it.
    for (const [peer, seq, entry] of loaded) {
      box.counters.set(peer, Math.max(box.counters.get(peer) ?? 0, seq + 1));
      box.highestAdded.set(peer, Math.max(box.highestAdded.get(peer) ?? -1, seq));
      if (entry !== undefined) box.insert(entry);
    }
    return box;
  }

  /** Allocates the next seq for `peer`. A restart never reuses a seq that was added. */
  nextSeq(peer: string): number {
    const seq = this.counters.get(peer) ?? 0;
    this.counters.set(peer, seq + 1);
    return seq;
  }

  /**
   * Persists `entry`, then keeps it. A payload of bytes is kept as bytes, and persisted as bytes where the store takes
   * them (`setBytes`), else as `spell()`, the text they spell (required then). Throws `OPPIE_ERR_OUTBOX_FULL` over
   * `maxEntries` or `maxBytes`.
   */
  add(entry: OutboxEntry, spell?: () => string): Promise<void> {
    const adding = this.adding.get(entry.peer) ?? new Map<number, Promise<void>>();
    this.adding.set(entry.peer, adding);
    const added = this.serial.run(async () => {
      if (!isSeq(entry.seq) || !Number.isSafeInteger(entry.bytes) || entry.bytes < 0) {
        throw new RangeError('outbox entry needs an integer seq >= 0 and bytes >= 0');
      }
      if (this.entries.get(entry.peer)?.has(entry.seq)) throw new RangeError(`seq ${entry.seq} is already queued`);
      if (this.totalEntries + 1 > this.maxEntries || this.totalBytes + entry.bytes > this.maxBytes) {
        this.release(entry.peer, entry.seq);
        const { entries, bytes } = this.size;
        throw new OppieError(
          'OPPIE_ERR_OUTBOX_FULL',
          `outbox full (${entries}/${this.maxEntries} entries, ${bytes + entry.bytes}/${this.maxBytes} bytes)`,
        );
      }
      const stored = { ...entry };
      try {
        await this.persist(entry, spell, 'adding to the outbox');
      } catch (err) {
        this.release(entry.peer, entry.seq);
        throw err;
      }
      this.counters.set(entry.peer, Math.max(this.counters.get(entry.peer) ?? 0, entry.seq + 1));
      this.highestAdded.set(entry.peer, Math.max(this.highestAdded.get(entry.peer) ?? -1, entry.seq));
      this.insert(stored);
    });
    adding.set(entry.seq, added);
    const done = () => {
      if (adding.get(entry.seq) === added) adding.delete(entry.seq);
      if (adding.size === 0 && this.adding.get(entry.peer) === adding) this.adding.delete(entry.peer);
    };
    added.then(done, done);
    return added;
  }

  /**
   * Removes and returns every entry of `peer` with `seq <= upToSeq`, in seq order. Idempotent; an `upToSeq` past
   * everything sent (`Number.MAX_SAFE_INTEGER` to give up on a revoked peer) simply empties that peer's queue.
   */
  acknowledge(peer: string, upToSeq: number): Promise<OutboxEntry[]> {
    return this.settling.run(async () => {
      // Only an acknowledgment past what was sent (giving up on a revoked peer) can cover an add still under way: it
      // waits for those adds (not for later ones), so nothing it gave up on is queued after it. A receipt covers
      // frames that went, all added.
      const covered = [...(this.adding.get(peer) ?? [])].filter(([seq]) => seq <= upToSeq).map(([, p]) => p);
      if (covered.length > 0) await Promise.allSettled(covered);
      // A scan, not `pending(peer)`: that sorts every queued entry, and a receipt usually settles a few of hundreds.
      const queued = this.entries.get(peer);
      const done: OutboxEntry[] = [];
      for (const e of queued?.values() ?? []) if (e.seq <= upToSeq) done.push(e);
      const highest = this.highestAdded.get(peer) ?? -1;
      const stale = [...(this.stale.get(peer) ?? [])];
      // Nothing to settle, unless giving up past everything leaves records of acknowledged entries to remove.
      if (done.length === 0 && (stale.length === 0 || upToSeq <= highest)) return [];
      done.sort((a, b) => a.seq - b.seq);
      // `open` counts the seqs used from the keys it finds, so the record of the highest seq added must stay, or the
      // counter be written first (a file write and two fsyncs on a durable store; it records the highest seq added,
      // not allocated, so an allocation that never reached `add` leaves no gap after a restart). While that entry is
      // queued (a receipt in a stream settles older frames) its record stays anyway. A receipt that settles it (each
      // receipt does when frames go one at a time) keeps its record, with no write at all: the next acknowledgment
      // deletes it, and a restart before that sends it once more, which the peer drops as a duplicate. Only giving
      // up past it (a revoked peer) writes the counter.
      const next = highest + 1;
      const highestStays = highest > upToSeq && queued?.has(highest) === true;
      const keep = upToSeq === highest && queued?.has(highest) === true;
      if (!highestStays && !keep) await this.saveCounter(peer, next);
      // Stale records go now: a queued entry, the newly kept record or the counter proves their seqs.
      const gone = [...done.filter((e) => !(keep && e.seq === highest)).map((e) => e.seq), ...stale];
      // All at once: a durable store shares one directory sync among deletes in flight together (FileStore). An
      // entry whose delete failed stays queued (and is resent: the peer drops it as a duplicate); the first failure
      // is thrown once the others are done.
      const results = await Promise.allSettled(
        gone.map((seq) => storageOp('removing from the outbox', () => this.store.delete(this.entryKey(peer, seq)))),
      );
      const failedSeqs = new Set(gone.filter((_, i) => results[i]?.status !== 'fulfilled'));
      for (const e of done) {
        if (failedSeqs.has(e.seq)) continue;
        queued?.delete(e.seq);
        this.totalEntries--;
        this.totalBytes -= e.bytes;
      }
      // What is left of the stale records (a failed delete, tried again next time), and the one kept now. A store
      // whose deletes keep failing would add one a receipt: only the newest STALE_TRACKED go again (the others stay
      // in storage, and a restart sends them once more).
      const failedStale = stale.filter((seq) => failedSeqs.has(seq));
      const left = new Set([...failedStale, ...(keep ? [highest] : [])].slice(-STALE_TRACKED));
      if (left.size > 0) this.stale.set(peer, left);
      else this.stale.delete(peer);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      return done;
    });
  }

  /**
   * For a clean close: writes the counter of each peer whose acknowledged newest record still stands for it (see
   * {@link Outbox.acknowledge}), then deletes those records, so a restart sends none of them again. A failure leaves
   * the record, which a restart then sends once more (the peer drops the duplicate); the first one is thrown.
   *
   * @example
   * await outbox.settled();
   * await outbox.tidy();
   */
  tidy(): Promise<void> {
    return this.settling.run(async () => {
      let first: unknown;
      for (const [peer, seqs] of [...this.stale]) {
        try {
          // A record added after them proves their seqs by itself; otherwise the counter takes over.
          const next = Math.max(...seqs) + 1;
          if ((this.highestAdded.get(peer) ?? -1) < next) await this.saveCounter(peer, next);
          for (const seq of [...seqs]) {
            await storageOp('removing from the outbox', () => this.store.delete(this.entryKey(peer, seq)));
            seqs.delete(seq);
          }
          this.stale.delete(peer);
        } catch (err) {
          first ??= err;
        }
      }
      if (first !== undefined) throw first;
    });
  }

  /** Writes `next` as the peer's counter unless a value as high is written already. */
  private async saveCounter(peer: string, next: number): Promise<void> {
    if ((this.persistedCounters.get(peer) ?? -1) >= next) return;
    await storageOp('saving the outbox counter', () => this.store.set(this.counterKey(peer), String(next)));
    this.persistedCounters.set(peer, next);
  }

  /**
   * Swaps a queued entry for another with the same peer and seq (a void frame standing in for one the relay
   * refused), so the peer's ordered stream can move past that seq. Throws a RangeError when no such entry is queued,
   * or when its payload is bytes without `spell` on a store that takes no bytes (as in {@link Outbox.add}).
   */
  replace(entry: OutboxEntry, spell?: () => string): Promise<void> {
    return this.settling.run(async () => {
      const old = this.entries.get(entry.peer)?.get(entry.seq);
      if (old === undefined) throw new RangeError(`seq ${entry.seq} for ${entry.peer} is not queued`);
      if (!isSeq(entry.bytes)) throw new RangeError('outbox entry needs bytes >= 0');
      if (this.totalBytes - old.bytes + entry.bytes > this.maxBytes) {
        throw new OppieError('OPPIE_ERR_OUTBOX_FULL', `outbox full (${this.maxBytes} bytes)`);
      }
      await this.persist(entry, spell, 'replacing in the outbox', false);
      const stored = { ...entry };
      this.entries.get(entry.peer)?.set(entry.seq, stored);
      this.totalBytes += entry.bytes - old.bytes;
    });
  }

  /** Writes `entry`'s record: bytes as they are where the store takes them, else the text (see {@link add}). */
  private persist(entry: OutboxEntry, spell: (() => string) | undefined, what: string, reuse = true): Promise<void> {
    const key = this.entryKey(entry.peer, entry.seq);
    const { payload } = entry;
    const { setBytes, getBytes } = this.store;
    if (typeof payload !== 'string' && setBytes !== undefined && getBytes !== undefined) {
      if (!reuse) return storageOp(what, () => setBytes.call(this.store, key, encodeEntryBytes({ ...entry, payload })));
      const record = encodeEntryBytes({ ...entry, payload }, this.scratch);
      if (record.buffer !== this.scratch.buffer) this.scratch = new Uint8Array(record.buffer);
      return storageOp(what, () => setBytes.call(this.store, key, record));
    }
    const record = encodeEntry(entry, spell);
    return storageOp(what, () => this.store.set(key, record));
  }

  /** Entries awaiting a receipt: one peer's in seq order, or every peer's (each peer in seq order). */
  pending(peer?: string): OutboxEntry[] {
    const peers = peer === undefined ? [...this.entries.keys()] : [peer];
    return peers.flatMap((p) => [...(this.entries.get(p)?.values() ?? [])].sort((a, b) => a.seq - b.seq));
  }

  /** The queued entry of `peer` with this seq, if any. */
  entry(peer: string, seq: number): OutboxEntry | undefined {
    return this.entries.get(peer)?.get(seq);
  }

  /** The lowest seq queued for `peer` (a scan: callers cache it and ask again only when that entry is gone). */
  lowestSeq(peer: string): number | undefined {
    let low: number | undefined;
    for (const seq of this.entries.get(peer)?.keys() ?? []) if (low === undefined || seq < low) low = seq;
    return low;
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.totalEntries, bytes: this.totalBytes };
  }

  private insert(entry: OutboxEntry): void {
    const byPeer = this.entries.get(entry.peer) ?? new Map<number, OutboxEntry>();
    this.entries.set(entry.peer, byPeer);
    byPeer.set(entry.seq, entry);
    this.totalEntries++;
    this.totalBytes += entry.bytes;
  }

  /** Gives an unused seq back when it is the latest allocation (the only case that cannot leave a gap). */
  private release(peer: string, seq: number): void {
    if (this.counters.get(peer) === seq + 1) this.counters.set(peer, seq);
  }

  private entryKey(peer: string, seq: number): string {
    return `${this.prefix}e/${keySegment(peer)}/${String(seq).padStart(SEQ_DIGITS, '0')}`;
  }

  private counterKey(peer: string): string {
    return `${this.prefix}n/${keySegment(peer)}`;
  }
}
