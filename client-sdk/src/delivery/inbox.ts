/**
 * The receiver's inbox: turns frames that arrive duplicated, reordered or after gaps into an exactly-once, in-order
 * stream per peer, and keeps the acknowledgement state a `receipt` carries. Transport-agnostic like the outbox.
 */
import { OppieError } from '../errors.js';
import type { KeyValueStore } from '../platform.js';
import { isSeq, keySegment, Serial, storageOp } from './internal.js';

/** What {@link Inbox.accept} decided about one frame. */
export type InboxResult<T> =
  | {
      kind: 'deliver';
      frames: Array<{ seq: number; id: string; value: T }>;
      /**
       * The first batch from this peer since the inbox opened: the process may have handed these frames to the
       * application before a crash or reload and died before {@link Inbox.delivered} stored it. See the class doc.
       */
      redelivered: boolean;
    }
  | { kind: 'duplicate' }
  | { kind: 'buffered' };

export interface InboxOptions {
  /** Frames buffered ahead of the next expected seq, per peer. Default 1024. */
  window?: number;
  /** Default `'inbox/'`. */
  prefix?: string;
}

interface PeerState<T> {
  /** Next seq to hand out; everything below it has been handed to the application in this process. */
  expected: number;
  /** Next seq after the stored position: everything below it is known delivered across a restart. */
  committed: number;
  /** No batch from this peer was handed out since the inbox opened (the next one may repeat one before a crash). */
  fresh: boolean;
  /** Seqs handed out from the buffer whose stored copies wait for {@link Inbox.delivered} to remove them. */
  handedOut: number[];
  /** Frames ahead of `expected`, persisted too: they are acknowledged upstream, so a restart must not lose them. */
  ahead: Map<number, { id: string; value: T }>;
}

/**
 * Exactly-once, in-order delivery per peer.
 *
 * **Commit point.** `accept` hands out a batch (`deliver`) at once, and from then on a resend in this process is a
 * `duplicate`; the position is stored only when the caller reports the batch handled with {@link Inbox.delivered}.
 * A crash or page reload in between therefore loses nothing: after the restart the batch is delivered again, with
 * `redelivered: true`. Nothing can make the application's own effects and the stored position one atomic step, so
 * the choice is between possibly losing that batch and possibly repeating it; a lossless channel must repeat. The
 * flag is conservative: it is set on the first batch from each peer after the inbox opens, whether or not the
 * process died mid-batch. `ackState` (the receipt) counts stored positions only, so the sender keeps the frames
 * until they are delivered for good.
 *
 * Buffered frames are persisted (under `<prefix minus slash>-ahead/`) before `accept` returns `buffered`, so they
 * may be acknowledged to the relay at once: a relay whose in-flight window filled with frames waiting behind a gap
 * would otherwise never send the frame that fills it. `ackState` still counts contiguous delivery only, so the
 * sender keeps them in its outbox until they are delivered.
 *
 * @example
 * const inbox = await Inbox.open<AppMessage>(platform.storage);
 * const r = await inbox.accept(peer, frame.seq, frame.id, message);
 * if (r.kind === 'deliver') {
 *   for (const f of r.frames) app.emit(f.value, { redelivered: r.redelivered });
 *   await inbox.delivered(peer, r.frames[r.frames.length - 1].seq);
 * }
 * // always, even for a duplicate: re-acknowledge so the sender can drop its copy
 * sendReceipt(peer, { v: 1, upTo: inbox.ackState(peer) });
 */
/** Where buffered frames are kept: beside the positions, never under their prefix (whose keys are peers). */
function aheadPrefixOf(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}-ahead/`;
}

export class Inbox<T> {
  /** Stored states found unreadable at open. Such a peer starts again at seq 0. */
  readonly corrupt: number;
  private readonly peers = new Map<string, PeerState<T>>();
  private readonly serial = new Serial();

  private readonly aheadPrefix: string;

  private constructor(
    private readonly store: KeyValueStore,
    private readonly window: number,
    private readonly prefix: string,
    corrupt: number,
  ) {
    this.corrupt = corrupt;
    this.aheadPrefix = aheadPrefixOf(prefix);
  }

  private aheadKey(peer: string, seq: number): string {
    return `${this.aheadPrefix}${keySegment(peer)}/${seq}`;
  }

  /** Settles once the inbox's storage calls queued so far (and any queued meanwhile) have settled. */
  settled(): Promise<void> {
    return this.serial.idle();
  }

  /** Opens the inbox stored under `prefix`, restoring each peer's `expected`. */
  static async open<T>(store: KeyValueStore, opts: InboxOptions = {}): Promise<Inbox<T>> {
    const window = opts.window ?? 1024;
    const prefix = opts.prefix ?? 'inbox/';
    if (!Number.isSafeInteger(window) || window < 0) throw new RangeError('window must be an integer >= 0');
    const keys = await storageOp('listing the inbox', () => store.keys(prefix));
    const states: Array<[string, number]> = [];
    let corrupt = 0;
    for (const key of keys) {
      const raw = await storageOp('reading the inbox', () => store.get(key));
      const expected = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw);
      let peer: string | undefined;
      try {
        peer = decodeURIComponent(key.slice(prefix.length));
      } catch {
        peer = undefined; // a malformed key counts as corrupt
      }
      if (peer === undefined || !isSeq(expected)) corrupt++;
      else states.push([peer, expected]);
    }
    const inbox = new Inbox<T>(store, window, prefix, corrupt);
    for (const [peer, expected] of states)
      inbox.peers.set(peer, { expected, committed: expected, fresh: true, handedOut: [], ahead: new Map() });
    // Buffered frames from before the restart: kept if still ahead, removed if delivered since (a crash between the
    // commit and their removal) or unreadable.
    for (const key of await storageOp('listing the inbox', () => store.keys(inbox.aheadPrefix))) {
      const [segment, seqText] = key.slice(inbox.aheadPrefix.length).split('/');
      const raw = await storageOp('reading the inbox', () => store.get(key));
      let peer: string | undefined;
      let frame: { id: string; value: T } | undefined;
      try {
        peer = decodeURIComponent(segment ?? '');
        frame = JSON.parse(raw ?? '') as { id: string; value: T };
      } catch {
        frame = undefined;
      }
      const seq = Number(seqText);
      const state = peer === undefined ? undefined : inbox.state(peer);
      if (
        state === undefined ||
        frame === undefined ||
        typeof frame.id !== 'string' ||
        !isSeq(seq) ||
        seq < state.expected
      ) {
        await storageOp('cleaning the inbox', () => store.delete(key));
        continue;
      }
      state.ahead.set(seq, frame);
    }
    return inbox;
  }

  /**
   * Decides about frame `seq` from `peer`: below `expected` is a `duplicate`; already buffered is `buffered` again;
   * `expected` itself is handed out with every buffered successor (`deliver`: report it handled with
   * {@link Inbox.delivered}); up to `window` ahead is `buffered` (persisted first); further ahead throws
   * `OPPIE_ERR_REPLAY` (drop the frame unacknowledged: the sender resends it after the gap is filled). A seq that is
   * not an integer >= 0 throws `OPPIE_ERR_PROTOCOL`.
   */
  accept(peer: string, seq: number, id: string, value: T): Promise<InboxResult<T>> {
    return this.serial.run(async () => {
      if (!isSeq(seq)) throw new OppieError('OPPIE_ERR_PROTOCOL', `frame seq ${seq} is not an integer >= 0`);
      const state = this.state(peer);
      if (seq < state.expected) return { kind: 'duplicate' };
      if (state.ahead.has(seq)) return { kind: 'buffered' };
      if (seq > state.expected + this.window) {
        throw new OppieError(
          'OPPIE_ERR_REPLAY',
          `seq ${seq} from ${peer} is beyond the window (expected ${state.expected}, window ${this.window})`,
        );
      }
      if (seq > state.expected) {
        await storageOp('buffering in the inbox', () =>
          this.store.set(this.aheadKey(peer, seq), JSON.stringify({ id, value })),
        );
        state.ahead.set(seq, { id, value });
        return { kind: 'buffered' };
      }
      const frames = [{ seq, id, value }];
      let next = seq + 1;
      for (let f = state.ahead.get(next); f !== undefined; f = state.ahead.get(++next)) {
        frames.push({ seq: next, id: f.id, value: f.value });
      }
      // Released frames leave memory now (this process hands them out once); their stored copies stay until the
      // batch is reported delivered, so a crash before that finds them again.
      for (const f of frames.slice(1)) {
        state.ahead.delete(f.seq);
        state.handedOut.push(f.seq);
      }
      state.expected = next;
      const redelivered = state.fresh;
      state.fresh = false;
      return { kind: 'deliver', frames, redelivered };
    });
  }

  /**
   * Stores that every frame from `peer` up to `upTo` reached the application: resends are duplicates from now on,
   * across restarts too, and `ackState` moves. Call it after handing a `deliver` batch to the application; positions
   * only move forward, so a late call for an earlier batch changes nothing. A storage failure throws
   * `OPPIE_ERR_STORAGE` and leaves the stored position where it was (the batch is redelivered after a restart).
   */
  delivered(peer: string, upTo: number): Promise<void> {
    return this.serial.run(async () => {
      const state = this.peers.get(peer);
      if (state === undefined || !isSeq(upTo)) return;
      const next = Math.min(upTo + 1, state.expected);
      if (next <= state.committed) return;
      await storageOp('saving the inbox position', () =>
        this.store.set(`${this.prefix}${keySegment(peer)}`, String(next)),
      );
      state.committed = next;
      // After the commit: a crash before these deletes leaves keys that open() recognises as delivered.
      const done = state.handedOut.filter((s) => s < next);
      state.handedOut = state.handedOut.filter((s) => s >= next);
      for (const s of done) await storageOp('cleaning the inbox', () => this.store.delete(this.aheadKey(peer, s)));
    });
  }

  /** Highest seq from `peer` whose delivery is stored, -1 if none: the `upTo` of the next receipt. */
  ackState(peer: string): number {
    return (this.peers.get(peer)?.committed ?? 0) - 1;
  }

  private state(peer: string): PeerState<T> {
    const s = this.peers.get(peer) ?? { expected: 0, committed: 0, fresh: true, handedOut: [], ahead: new Map() };
    this.peers.set(peer, s);
    return s;
  }
}
