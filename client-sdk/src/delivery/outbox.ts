/**
 * The sender's outbox: every application frame stays here, persisted, until the peer acknowledges it end to end
 * with a `receipt`. It knows nothing about transports: after a reconnect or a switch between the relay and a data
 * channel the client simply resends `pending(peer)`.
 */
import { OppieError } from '../errors.js';
import type { KeyValueStore } from '../platform.js';
import { isSeq, keySegment, Serial, Slots, storageOp } from './internal.js';
import { encodeEntry, encodeEntryBytes, type ReadRecord, readOutbox, SEQ_DIGITS } from './outbox-codec.js';

/**
 * Frame writes an outbox has under way at once, over all peers. On ext4 here one 64 KiB FileStore write at a time
 * took 1.40 ms, eight at a time 0.40 ms each (bench/RESULTS.md, 2026-12-03); a record array is held per write.
 */
export const WRITES_IN_FLIGHT = 8;

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
 * Call `nextSeq` and `add` for one frame under the client's per-peer send lock, in seq order: a failed `add` gives its
 * seq back only when it is the latest allocation, and a seq that is allocated but never added would leave a gap the
 * receiver waits on.
 *
 * Adds write their records up to {@link WRITES_IN_FLIGHT} at a time (a durable store's syncs then serve several), and
 * join the queue in call order: an add settles, and its frame can be sent, only once its record and those of every
 * add of the peer before it are stored. When a write fails, that add and every later one of the peer fail, their
 * records deleted and their seqs given back. Records are deleted in seq order, stopping at the first failure, and the
 * first frame to a peer with no record stored is written alone, so after a crash a missing seq below a stored record
 * means a write that never finished: {@link Outbox.open} drops the records above it (their frames never went) and
 * reuses their seqs.
 *
 * Acknowledgments and replacements run one at a time beside the adds, since they touch only entries already queued
 * (an acknowledgment that reaches past them, as giving up on a peer does, waits for the adds under way). On a durable
 * store a frame's write and a receipt's deletes then overlap instead of queueing.
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
  /**
   * Records found at open above a seq whose write never finished (a crash while writes overlapped): their frames never
   * went, so they were deleted and their seqs are used again.
   */
  readonly unfinished: number;
  private readonly entries = new Map<string, Map<number, OutboxEntry>>();
  /** Next seq to allocate, per peer (in memory; may run ahead of what is added). */
  private readonly counters = new Map<string, number>();
  /** Highest seq ever added, per peer: the only allocation worth persisting (see `acknowledge`). */
  private readonly highestAdded = new Map<string, number>();
  private readonly persistedCounters = new Map<string, number>();
  /** Adds whose records are not all stored yet, per peer, in call order: each joins the queue after those before it. */
  private readonly writing = new Map<string, PendingAdd[]>();
  /** Frame writes under way, over all peers. */
  private readonly writes = new Slots(WRITES_IN_FLIGHT);
  /** Per peer, while the adds after a failed one are undone: that failure (new adds fail at once meanwhile). */
  private readonly undoing = new Map<string, unknown>();
  /** Entries and bytes of adds not queued yet, counted against the bounds. */
  private reserved = { entries: 0, bytes: 0 };
  /** Writes and undos under way, which `settled()` waits for. */
  private readonly busy = new Set<Promise<void>>();
  /**
   * Acknowledgments and replacements, one at a time, beside the adds: on a durable store a receipt's deletes take
   * a directory sync, and an add waiting behind them (or a receipt behind a frame's write) held the whole stream up.
   * They touch only queued entries, which no add writes (bench/RESULTS.md, 2026-12-03 06:50Z).
   */
  private readonly settling = new Serial();
  /**
   * Per peer, the seqs of acknowledged entries whose records are still in storage, a range: the newest one a receipt
   * settled, kept as the record of the seqs used (see `acknowledge`), and any from a failed delete on (deletes go in
   * seq order). No longer queued; the next acknowledgment deletes them from the lowest (all but a newly kept one).
   */
  private readonly stale = new Map<string, StaleRange>();
  /** Per peer, the deletion of acknowledged records under way (see `sweep`). */
  private readonly sweeps = new Map<string, Sweep>();
  private totalBytes = 0;
  private totalEntries = 0;
  /**
   * Arrays the records of frames kept as bytes are written into, reused (one per write in flight at most): a new array
   * per frame would add a frame's size of garbage outside the JavaScript heap to every message (in the A/B where it
   * did, two of four processes fell into back-to-back mark-compacts, a state that text processes fall into too;
   * bench/RESULTS.md 2026-12-02 20:38-21:25Z). An array goes back once its write has settled; a replacement gets an
   * array of its own.
   */
  private readonly spare: Uint8Array[] = [];

  private constructor(
    private readonly store: KeyValueStore,
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly prefix: string,
    corrupt: number,
    unfinished: number,
  ) {
    this.corrupt = corrupt;
    this.unfinished = unfinished;
  }

  /** Settles once the outbox's storage calls queued so far (and any queued meanwhile) have settled. */
  async settled(): Promise<void> {
    do {
      await Promise.allSettled([...this.busy]);
      await this.settling.idle();
    } while (this.busy.size > 0);
  }

  /**
   * Opens the outbox stored under `prefix`, rebuilding entries and counters. Records above a seq whose write never
   * finished are deleted (see {@link Outbox.unfinished}); throws `OPPIE_ERR_STORAGE` when one cannot be, since a
   * later frame given its seq would bring it back.
   */
  static async open(store: KeyValueStore, opts: OutboxOptions = {}): Promise<Outbox> {
    const maxEntries = opts.maxEntries ?? 10_000;
    const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    const prefix = opts.prefix ?? 'outbox/';
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be an integer >= 1');
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be an integer >= 1');
    const { corrupt, loaded, counters } = await readOutbox(store, prefix);
    const byPeer = new Map<string, StoredRecord[]>();
    for (const record of loaded) {
      const records = byPeer.get(record.peer) ?? [];
      records.push(record);
      byPeer.set(record.peer, records);
    }
    const unfinished = [...byPeer].flatMap(([peer, records]) => unfinishedOf(records).map((seq) => ({ peer, seq })));
    const box = new Outbox(store, maxEntries, maxBytes, prefix, corrupt, unfinished.length);
    for (const { peer, seq } of unfinished) {
      await storageOp('removing an unfinished write from the outbox', () => store.delete(box.entryKey(peer, seq)));
    }
    for (const [peer, n] of counters) {
      box.persistedCounters.set(peer, n);
      box.counters.set(peer, Math.max(box.counters.get(peer) ?? 0, n));
    }
    const dropped = new Set(unfinished.map(({ peer, seq }) => `${seq}/${peer}`));
    // Even an unreadable entry's key proves its seq was used, so the counter never goes back over it.
    for (const { peer, seq, entry } of loaded) {
      if (dropped.has(`${seq}/${peer}`)) continue;
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
   * Persists `entry`, then keeps it, once every add of the peer before it has (see the class). A payload of bytes is
   * kept as bytes, and persisted as bytes where the store takes them (`setBytes`), else as `spell()`, the text they
   * spell (required then). Throws `OPPIE_ERR_OUTBOX_FULL` over `maxEntries` or `maxBytes`, `OPPIE_ERR_STORAGE` when
   * its write or that of an add before it fails.
   */
  add(entry: OutboxEntry, spell?: () => string): Promise<void> {
    const { peer, seq } = entry;
    if (!isSeq(seq) || !Number.isSafeInteger(entry.bytes) || entry.bytes < 0) {
      return Promise.reject(new RangeError('outbox entry needs an integer seq >= 0 and bytes >= 0'));
    }
    const queue = this.writing.get(peer) ?? [];
    const last = queue[queue.length - 1];
    // Adds come in seq order: only one out of order needs the scan.
    const writing = last !== undefined && seq <= last.entry.seq && queue.some((a) => a.entry.seq === seq);
    if (writing || this.entries.get(peer)?.has(seq))
      return Promise.reject(new RangeError(`seq ${seq} is already queued`));
    const undoing = this.undoing.get(peer);
    if (undoing !== undefined) {
      return Promise.reject(earlierFrameFailed(undoing));
    }
    const entries = this.totalEntries + this.reserved.entries;
    const bytes = this.totalBytes + this.reserved.bytes;
    if (entries + 1 > this.maxEntries || bytes + entry.bytes > this.maxBytes) {
      this.release(peer, seq);
      return Promise.reject(
        new OppieError(
          'OPPIE_ERR_OUTBOX_FULL',
          `outbox full (${entries}/${this.maxEntries} entries, ${bytes + entry.bytes}/${this.maxBytes} bytes)`,
        ),
      );
    }
    // With no record of the peer stored (none queued, none kept), a write ahead of the first one would leave, after a
    // crash, records above a missing seq that `open` could not tell from acknowledged frames deleted: the adds behind
    // the first wait for it to be stored. After that the record of the highest seq queued stays while later writes go
    // (see `acknowledge`), so a missing seq above a stored record is always a write that never finished.
    const first = queue[0];
    const below = (this.entries.get(peer)?.size ?? 0) > 0 || this.stale.get(peer)?.kept === true;
    const add = new PendingAdd({ ...entry });
    queue.push(add);
    this.writing.set(peer, queue);
    this.reserved.entries += 1;
    this.reserved.bytes += entry.bytes;
    const write = () => this.writes.run(() => this.persist(entry, spell, 'adding to the outbox'));
    const written =
      below || first === undefined
        ? write()
        : first.written.then(() => {
            if (first.state !== 'stored') throw earlierFrameFailed(first.error);
            return write();
          });
    void written.then(
      () => add.wrote(),
      (err: unknown) => add.wrote(err),
    );
    this.track(add.written.then(() => this.advance(peer)));
    return add.promise;
  }

  /** Queues the adds of `peer` whose records and those before them are stored, in order; undoes from a failed one. */
  private advance(peer: string): void {
    const queue = this.writing.get(peer);
    if (queue === undefined) return;
    for (let head = queue[0]; head?.state === 'stored'; head = queue[0]) {
      queue.shift();
      this.unreserve(head.entry);
      const { seq } = head.entry;
      this.counters.set(peer, Math.max(this.counters.get(peer) ?? 0, seq + 1));
      this.highestAdded.set(peer, Math.max(this.highestAdded.get(peer) ?? -1, seq));
      this.insert(head.entry);
      head.resolve();
    }
    if (queue[0]?.state === 'failed') this.undo(peer, queue.splice(0));
    if (queue.length === 0) this.writing.delete(peer);
  }

  /**
   * A frame's write failed: that add and every later one of the peer (writing, or stored: none is queued yet) are
   * undone. Their records, any that reached storage, are deleted and their seqs given back, and only then do the adds
   * fail, so a send tried again at once gets a seq no record holds. A record whose delete fails is written over by the
   * next frame given its seq; a crash before that brings it back (with those after it, if the failed one's own record
   * stayed): frames the app was told failed, as a write that failed only at its directory sync always could.
   */
  private undo(peer: string, adds: PendingAdd[]): void {
    const [failed] = adds;
    if (failed === undefined) return;
    const cause = failed.error;
    this.undoing.set(peer, cause);
    for (const a of adds) this.unreserve(a.entry);
    const undone = (async () => {
      await Promise.all(adds.map((a) => a.written));
      // From the lowest, each delete durable before the next: after a crash partway the records left lie above a
      // missing seq, which `open` drops. One that fails does not stop the others.
      for (const a of adds) await this.store.delete(this.entryKey(peer, a.entry.seq)).catch(() => undefined);
      const first = Math.min(...adds.map((a) => a.entry.seq));
      if ((this.counters.get(peer) ?? 0) > first) this.counters.set(peer, first);
      this.undoing.delete(peer);
      failed.reject(cause);
      const later = earlierFrameFailed(cause);
      for (const a of adds.slice(1)) a.reject(later);
    })();
    this.track(undone);
  }

  private unreserve(entry: OutboxEntry): void {
    this.reserved.entries -= 1;
    this.reserved.bytes -= entry.bytes;
  }

  private track(work: Promise<void>): void {
    const settled = work.catch(() => undefined);
    this.busy.add(settled);
    void settled.then(() => this.busy.delete(settled));
  }

  /**
   * Removes and returns every entry of `peer` with `seq <= upToSeq`, in seq order. Idempotent; an `upToSeq` past
   * everything sent (`Number.MAX_SAFE_INTEGER` to give up on a revoked peer) simply empties that peer's queue. The
   * entries leave the queue whatever their deletes do (the peer has them): a record whose delete fails, and every one
   * after it, stays in storage and is deleted by the next acknowledgment or by `tidy()` (a restart before that sends
   * them once more).
   *
   * Without `onDeleteFailed` it settles once the records are deleted too, and fails with the failure that stopped
   * that. With it, it settles once the entries are out of the queue, and a failed delete goes to `onDeleteFailed`: a
   * receipt then waits for no delete, and the receipts that come while one runs share the next (bench/RESULTS.md,
   * 2026-12-03: with a receipt waiting for its frames' deletes, the deletes held a sidecar's stream on FileStore to
   * ~20 MB/s).
   */
  acknowledge(peer: string, upToSeq: number, onDeleteFailed?: (err: unknown) => void): Promise<OutboxEntry[]> {
    const settled = this.settling.run(async () => {
      // Only an acknowledgment past what was sent (giving up on a revoked peer) can cover an add still under way: it
      // waits for those adds (not for later ones), so nothing it gave up on is queued after it. A receipt covers
      // frames that went, all added.
      const covered = (this.writing.get(peer) ?? []).filter((a) => a.entry.seq <= upToSeq).map((a) => a.promise);
      if (covered.length > 0) await Promise.allSettled(covered);
      // A scan, not `pending(peer)`: that sorts every queued entry, and a receipt usually settles a few of hundreds.
      const queued = this.entries.get(peer);
      const done: OutboxEntry[] = [];
      for (const e of queued?.values() ?? []) if (e.seq <= upToSeq) done.push(e);
      const highest = this.highestAdded.get(peer) ?? -1;
      // Nothing to settle, unless giving up past everything leaves records of acknowledged entries to remove.
      if (done.length === 0 && (!this.stale.has(peer) || upToSeq <= highest)) return { done, last: -1 };
      done.sort((a, b) => a.seq - b.seq);
      // `open` counts the seqs used from the keys it finds, so the record of the highest seq added must stay, or the
      // counter be written first (a file write and two fsyncs on a durable store; it records the highest seq added,
      // not allocated, so an allocation that never reached `add` leaves no gap after a restart). While that entry is
      // queued (a receipt in a stream settles older frames) its record stays anyway. A receipt that settles it (each
      // receipt does when frames go one at a time) keeps its record, with no write at all: the next acknowledgment
      // deletes it, and a restart before that sends it once more, which the peer drops as a duplicate. Only giving
      // up past it (a revoked peer) writes the counter.
      const highestStays = highest > upToSeq && queued?.has(highest) === true;
      // Giving up while later adds are under way (sends to the peer go on) keeps it too: their writes overlap, and a
      // crash must not leave them above a missing seq with no record below (see `add`).
      const ahead = (this.writing.get(peer)?.length ?? 0) > 0;
      const keep = (upToSeq === highest || (upToSeq > highest && ahead)) && queued?.has(highest) === true;
      if (!highestStays && !keep) await this.saveCounter(peer, highest + 1);
      for (const e of done) {
        queued?.delete(e.seq);
        this.totalEntries--;
        this.totalBytes -= e.bytes;
      }
      // Their records join the peer's range of acknowledged records still stored, which `sweep` deletes in seq order.
      const range = this.stale.get(peer) ?? { from: (done[0] as OutboxEntry).seq, to: -1, kept: false };
      range.to = Math.max(range.to, done[done.length - 1]?.seq ?? -1);
      range.kept = keep;
      this.stale.set(peer, range);
      return { done, last: keep ? range.to - 1 : range.to };
    });
    // Outside the queue: the receipts that come while a sweep runs join the next one, one durable sync for them all.
    return settled.then(async ({ done, last }) => {
      if (last < 0) return done;
      const swept = this.sweep(peer, last);
      if (onDeleteFailed === undefined) await swept;
      else swept.catch(onDeleteFailed);
      return done;
    });
  }

  /**
   * Deletes the peer's acknowledged records up to `last` (and any asked for meanwhile), in seq order from the lowest;
   * settles once they are gone, or fails with the failure that stopped it (a failed delete and every later record
   * stay, tried again by the next acknowledgment: a store whose deletes keep failing costs one a receipt).
   */
  private sweep(peer: string, last: number): Promise<void> {
    const running = this.sweeps.get(peer);
    if (running !== undefined) return running.until(last);
    const sweep = new Sweep();
    this.sweeps.set(peer, sweep);
    const done = sweep.until(last);
    sweep.ended = this.sweeping(peer, sweep);
    this.track(sweep.ended);
    return done;
  }

  private async sweeping(peer: string, sweep: Sweep): Promise<void> {
    try {
      for (let target = sweep.target; ; target = sweep.target) {
        const range = this.stale.get(peer);
        if (range !== undefined) {
          try {
            await this.deleteRange(peer, range, target);
          } catch (err) {
            sweep.fail(err);
            return;
          }
          if (range.from > range.to && this.stale.get(peer) === range) this.stale.delete(peer);
        }
        sweep.reached(target);
        if (sweep.target <= target) return;
      }
    } finally {
      if (this.sweeps.get(peer) === sweep) this.sweeps.delete(peer);
    }
  }

  /**
   * Deletes the records of `range` from its lowest seq up to `last`, moving `range.from` past each one deleted: in one
   * call where the store deletes in order (`deleteInOrder`), else one `delete` after another.
   */
  private async deleteRange(peer: string, range: StaleRange, last: number): Promise<void> {
    const { deleteInOrder } = this.store;
    if (deleteInOrder !== undefined && range.from <= last) {
      const keys: string[] = [];
      for (let seq = range.from; seq <= last; seq++) keys.push(this.entryKey(peer, seq));
      const { deleted, error } = await storageOp('removing from the outbox', () =>
        deleteInOrder.call(this.store, keys),
      );
      range.from += Math.max(0, Math.min(deleted, keys.length));
      if (range.from <= last) {
        const cause = error ?? new Error(`deleted ${deleted} of ${keys.length} records`);
        throw new OppieError('OPPIE_ERR_STORAGE', 'storage failed while removing from the outbox', { cause });
      }
      return;
    }
    while (range.from <= last) {
      const seq = range.from;
      await storageOp('removing from the outbox', () => this.store.delete(this.entryKey(peer, seq)));
      range.from = seq + 1;
    }
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
      for (const peer of [...this.stale.keys()]) {
        try {
          await this.sweeps.get(peer)?.ended;
          const range = this.stale.get(peer);
          if (range === undefined) continue;
          // A record added after them proves their seqs by itself; otherwise the counter takes over.
          const next = range.to + 1;
          if ((this.highestAdded.get(peer) ?? -1) < next) await this.saveCounter(peer, next);
          await this.deleteRange(peer, range, range.to);
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
  private async persist(entry: OutboxEntry, spell: (() => string) | undefined, what: string, reuse = true) {
    const key = this.entryKey(entry.peer, entry.seq);
    const { payload } = entry;
    const { setBytes, getBytes } = this.store;
    if (typeof payload !== 'string' && setBytes !== undefined && getBytes !== undefined) {
      if (!reuse) return storageOp(what, () => setBytes.call(this.store, key, encodeEntryBytes({ ...entry, payload })));
      const record = encodeEntryBytes({ ...entry, payload }, this.spare.pop());
      try {
        return await storageOp(what, () => setBytes.call(this.store, key, record));
      } finally {
        this.spare.push(new Uint8Array(record.buffer));
      }
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

/** What an add fails with when an earlier add of its peer failed to store its frame (`cause`: that failure). */
function earlierFrameFailed(cause: unknown): OppieError {
  return new OppieError('OPPIE_ERR_STORAGE', 'storage failed while adding to the outbox (an earlier frame)', { cause });
}

/** An add whose record is being written; it joins the queue once its record and those of the adds before it are. */
class PendingAdd {
  state: 'writing' | 'stored' | 'failed' = 'writing';
  error: unknown;
  /** Settles (never rejects) once the write has; `state` says how. */
  readonly written: Promise<void>;
  /** What `add` returns: settles when the entry is queued, or when the add is undone. */
  readonly promise: Promise<void>;
  private done!: () => void;
  resolve!: () => void;
  reject!: (err: unknown) => void;

  constructor(readonly entry: OutboxEntry) {
    this.written = new Promise<void>((resolve) => {
      this.done = resolve;
    });
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  wrote(error?: unknown): void {
    if (error === undefined) this.state = 'stored';
    else {
      this.state = 'failed';
      this.error = error;
    }
    this.done();
  }
}

/** A peer's acknowledged records still stored: seqs `from` to `to`, and whether `to` is kept as the record of the seqs. */
interface StaleRange {
  from: number;
  to: number;
  kept: boolean;
}

/** A record as `Outbox.open` finds it: its seq, its entry (undefined when unreadable), whether it is ORDERED. */
type StoredRecord = ReadRecord & { readonly seq: number };

/**
 * The seqs of one peer's records that lie above a seq whose write never finished: those from the first record that
 * follows a missing seq and was written by an outbox that deletes in seq order (outbox-codec.ts, `ORDERED`), when
 * the record below the missing seq is readable. Below a record without the mark (an older outbox's) a missing seq may
 * be a deleted acknowledged frame, and so above an unreadable one: it is never queued, so no acknowledgment deletes
 * it, and the acknowledged records above it go (dropping them would give seqs the peer has to new frames).
 */
function unfinishedOf(records: StoredRecord[]): number[] {
  records.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < records.length; i++) {
    const r = records[i] as StoredRecord;
    const below = records[i - 1] as StoredRecord;
    if (r.ordered && below.entry !== undefined && r.seq !== below.seq + 1) return records.slice(i).map((x) => x.seq);
  }
  return [];
}

/** A peer's deletion of acknowledged records: the highest seq asked for so far, and who waits for which. */
class Sweep {
  target = -1;
  /** Settles (never rejects) when the sweep stops. */
  ended: Promise<void> = Promise.resolve();
  private waiters: Array<{ last: number; resolve: () => void; reject: (err: unknown) => void }> = [];

  /** Settles once the records up to `last` are deleted; fails if the sweep stops before. */
  until(last: number): Promise<void> {
    this.target = Math.max(this.target, last);
    return new Promise<void>((resolve, reject) => this.waiters.push({ last, resolve, reject }));
  }

  reached(upTo: number): void {
    const still = [];
    for (const w of this.waiters) {
      if (w.last <= upTo) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  fail(err: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
