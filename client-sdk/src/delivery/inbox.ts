/**
 * The receiver's inbox: turns frames that arrive duplicated, reordered or after gaps into an exactly-once, in-order
 * stream per peer, and keeps the acknowledgement state a `receipt` carries. Transport-agnostic like the outbox.
 */
import { OppieError } from '../errors.js';
import type { KeyValueStore } from '../platform.js';
import { isSeq, keySegment, Serial, storageOp } from './internal.js';

/** What {@link Inbox.accept} decided about one frame. */
export type InboxResult<T> =
  | { kind: 'deliver'; frames: Array<{ seq: number; id: string; value: T }> }
  | { kind: 'duplicate' }
  | { kind: 'buffered' };

export interface InboxOptions {
  /** Frames buffered ahead of the next expected seq, per peer. Default 1024. */
  window?: number;
  /** Default `'inbox/'`. */
  prefix?: string;
}

interface PeerState<T> {
  /** Next seq to deliver; everything below it has been handed to the application. */
  expected: number;
  /** Frames ahead of `expected`, persisted too: they are acknowledged upstream, so a restart must not lose them. */
  ahead: Map<number, { id: string; value: T }>;
}

/**
 * Exactly-once, in-order delivery per peer.
 *
 * **Commit point.** `accept` persists the advanced `expected` *before* it returns `deliver`: from that moment the
 * frames count as delivered, and a resend (before or after a restart) is a `duplicate`. A crash after the commit and
 * before the application has handled the frames loses them for the application; that is the price of never showing
 * a frame twice. Hand delivered frames to the application synchronously after `accept` resolves.
 *
 * Buffered frames are persisted (under `<prefix minus slash>-ahead/`) before `accept` returns `buffered`, so they
 * may be acknowledged to the relay at once: a relay whose in-flight window filled with frames waiting behind a gap
 * would otherwise never send the frame that fills it. `ackState` still counts contiguous delivery only, so the
 * sender keeps them in its outbox until they are delivered.
 *
 * @example
 * const inbox = await Inbox.open<AppMessage>(platform.storage);
 * const r = await inbox.accept(peer, frame.seq, frame.id, message);
 * if (r.kind === 'deliver') for (const f of r.frames) app.emit(f.value);
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
    for (const [peer, expected] of states) inbox.peers.set(peer, { expected, ahead: new Map() });
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
        seq <= state.expected
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
   * `expected` itself
   * is delivered with every buffered successor (after persisting, see the commit point above); up to `window`
   * ahead is `buffered` (persisted); further ahead throws `OPPIE_ERR_REPLAY` (drop the frame unacknowledged: the
   * sender resends it after the gap is filled). A seq that is not an integer >= 0 throws `OPPIE_ERR_PROTOCOL`.
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
      // Commit point: persist first, then change memory, so a storage failure leaves everything as it was.
      await storageOp('saving the inbox position', () =>
        this.store.set(`${this.prefix}${keySegment(peer)}`, String(next)),
      );
      for (const f of frames) state.ahead.delete(f.seq);
      state.expected = next;
      // After the commit: a crash before these deletes leaves keys that open() recognises as delivered.
      for (const f of frames.slice(1)) {
        await storageOp('cleaning the inbox', () => this.store.delete(this.aheadKey(peer, f.seq)));
      }
      return { kind: 'deliver', frames };
    });
  }

  /** Highest seq delivered contiguously from `peer`, -1 if none: the `upTo` of the next receipt. */
  ackState(peer: string): number {
    return (this.peers.get(peer)?.expected ?? 0) - 1;
  }

  private state(peer: string): PeerState<T> {
    const s = this.peers.get(peer) ?? { expected: 0, ahead: new Map() };
    this.peers.set(peer, s);
    return s;
  }
}
