/**
 * Application messages between paired devices: encrypt, sequence, persist in the outbox, pace to the relay, resend
 * after a reconnect; decrypt, order and deduplicate through the inbox, deliver once, acknowledge end to end.
 * Transport-agnostic by design: a second transport (a WebRTC data channel) only needs another `send`.
 */
import { type ApplicationType, isApplicationType, isRetryable, type WelcomePayload } from '@oppie/protocol';
import type { Emitter } from 'mitt';
import { type Base64url, defaultBase64url } from './crypto/aead.js';
import { b64Length, toB64u } from './crypto/sodium.js';
import {
  CHUNK_HEADER_BYTES,
  decodeChunk,
  encodeChunk,
  encodeChunkInPlace,
  FOLDED_MESSAGE_BYTES,
  Reassembler,
  splitPayload,
  TAIL_FOLD_BYTES,
} from './delivery/chunker.js';
import { type Compression, webCompression } from './delivery/compression.js';
import type { Inbox } from './delivery/inbox.js';
import { Slots, storageOp } from './delivery/internal.js';
import type { Outbox, OutboxEntry } from './delivery/outbox.js';
import { type Base64Codec, defaultBase64, packedJsonBytes, unpackJson } from './delivery/packed-strings.js';
import { decodeReceipt, encodeReceipt } from './delivery/receipt.js';
import { OppieError } from './errors.js';
import type { ClientEvents, IncomingMessage } from './events.js';
import type { Peers } from './peers.js';
import type { Platform } from './platform.js';
import { Pacer } from './transport/pacer.js';
import type { RelayFrameIn } from './transport/relay-connection.js';
import {
  ChunkFrame,
  decodePlain,
  encodePlain,
  type InboxValue,
  P_FRAME_OPEN,
  SEALED_BYTES,
  SEALED_HEADROOM,
  SEALED_PAYLOAD,
} from './wire.js';

/** Payloads above this are chunked, so every frame stays well below the relay's and WebRTC's message limits. */
const CHUNK_THRESHOLD = 48 * 1024;
const RESEND_DELAY_MS = 1_000;
/**
 * Longest wait before frames the relay dropped from the peer's full queue go again. Each round that finds the queue
 * still full doubles the wait (receipt progress from the peer starts over at RESEND_DELAY_MS): a resend into a full
 * queue evicts its oldest entry, the very frame the peer needs next, whose notice brings another resend, so resends
 * at a steady second kept two full queues (one per direction) evicting each other's next frames for minutes.
 */
const RESEND_MAX_DELAY_MS = 30_000;
/**
 * Receipt pacing (defaults of {@link ReceiptOptions}). Off by default: a receipt per turn keeps a request/response
 * exchange (send, await, send the next) at one round trip per message, where any pacing would add its interval to
 * each. Raised (10 ms), a stream of 64 KiB messages on the direct path sent about one receipt per seven messages
 * instead of one per message (each a blocking data-channel send) and ran 21-28% faster (2026-12-01); since credits
 * ride with receipts, paced runs have gone either way (bench/RESULTS.md, 2026-12-02 13:30Z).
 */
const RECEIPT_INTERVAL_MS = 0;
const RECEIPT_EVERY = 16;
/** Large messages compressed at once per client; the others wait in call order (see prepare). */
const PREPARE_AHEAD = 4;
/**
 * Frames per peer on their way at once (sent, not yet acknowledged end to end). Below the receiver's inbox window
 * (1024), so however the relay reorders a resend, no frame lands beyond it and is refused; and a burst from the app
 * waits in the outbox instead of overflowing the relay's queue for the peer.
 */
export const SEND_WINDOW = 512;
/**
 * No receipt progress from a peer for this long while frames are out: resend the window (the relay may have dropped
 * frames and lost the notice, when the sender's own queue was full). Doubles on each silent round, up to RTO_MAX_MS.
 */
const RTO_MS = 3_000;
const RTO_MAX_MS = 60_000;
/**
 * No receipt progress for this long while frames are out on an open data channel: the channel is dropped. Long enough
 * that a slow link only trips it below ~6 KB/s (one 62 KiB chunk per 10 s).
 */
const DIRECT_STALL_MS = 10_000;
/** Chunks of the transfer in progress per peer, persisted so a restart mid-transfer resumes instead of losing it. */
const RX_PREFIX = 'rx/';
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** When end-to-end receipts go; see `OppieClientOptions.receipts`. */
export interface ReceiptOptions {
  /** Least time between two rounds of receipts in the ordinary flow, in ms. Default 0: one round per turn. */
  readonly intervalMs?: number;
  /** With an interval: frames waiting for a receipt that send it at the next turn all the same. Default 16. */
  readonly every?: number;
}

/** Throws a RangeError for receipt options out of range (a negative or non-integer interval, `every` below 1). */
export function checkReceiptOptions(o: ReceiptOptions | undefined): void {
  if (o === undefined) return;
  // Well below the sender's RTO_MS: a stream's last frames wait out the interval, and a longer wait would make the
  // sender resend its whole window for want of a receipt.
  if (
    o.intervalMs !== undefined &&
    !(Number.isSafeInteger(o.intervalMs) && o.intervalMs >= 0 && o.intervalMs <= 1_000)
  ) {
    throw new RangeError(`receipts.intervalMs must be an integer from 0 to 1000, got ${o.intervalMs}`);
  }
  if (o.every !== undefined && !(Number.isSafeInteger(o.every) && o.every >= 1)) {
    throw new RangeError(`receipts.every must be an integer >= 1, got ${o.every}`);
  }
}

export interface MessagingDeps {
  readonly deviceId: string;
  readonly receipts?: ReceiptOptions;
  readonly platform: Platform;
  readonly peers: Peers;
  readonly outbox: Outbox;
  readonly inbox: Inbox<InboxValue>;
  readonly events: Emitter<ClientEvents>;
  /** Hands a frame to the relay connection; false when it is not open. */
  readonly send: (frame: object) => boolean;
  /** The data channels of the direct path, when this client has them. */
  readonly direct?: DirectChannel;
  /** Whether the relay says `peer` is connected; an offline peer's silence is no reason to resend. Default: yes. */
  readonly isOnline?: (peer: string) => boolean;
  /** When large payloads that only Huffman coding would shrink are deflated; default `auto`. */
  readonly lowGainCompression?: LowGainCompression;
}

/**
 * When a large payload that only Huffman coding would shrink (base64 of binary data or of compressed files: to ~75%)
 * is deflated. Text and other data with repeats is deflated whatever this says, and so is every payload over
 * {@link LOW_GAIN_SKIP_MAX_BYTES}.
 *
 * - `auto` (default): not while the peer's path is direct within a local network (the `path` event's `lan`: both
 *   ends of the pair on private, link-local or loopback addresses), where bytes cost nothing and deflating and
 *   inflating such data costs the two ends more CPU than its bytes take on a fast link (bench/RESULTS.md,
 *   2026-12-01 21:36-21:57Z: +36% throughput and a fifth less CPU with both ends on two cores). Everywhere else it
 *   is deflated: the relay and TURN are shared, metered hops, and a direct path through NATs is often a phone's
 *   mobile link, where the quarter of the bytes is throughput (at 100 Mbit/s, 1.32x the bare channel deflated
 *   against 0.95x undeflated) and money.
 * - `always`: on every path, also within a local network.
 * - `never`: on no path.
 */
export type LowGainCompression = 'auto' | 'always' | 'never';

/**
 * Undeflated payloads of low-gain data stop at this size: a receiver holds at most 32 MiB of chunks over its four
 * transfers in progress (Reassembler), and undeflated they would fill that a third sooner than deflated.
 */
export const LOW_GAIN_SKIP_MAX_BYTES = 4 * 1024 * 1024;

/** The values of {@link LowGainCompression}, for option checks. */
export const LOW_GAIN_COMPRESSION: readonly LowGainCompression[] = ['auto', 'always', 'never'];

/** What messaging needs of the direct path: whether a peer's channel is open, and a send on it. */
export interface DirectChannel {
  isDirect(peer: string): boolean;
  /**
   * False when the channel cannot take the frame: it goes to the relay instead. `urgent` (receipts) goes ahead of
   * frames the channel's window holds, as the pacer's `pushUrgent` does on the relay. A frame's first send may carry
   * its sealed bytes (`SEALED_BYTES`): the channel may write its framing into their headroom and send them.
   */
  send(peer: string, frame: object, urgent?: boolean): boolean;
  /** Drops the channel to `peer` as a failure would (frames move back to the relay, a new attempt follows). */
  reset(peer: string): void;
  /** Whether frames to `peer` take a direct path within a local network now; absent: no. */
  onLan?(peer: string): boolean;
  /** Largest data-channel message the open channel to `peer` takes; undefined without one (absent: not known). */
  messageBytes?(peer: string): number | undefined;
  /** Whether the peer's open channel said it reads packed chunks (packed-strings.ts); absent: no. */
  readsPacked?(peer: string): boolean;
}

type Settle = { resolve: () => void; reject: (err: OppieError) => void };
let idCounter = 0;
/** Random per process: ids stay unique across restarts without a getRandomValues call per frame. */
const ID_BASE = toB64u(globalThis.crypto.getRandomValues(new Uint8Array(12)));

/** Whether two arrays are views of the same bytes. */
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;

export class Messaging {
  private readonly pacer: Pacer;
  /** Send promises by peer and by the sequence number whose receipt settles them. */
  private readonly waiting = new Map<string, Map<number, Settle>>();
  /** The transfer in progress from each peer: its id and its reassembler. */
  private readonly rxTransfers = new Map<string, { id: string; reassembler: Reassembler }>();
  /**
   * Peers with no received chunk in storage, as this process last made sure: forgetting a transfer of theirs needs no
   * listing of the store (a listing and a delete per message, in IndexedDB or on disk, for messages of one chunk).
   */
  private readonly rxClean = new Set<string>();
  /**
   * Transfers by peer that completed in the batch being delivered: their stored chunks go once the inbox has committed
   * the batch. A crash before that brings the batch again from its first frame, and the transfer's last chunk needs
   * the ones before it.
   */
  private readonly rxFinishing = new Map<string, Set<string>>();
  /** Per peer, the last transfer given up (reported once; its later chunks are skipped). */
  private readonly rxAbandoned = new Map<string, string>();
  /** Outgoing chunked messages by peer: their seq range, for `transfer` progress events as receipts arrive. */
  private readonly outgoing = new Map<string, Array<{ id: string; first: number; last: number; reported: number }>>();
  private relayAcks: Map<string, string[]> | undefined;
  /** Sends whose frames are not all queued yet (or being voided after a failure), which close() waits for. */
  private readonly storing = new Set<Promise<unknown>>();
  /** Per-peer chain: nextSeq -> seal -> outbox.add must not interleave, or a seq could be left as a gap. */
  private readonly sendChains = new Map<string, Promise<unknown>>();
  private readonly receiptDue = new Set<string>();
  /** Per peer: the lowest seq still in the outbox (cached) and the highest seq handed to a transport. */
  private readonly low = new Map<string, number>();
  private readonly sentUpTo = new Map<string, number>();
  /** Per peer: when the window last moved (or was resent), and the current retransmission timeout. */
  private readonly silence = new Map<string, { at: number; rto: number }>();
  /** Per peer whose relay queue was full: the wait of the current resend round, when it goes, and the ids it takes. */
  private readonly fullQueue = new Map<string, { delay: number; at: number; ids: Set<string> }>();
  private rtoTimer: unknown;
  private closed = false;

  /**
   * Chunks are kept (inbox, chunk store) as text in the frame codec (native base64url on Node), made only when kept
   * (ChunkFrame); deflated by the platform.
   */
  private readonly codec: Base64url;
  /** Spells the strings of packed messages received, and reads them in messages to send (Node only). */
  private readonly base64: Base64Codec = defaultBase64();
  private readonly compression: Compression;

  private readonly receiptIntervalMs: number;
  private readonly receiptEvery: number;

  constructor(private readonly d: MessagingDeps) {
    this.receiptIntervalMs = d.receipts?.intervalMs ?? RECEIPT_INTERVAL_MS;
    this.receiptEvery = d.receipts?.every ?? RECEIPT_EVERY;
    this.pacer = new Pacer(d.platform.timers, d.platform.now, d.send);
    this.codec = d.platform.frameCrypto?.base64url ?? defaultBase64url();
    this.compression = d.platform.compression ?? webCompression;
  }

  private newId(prefix: string): string {
    return `${prefix}-${ID_BASE}${(++idCounter).toString(36)}`;
  }

  /** A (re)opened relay session: adopt its limits and resend every unacknowledged frame in sequence order. */
  connected(welcome: WelcomePayload): void {
    this.pacer.setLimits(welcome.limits.envelopesPerSecond, Math.max(1, Math.floor(welcome.limits.envelopesPerSecond)));
    this.pacer.clear();
    if (this.rtoTimer === undefined) this.rtoTimer = this.d.platform.timers.setTimeout(() => this.checkStalls(), 1_000);
    // Frames on an open data channel are already on their way; the channel is reliable and ordered.
    const peers = new Set(this.d.outbox.pending().map((e) => e.peer));
    for (const peer of peers) if (this.d.direct?.isDirect(peer) !== true) this.resendWindow(peer);
    for (const peer of this.d.peers.list()) this.receiptDue.add(peer.deviceId);
    this.flushReceipts();
  }

  /**
   * The data channel when it is open and takes the frame, else the relay (paced). The channel gets a payload of bytes
   * as it is, and on the frame's first send (`first`) may frame it in place, in the room in front of it
   * (channel-frames.ts); the relay gets text, made here for a frame kept as bytes (one that moves off a channel).
   */
  private dispatch(e: OutboxEntry, first = false): void {
    const direct = this.d.direct;
    if (direct?.isDirect(e.peer) === true) {
      const env = this.envelope(e, e.payload);
      if (direct.send(e.peer, first && typeof e.payload !== 'string' ? { ...env, [SEALED_BYTES]: true } : env)) return;
    }
    this.pacer.push(this.envelope(e, typeof e.payload === 'string' ? e.payload : this.codec.encode(e.payload)));
  }

  /**
   * Frames to `peer` moved to the data channel or back to the relay: everything not yet acknowledged end to end goes
   * again on the new path, in sequence order, so the receiver's ordered window fills from its lowest gap. Copies
   * that also arrive over the old path are duplicates to the inbox (dropped and re-acknowledged).
   */
  pathChanged(peer: string): void {
    if (this.closed) return;
    this.pacer.drop((f) => (f as { to?: string }).to === peer);
    this.resendWindow(peer);
    // The window just went again on the new path: its silence starts now, whatever the old path's was. With nothing
    // out there is no silence to measure: the next frame's starts when it goes (a channel that opened idle would
    // otherwise be dropped by the first frame sent 10 s later, before its receipt could come back).
    if (this.lowest(peer) === undefined) this.silence.delete(peer);
    else this.moved(peer);
    this.receiptDue.add(peer);
    this.scheduleReceipts();
  }

  /** Sends the window of `peer` again from its lowest unacknowledged frame. */
  private resendWindow(peer: string): void {
    const low = this.lowest(peer);
    if (low === undefined) return;
    this.sentUpTo.set(peer, low - 1);
    this.pump(peer);
  }

  /** The window to `peer` moved: the next silence is measured from now, with the base timeout. */
  private moved(peer: string): void {
    this.silence.set(peer, { at: this.d.platform.now(), rto: RTO_MS });
  }

  /** Resends the window of every peer on the relay whose receipts stalled, backing off each silent round. */
  private checkStalls(): void {
    this.rtoTimer = undefined;
    if (this.closed) return;
    const now = this.d.platform.now();
    for (const [peer, sent] of this.sentUpTo) {
      const low = this.lowest(peer);
      if (low === undefined || sent < low) {
        // Nothing out: the silence of the next frames is measured from when they go, not from the last receipt.
        this.silence.delete(peer);
        continue;
      }
      if (this.d.direct?.isDirect(peer) === true) {
        this.directStall(peer, now);
        continue;
      }
      if (this.d.isOnline?.(peer) === false) {
        // The relay holds its frames until it returns; measure the silence from then.
        this.silence.delete(peer);
        continue;
      }
      const p = this.silence.get(peer) ?? { at: now, rto: RTO_MS };
      if (now - p.at < p.rto) {
        this.silence.set(peer, p);
        continue;
      }
      this.silence.set(peer, { at: now, rto: Math.min(RTO_MAX_MS, p.rto * 2) });
      this.pacer.drop((f) => (f as { to?: string }).to === peer);
      this.resendWindow(peer);
    }
    this.rtoTimer = this.d.platform.timers.setTimeout(() => this.checkStalls(), 1_000);
  }

  /**
   * Nothing is resent on an open channel (it is reliable and ordered), so receipts that stop while it stays up (its
   * pongs still come) mean the peer could not take a frame: it failed to store one it had to buffer, or a message did
   * not decode and its bytes were never credited to the window. After {@link DIRECT_STALL_MS} the channel is dropped
   * as a failure: the window goes again on the relay, and a new attempt follows.
   */
  private directStall(peer: string, now: number): void {
    const p = this.silence.get(peer);
    if (p !== undefined && now - p.at < DIRECT_STALL_MS) return;
    this.moved(peer);
    if (p !== undefined) this.d.direct?.reset(peer);
  }

  private lowest(peer: string): number | undefined {
    const cached = this.low.get(peer);
    if (cached !== undefined && this.d.outbox.entry(peer, cached) !== undefined) return cached;
    const low = this.d.outbox.lowestSeq(peer);
    if (low === undefined) this.low.delete(peer);
    else this.low.set(peer, low);
    return low;
  }

  /**
   * Hands frames of `peer` to a transport, in seq order, while fewer than SEND_WINDOW are unacknowledged. `added`: the
   * frame just added, for its first send if it goes now (its payload, to tell it from a replacement: only the first
   * send may frame the bytes in place).
   */
  private pump(peer: string, added?: { seq: number; payload: string | Uint8Array }): void {
    const low = this.lowest(peer);
    if (low === undefined) return;
    let next = Math.max(low, (this.sentUpTo.get(peer) ?? low - 1) + 1);
    while (next < low + SEND_WINDOW) {
      const entry = this.d.outbox.entry(peer, next);
      if (entry === undefined) break; // not added yet: enqueue pumps again when it is
      const before = this.sentUpTo.get(peer);
      this.dispatch(entry, added !== undefined && added.seq === next && entry.payload === added.payload);
      // The channel failed while taking the frame and its close already sent this window again on the relay
      // (pathChanged): going on here would queue every later frame a second time.
      if (this.sentUpTo.get(peer) !== before) return;
      this.sentUpTo.set(peer, next);
      next += 1;
    }
  }

  /** Whether a frame was already handed to a transport (a replacement or resend of it goes at once). */
  private wasSent(e: OutboxEntry): boolean {
    return e.seq <= (this.sentUpTo.get(e.peer) ?? -1);
  }

  /** The frame's envelope, carrying `payload` (its text for the relay; a data channel also takes its bytes). */
  private envelope(e: OutboxEntry, payload: string | Uint8Array): object {
    const metadata: Record<string, string> = { deviceId: this.d.deviceId };
    if (e.priority !== undefined) metadata.priority = e.priority;
    return {
      type: e.type,
      id: e.id,
      // The creation time, not the send time: waiting in the outbox counts toward the TTL the relay enforces.
      timestamp: e.createdAt,
      to: e.peer,
      seq: e.seq,
      metadata,
      payload,
      [SEALED_PAYLOAD]: true,
    };
  }

  async send(to: string, type: ApplicationType, payload: unknown, priority?: 'high' | 'normal' | 'low'): Promise<void> {
    if (this.closed) throw new OppieError('OPPIE_ERR_CLOSED');
    // Encoding and compression start at once, outside the per-peer chain (up to PREPARE_AHEAD large messages at a
    // time: on Node zlib works on the thread pool meanwhile) while the chain only seals and persists in order.
    const prepared = this.prepare(payload, to);
    prepared.catch(() => {}); // observed by enqueue; a send refused before it gets there must not leave it unhandled
    const previous = this.sendChains.get(to) ?? Promise.resolve();
    const queued = previous.then(() => this.enqueue(to, type, prepared, priority));
    const tail = queued.catch(() => {});
    this.sendChains.set(to, tail);
    void tail.then(() => {
      if (this.sendChains.get(to) === tail) this.sendChains.delete(to);
    });
    return (await queued)();
  }

  /** The plaintext frames of one message: itself, or its compressed chunks. */
  private async prepare(payload: unknown, to: string): Promise<Uint8Array[]> {
    // A message that is chunked anyway carries its long base64 strings as bytes when the peer reads that.
    const packed = this.d.direct?.readsPacked?.(to)
      ? packedJsonBytes(payload, CHUNK_HEADER_BYTES, this.base64)
      : undefined;
    if (packed !== undefined && packed.jsonTextLength + P_FRAME_OPEN + 1 > CHUNK_THRESHOLD) {
      return this.chunked(packed.bytes, to, true);
    }
    // Room in front of `{"p":` for a chunk header: a message of one chunk is framed where it was written.
    const whole = encodePlain({ p: payload }, CHUNK_HEADER_BYTES - P_FRAME_OPEN);
    if (whole.length <= CHUNK_THRESHOLD) return [whole];
    // `{"p":` + the payload's JSON + `}`: the payload's own UTF-8 JSON without a second JSON.stringify.
    return this.chunked(whole.subarray(P_FRAME_OPEN, whole.length - 1), to, false);
  }

  /**
   * The chunks of one message's body (its JSON, or with `packed` its packed body), deflated or not. A body that
   * starts {@link CHUNK_HEADER_BYTES} or more into an array of ours and stays one undeflated chunk gets its header there.
   */
  private async chunked(json: Uint8Array, to: string, packed: boolean): Promise<Uint8Array[]> {
    // A slot first: a burst of large sends holds at most PREPARE_AHEAD compressions (memory, zlib's thread pool that
    // file writes share) in progress; the rest wait their turn in call order.
    return this.preparing.run(async () => {
      // Decided when compression starts: a message prepared for one path and sent on another is still whole either way.
      const hints = { skipLowGain: this.skipsLowGain(to, json) };
      const chunks = await splitPayload(json, {
        tailBytes: this.foldsTail(to) ? TAIL_FOLD_BYTES : 0,
        deflate: (bytes) => this.compression.deflateRaw(bytes, hints),
        packed,
      });
      const [only] = chunks;
      // Left whole (not deflated, one chunk): its header goes in the room and `{"p":` in front of its JSON, ours to use.
      if (
        chunks.length === 1 &&
        only !== undefined &&
        sameBytes(only.data, json) &&
        json.byteOffset >= CHUNK_HEADER_BYTES
      )
        return [encodeChunkInPlace(only)];
      return chunks.map(encodeChunk);
    });
  }

  /**
   * Whether a short last piece may ride in the chunk before it: the relay takes such chunks, and so does an open data
   * channel whose peer reads messages of {@link FOLDED_MESSAGE_BYTES}. A peer that reads less (64 KiB when it does not
   * say) gets chunks that fit it; one that turns out to read less later gets folded chunks by the relay.
   */
  private foldsTail(to: string): boolean {
    const limit = this.d.direct?.messageBytes?.(to);
    return limit === undefined || limit >= FOLDED_MESSAGE_BYTES;
  }

  private skipsLowGain(to: string, json: Uint8Array): boolean {
    const policy = this.d.lowGainCompression ?? 'auto';
    if (policy !== 'auto') return policy === 'never' && json.length <= LOW_GAIN_SKIP_MAX_BYTES;
    return json.length <= LOW_GAIN_SKIP_MAX_BYTES && this.d.direct?.onLan?.(to) === true;
  }

  /**
   * Seals every frame of one message and starts persisting it; returns a wait for its end-to-end receipt. The chain
   * moves on to the next message once the writes are started: the outbox overlaps them, and queues (so sends) each
   * frame once it and every frame before it are stored.
   */
  private async enqueue(
    to: string,
    type: ApplicationType,
    prepared: Promise<Uint8Array[]>,
    priority?: 'high' | 'normal' | 'low',
  ): Promise<() => Promise<void>> {
    if (this.closed) throw new OppieError('OPPIE_ERR_CLOSED');
    const session = this.d.peers.session(to);
    if (session === undefined) throw new OppieError('OPPIE_ERR_NOT_PAIRED', `${to} is not a paired device`);
    const frames = await prepared;
    if (this.closed) throw new OppieError('OPPIE_ERR_CLOSED');
    const adds: Array<Promise<OutboxEntry>> = [];
    for (const plain of frames) {
      const seq = this.d.outbox.nextSeq(to);
      const id = this.newId(type);
      const sealed = session.sealBytes({ from: this.d.deviceId, to, type, id, seq }, plain, SEALED_HEADROOM);
      const entry: OutboxEntry = {
        peer: to,
        id,
        type,
        seq,
        // What the frame's path sends: the relay its text, an open channel its bytes (kept off the JS heap until
        // the receipt, and stored as they are where the store takes bytes); the text is made only if a path needs it.
        payload: this.d.direct?.isDirect(to) === true ? sealed : this.codec.encode(sealed),
        createdAt: this.d.platform.now(),
        // What the frame weighs in the outbox whatever its form: the length of its text, made or not.
        bytes: b64Length(sealed.byteLength, false),
        ...(priority && { priority }),
      };
      const adding = this.d.outbox.add(entry, () => this.codec.encode(sealed));
      adds.push(
        adding.then(() => {
          this.pump(to, { seq, payload: entry.payload });
          return entry;
        }),
      );
      // A full outbox refuses a frame at once: the message's later frames are not tried (one would take its seq).
      if (await refusedNow(adding)) break;
    }
    // close() waits for this part (a failed message's void replacements are storage calls too); not for the receipt.
    const queued = this.queued(to, adds);
    this.storing.add(queued);
    const done = () => this.storing.delete(queued);
    queued.then(done, done);
    const settled = queued.then((lastSeq) => this.receiptOf(to, lastSeq));
    settled.catch(() => {}); // observed by send()
    return () => settled;
  }

  /** Waits for one message's frames to be queued (a failure voids those that were); their last seq. */
  private async queued(to: string, adds: Array<Promise<OutboxEntry>>): Promise<number> {
    const results = await Promise.allSettled(adds);
    const added = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      // A message is all or nothing: chunks already queued become void, so the peer does not wait for the rest.
      for (const e of added) await this.replaceWithVoid(e).catch(() => {});
      throw failed.reason;
    }
    const first = added[0] as OutboxEntry;
    const lastSeq = (added[added.length - 1] as OutboxEntry).seq;
    if (added.length > 1) {
      const list = this.outgoing.get(to) ?? [];
      list.push({ id: first.id, first: first.seq, last: lastSeq, reported: 0 });
      this.outgoing.set(to, list);
    }
    return lastSeq;
  }

  /** Waits for the receipt that covers `lastSeq`. */
  private receiptOf(to: string, lastSeq: number): Promise<void> {
    if (this.closed) throw new OppieError('OPPIE_ERR_CLOSED', 'closed while sending; the message stays in the outbox');
    return new Promise<void>((resolve, reject) => {
      let byPeer = this.waiting.get(to);
      if (byPeer === undefined) {
        byPeer = new Map();
        this.waiting.set(to, byPeer);
      }
      byPeer.set(lastSeq, { resolve, reject });
    });
  }

  /** Frames are handled one at a time, in arrival order: decryption, inbox and app delivery never interleave. */
  private chain: Promise<void> = Promise.resolve();

  /** Runs `task` in frame order with the other frames (pairing frames must land before the frames that follow). */
  serially(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch(() => {});
  }

  /**
   * Every routed or relay frame but welcome/pong/presence/pair/signal, from the relay or (`viaRelay` false) from a
   * data channel. Never throws: failures become `error` events. A payload of bytes (a binary data-channel message) is
   * given up: it is decrypted over, so the caller must not read it again.
   */
  received(f: RelayFrameIn, viaRelay = true): Promise<void> {
    this.chain = this.chain.then(() => this.handle(f, viaRelay)).catch(() => {});
    return this.chain;
  }

  private async handle(f: RelayFrameIn, viaRelay: boolean): Promise<void> {
    // Queued behind the frame being handled at close(): left unacknowledged, so the relay (or the peer's outbox, for a
    // data-channel frame) sends it again to the next client on these stores.
    if (this.closed) return;
    try {
      if (!viaRelay) {
        // A peer speaks only application frames and receipts on a channel; relay notices come from the relay.
        if (f.type !== 'receipt' && !isApplicationType(f.type))
          throw new OppieError('OPPIE_ERR_PROTOCOL', `a ${f.type} frame on a data channel was ignored`);
        return await this.routed(f, false);
      }
      switch (f.type) {
        case 'ack':
          return;
        case 'error':
          return this.refused(f);
        case 'dropped': {
          this.ackToRelay(f);
          this.receiptsLost(f);
          const { ids, to, reason } = f.payload as { ids: string[]; to: string; reason?: string };
          return reason === 'queue_full' ? this.resendAfterFullQueue(to, ids) : this.resendLater(new Set(ids));
        }
        case 'expired':
          this.ackToRelay(f);
          this.receiptsLost(f);
          return await this.expired((f.payload as { ids: string[] }).ids);
        default:
          return await this.routed(f, true);
      }
    } catch (err) {
      this.report(err);
    }
  }

  private progress(p: ClientEvents['transfer']): void {
    try {
      this.d.events.emit('transfer', p);
    } catch (err) {
      this.report(new OppieError('OPPIE_ERR_PROTOCOL', 'an application transfer listener threw', { cause: err }));
    }
  }

  /** Emits `error` (anything but an OppieError as OPPIE_ERR_PROTOCOL); a throwing app listener must not stop the SDK. */
  private report(err: unknown): void {
    try {
      this.d.events.emit(
        'error',
        err instanceof OppieError ? err : new OppieError('OPPIE_ERR_PROTOCOL', undefined, { cause: err }),
      );
    } catch {
      // The app's own error listener failed: nothing left to tell.
    }
  }

  /**
   * A frame from a peer. It is acknowledged to the relay only once its fate is settled here: delivered (the inbox
   * persisted it), buffered behind a gap (the inbox persisted it too), a duplicate, or refused (forged, unpaired).
   * Only a frame beyond the inbox window stays unacknowledged: the relay redelivers it after a reconnect.
   */
  private async routed(f: RelayFrameIn, viaRelay: boolean): Promise<void> {
    // Frames from a data channel are not the relay's to forget: nothing is acknowledged to it for them.
    const ackToRelay = viaRelay ? (frame: RelayFrameIn) => this.ackToRelay(frame) : () => {};
    const from = f.metadata?.deviceId;
    const session = from === undefined ? undefined : this.d.peers.session(from);
    // Sealed bytes come only from a binary data-channel message; the relay carries base64url text.
    const sealed = typeof f.payload === 'string' || (!viaRelay && f.payload instanceof Uint8Array);
    if (from === undefined || !sealed || typeof f.seq !== 'number') {
      ackToRelay(f);
      throw new OppieError('OPPIE_ERR_PROTOCOL', `a malformed ${f.type} frame was ignored`);
    }
    if (session === undefined) {
      // Not acknowledged: the relay keeps it and redelivers it after our next reconnect, by when the pairing that
      // is completing right now has stored this peer.
      throw new OppieError(
        'OPPIE_ERR_PROTOCOL',
        `a ${f.type} frame from ${from}, not (yet) a paired device, was held back`,
      );
    }
    let plain: Uint8Array;
    try {
      // open() throws OPPIE_ERR_DECRYPT for anything forged, tampered or re-addressed: nothing of it reaches the app.
      // Bytes are a view of a data-channel message that nothing reads after this frame (link.ts hands each over
      // once): decrypted over, not copied.
      plain = session.open(
        { from, to: this.d.deviceId, type: f.type, id: f.id, seq: f.seq },
        f.payload as string | Uint8Array,
        f.payload instanceof Uint8Array,
      );
    } catch (err) {
      ackToRelay(f);
      throw err;
    }
    if (f.type === 'receipt') {
      ackToRelay(f);
      const { upTo } = decodeReceipt(textDecoder.decode(plain));
      // The peer has every frame up to `upTo`: their sends settle whatever the store says, without waiting for their
      // records' deletes (this chain handles every frame from the peer). A record it failed to delete is tried again
      // by a later acknowledgment (and after a restart goes once more, a duplicate the peer drops).
      const report = (err: unknown) => this.report(err);
      await this.d.outbox.acknowledge(from, upTo, report).catch(report);
      if ((this.low.get(from) ?? -1) <= upTo) {
        this.low.set(from, upTo + 1);
        this.moved(from);
        this.fullQueue.delete(from); // the peer takes frames again: its next full queue starts at the base wait
      }
      this.pump(from);
      this.progressOut(from, upTo);
      const byPeer = this.waiting.get(from);
      if (byPeer !== undefined) {
        for (const [seq, settle] of byPeer) {
          if (seq <= upTo) {
            byPeer.delete(seq);
            settle.resolve();
          }
        }
      }
      return;
    }
    let frame: ReturnType<typeof decodePlain>;
    try {
      frame = decodePlain(plain, (chunk) => this.codec.encode(chunk));
    } catch (err) {
      ackToRelay(f); // authentic but malformed: a peer bug; retrying it would not help
      throw err;
    }
    const result = await this.d.inbox.accept(from, f.seq, f.id, { type: f.type, frame });
    if (result.kind === 'deliver') {
      for (const fr of result.frames) {
        try {
          await this.deliver(from, fr.id, fr.value, result.redelivered);
        } catch (err) {
          // One message that cannot be delivered (a transfer past its bounds, a chunk that does not decode) is
          // reported and skipped: the inbox released the frames after it too, and they must still reach the app.
          this.report(err);
        }
      }
      // Stored only now that the app has them: a crash before this line repeats the batch, never loses it.
      await this.d.inbox.delivered(from, result.frames[result.frames.length - 1]?.seq ?? f.seq);
      await this.forgetFinished(from);
      // Frames released from the buffer were acknowledged when they were buffered; only this one is left.
      ackToRelay(f);
    } else {
      // A duplicate, or a frame buffered behind a gap (persisted by the inbox): either way the relay may forget it.
      ackToRelay(f);
    }
    this.receiptDue.add(from);
    this.unreceipted += 1;
    const wait = this.lastReceiptsAt + this.receiptIntervalMs - this.d.platform.now();
    this.scheduleReceipts(this.unreceipted >= this.receiptEvery ? 0 : Math.max(0, wait));
  }

  private progressOut(peer: string, upTo: number): void {
    const list = this.outgoing.get(peer);
    if (list === undefined) return;
    for (const t of list) {
      const done = Math.min(upTo, t.last) - t.first + 1;
      if (done <= t.reported) continue;
      t.reported = done;
      this.progress({ peer, id: t.id, direction: 'out', done, total: t.last - t.first + 1 });
    }
    const open = list.filter((t) => t.reported < t.last - t.first + 1);
    if (open.length === 0) this.outgoing.delete(peer);
    else this.outgoing.set(peer, open);
  }

  private async deliver(from: string, id: string, value: InboxValue, redelivered: boolean): Promise<void> {
    const type = value.type as ApplicationType;
    const frame = value.frame;
    if ('v' in frame) {
      // Chunks of one message have consecutive seqs: a void among them means that message is abandoned.
      await this.dropTransfer(from);
      return;
    }
    if ('p' in frame) return this.emit(type, from, id, frame.p, redelivered);
    const chunk = decodeChunk(frame instanceof ChunkFrame ? frame.bytes : this.codec.decode(frame.c));
    // A transfer that failed was reported once; the rest of its chunks have nothing to join.
    if (this.rxAbandoned.get(from) === chunk.transferId) return;
    let r: Awaited<ReturnType<Reassembler['add']>>;
    try {
      const reassembler = await this.reassemblerFor(from, chunk.transferId, chunk.index);
      r = await reassembler.add(chunk);
      // Kept for a restart only while its message is unfinished: a message whole with this chunk (every message of one
      // chunk) needs no copy, and a crash before the inbox commits this frame brings it again.
      if (!r.done) {
        this.rxClean.delete(from);
        await this.bestEffort('keeping a received chunk for a restart', () =>
          this.d.platform.storage.set(`${RX_PREFIX}${from}/${chunk.transferId}/${chunk.index}`, frame.c),
        );
      }
    } catch (err) {
      this.rxAbandoned.set(from, chunk.transferId);
      await this.dropTransfer(from);
      throw err;
    }
    if (!r.done) {
      this.progress({
        peer: from,
        id: chunk.transferId,
        direction: 'in',
        done: r.received,
        total: r.count,
      });
      return;
    }
    this.rxTransfers.delete(from);
    if (!this.rxClean.has(from)) {
      const finishing = this.rxFinishing.get(from) ?? new Set<string>();
      this.rxFinishing.set(from, finishing.add(chunk.transferId));
    }
    this.progress({
      peer: from,
      id: chunk.transferId,
      direction: 'in',
      done: chunk.count,
      total: chunk.count,
    });
    let payload: unknown;
    try {
      payload = JSON.parse(chunk.packed === true ? unpackJson(r.bytes, this.base64) : textDecoder.decode(r.bytes));
    } catch (cause) {
      if (cause instanceof OppieError) throw cause; // a packed body that does not add up says how
      throw new OppieError('OPPIE_ERR_PROTOCOL', `the chunked ${type} ${id} from ${from} is not JSON`, { cause });
    }
    this.emit(type, from, id, payload, redelivered);
  }

  /**
   * Storage that only serves a restart (the chunks of a transfer in progress): a failure is reported and the transfer
   * goes on in memory, where it would resume from nothing after a restart instead of losing the message now.
   */
  private bestEffort(what: string, op: () => Promise<unknown>): Promise<void> {
    return storageOp(what, op).then(
      () => {},
      (err: unknown) => this.report(err),
    );
  }

  private emit(type: ApplicationType, from: string, id: string, payload: unknown, redelivered: boolean): void {
    const message: IncomingMessage = { type, from, id, payload, ...(redelivered && { redelivered: true }) };
    // The frame is committed: a throwing app listener must not cost the frames after it in this batch.
    try {
      this.d.events.emit(type, message);
      this.d.events.emit('message', message);
    } catch (err) {
      this.report(
        new OppieError('OPPIE_ERR_PROTOCOL', `an application listener threw on ${type} ${id}`, { cause: err }),
      );
    }
  }

  /**
   * The reassembler for the transfer a chunk belongs to. After a restart the chunks received before it are read back
   * from storage (the inbox committed them and the sender has let them go); any other transfer's are forgotten.
   */
  private async reassemblerFor(peer: string, transferId: string, index: number): Promise<Reassembler> {
    const current = this.rxTransfers.get(peer);
    if (current?.id === transferId) return current.reassembler;
    await this.dropTransfer(peer, index > 0 ? transferId : undefined);
    const fresh = new Reassembler({ inflate: (bytes, max) => this.compression.inflateRaw(bytes, max) });
    this.rxTransfers.set(peer, { id: transferId, reassembler: fresh });
    if (index > 0) {
      const prefix = `${RX_PREFIX}${peer}/${transferId}/`;
      const keys = await storageOp('reading a transfer back', () => this.d.platform.storage.keys(prefix));
      keys.sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));
      for (const key of keys) {
        // This chunk's own copy (an SDK before 2026-12-02 stored a chunk before taking it) would complete the message
        // here, where the result is not used, and leave the live chunk nothing to complete.
        if (Number(key.slice(prefix.length)) === index) continue;
        const text = await storageOp('reading a transfer back', () => this.d.platform.storage.get(key));
        if (text !== undefined) await fresh.add(decodeChunk(this.codec.decode(text)));
      }
    }
    return fresh;
  }

  /**
   * Forgets the transfer in progress from a peer (abandoned by a void frame or an error, or followed by another),
   * memory and storage; the stored chunks of `keep` stay (a transfer resumed after a restart), and so do those of
   * transfers completed in a batch not yet committed.
   */
  private async dropTransfer(peer: string, keep?: string): Promise<void> {
    this.rxTransfers.delete(peer);
    const kept = [keep, ...(this.rxFinishing.get(peer) ?? [])]
      .filter((id) => id !== undefined)
      .map((id) => `${RX_PREFIX}${peer}/${id}/`);
    if (kept.length === 0 && this.rxClean.has(peer)) return;
    await this.bestEffort('forgetting a transfer', async () => {
      for (const key of await this.d.platform.storage.keys(`${RX_PREFIX}${peer}/`))
        if (!kept.some((prefix) => key.startsWith(prefix))) await this.d.platform.storage.delete(key);
      if (kept.length === 0) this.rxClean.add(peer);
    });
  }

  /**
   * `peer` left the account (revoked): the rest of a transfer of theirs can never come, so what this side kept of it
   * goes, in memory and the chunks in storage (up to the reassembler's bound, 32 MiB). Runs in frame order.
   */
  forgetPeer(peer: string): void {
    this.serially(async () => {
      this.rxFinishing.delete(peer);
      this.rxAbandoned.delete(peer);
      this.receiptDue.delete(peer);
      await this.dropTransfer(peer);
      this.rxClean.delete(peer);
    });
  }

  /** The batch that completed transfers of `peer` is committed: their stored chunks go (see rxFinishing). */
  private async forgetFinished(peer: string): Promise<void> {
    const finished = this.rxFinishing.get(peer);
    if (finished === undefined) return;
    this.rxFinishing.delete(peer);
    // Nothing in progress: all of the peer's chunks may go, and the peer is then known to have none.
    if (!this.rxTransfers.has(peer)) return this.dropTransfer(peer);
    await this.bestEffort('forgetting a finished transfer', async () => {
      for (const id of finished)
        for (const key of await this.d.platform.storage.keys(`${RX_PREFIX}${peer}/${id}/`))
          await this.d.platform.storage.delete(key);
    });
  }

  /** A dropped or expired notice naming our receipts: the peer still waits for one, so send a fresh one. */
  private receiptsLost(f: RelayFrameIn): void {
    const { ids, to } = f.payload as { ids: string[]; to: string };
    if (ids.some((id) => id.startsWith('rcpt-'))) {
      this.receiptDue.add(to);
      this.scheduleReceipts();
    }
  }

  /** Relay refusals: transient ones are retried, permanent ones settle the send with the relay's code. */
  private async refused(f: RelayFrameIn): Promise<void> {
    const { code, message } = f.payload as { code: string; message: string };
    const entry = f.re === undefined ? undefined : this.d.outbox.pending().find((e) => e.id === f.re);
    if (entry === undefined) {
      this.d.events.emit('error', new OppieError('OPPIE_ERR_RELAY', `${code}: ${message}`, { relayCode: code }));
      return;
    }
    // Busy, rate limiting, draining or without its store: the same frame is accepted later.
    if (isRetryable(code)) return this.resendLater(new Set([entry.id]));
    const err = new OppieError('OPPIE_ERR_RELAY', `${code}: ${message}`, { relayCode: code });
    if (code === 'RELAY_ERR_RECIPIENT_FORBIDDEN') {
      // The peer left the account (revoked): nothing will ever reach it.
      // Its sends fail whatever the deletes do (a failed one is reported, and tried again later).
      const report = (e: unknown) => this.report(e);
      await this.d.outbox.acknowledge(entry.peer, Number.MAX_SAFE_INTEGER, report).catch(report);
      for (const settle of this.waiting.get(entry.peer)?.values() ?? []) settle.reject(err);
      this.waiting.delete(entry.peer);
      this.outgoing.delete(entry.peer);
      return;
    }
    await this.abandon(entry, err);
  }

  /**
   * Gives up on the message a frame belongs to: every frame of it still in the outbox becomes void (so the peer's
   * ordered stream moves on and its reassembly is dropped) and its send() fails with `err`.
   */
  private async abandon(entry: OutboxEntry, err: OppieError): Promise<void> {
    const transfers = this.outgoing.get(entry.peer) ?? [];
    const t = transfers.find((x) => x.first <= entry.seq && entry.seq <= x.last);
    const first = t?.first ?? entry.seq;
    const last = t?.last ?? entry.seq;
    for (const e of this.d.outbox.pending(entry.peer)) {
      if (e.seq >= first && e.seq <= last && !e.id.startsWith('void-')) await this.replaceWithVoid(e);
    }
    if (t !== undefined) transfers.splice(transfers.indexOf(t), 1);
    const byPeer = this.waiting.get(entry.peer);
    byPeer?.get(last)?.reject(err);
    byPeer?.delete(last);
  }

  /** Frames whose TTL ran out at the relay are not delivered late: their message becomes void, its send fails. */
  private async expired(ids: readonly string[]): Promise<void> {
    const wanted = new Set(ids);
    for (const entry of this.d.outbox.pending()) {
      if (!wanted.has(entry.id)) continue;
      // A void frame that expired is still needed by the peer's ordered stream: send it again.
      if (entry.id.startsWith('void-')) this.resendLater(new Set([entry.id]));
      else await this.abandon(entry, new OppieError('OPPIE_ERR_TIMEOUT', 'the message expired before delivery'));
    }
  }

  /** Fills the refused frame's sequence number with a void frame, so the peer's ordered stream moves past it. */
  private async replaceWithVoid(entry: OutboxEntry): Promise<void> {
    const session = this.d.peers.session(entry.peer);
    if (session === undefined) return;
    const id = this.newId('void');
    const payload = session.seal(
      { from: this.d.deviceId, to: entry.peer, type: 'chat', id, seq: entry.seq },
      encodePlain({ v: 1 }),
    );
    const replacement: OutboxEntry = {
      ...entry,
      id,
      type: 'chat',
      payload,
      bytes: payload.length,
      createdAt: this.d.platform.now(),
    };
    await this.d.outbox.replace(replacement);
    if (this.wasSent(replacement)) this.dispatch(replacement);
  }

  /** Sends the frames named in `wanted` that are still out again after `delayMs` (the set is read when it fires). */
  private resendLater(wanted: ReadonlySet<string>, delayMs = RESEND_DELAY_MS): void {
    this.d.platform.timers.setTimeout(() => {
      if (this.closed) return;
      for (const e of this.d.outbox.pending()) if (wanted.has(e.id) && this.wasSent(e)) this.dispatch(e);
    }, delayMs);
  }

  /**
   * Frames dropped from `peer`'s full relay queue go again in one round per wait: a full queue drops many frames at
   * once, and their notices join the round already scheduled (one timer and one pass over the outbox for all of
   * them); a notice after that round went starts the next at twice the wait. A round names at most SEND_WINDOW ids,
   * as many frames as can be out: more come only from a relay naming frames this client never sent.
   */
  private resendAfterFullQueue(peer: string, ids: readonly string[]): void {
    const now = this.d.platform.now();
    const round = this.fullQueue.get(peer);
    if (round !== undefined && round.at > now) {
      for (const id of ids) if (round.ids.size < SEND_WINDOW) round.ids.add(id);
      return;
    }
    const delay = round === undefined ? RESEND_DELAY_MS : Math.min(RESEND_MAX_DELAY_MS, round.delay * 2);
    const next = { delay, at: now + delay, ids: new Set(ids.slice(0, SEND_WINDOW)) };
    this.fullQueue.set(peer, next);
    this.resendLater(next.ids, delay);
  }

  /** Acknowledges relayed frames to the relay (at-least-once delivery), batched per turn and per sender. */
  ackToRelay(f: RelayFrameIn): void {
    const from = f.metadata?.deviceId ?? '';
    if (this.relayAcks === undefined) {
      this.relayAcks = new Map();
      this.ackTimer = this.d.platform.timers.setTimeout(() => this.flushRelayAcks(), 0);
    }
    const ids = this.relayAcks.get(from);
    if (ids === undefined) this.relayAcks.set(from, [f.id]);
    else ids.push(f.id);
  }

  private flushRelayAcks(): void {
    this.ackTimer = undefined;
    const acks = this.relayAcks;
    this.relayAcks = undefined;
    for (const [from, ids] of acks ?? []) {
      for (let i = 0; i < ids.length; i += 512) {
        const payload = { ids: ids.slice(i, i + 512), ...(from !== '' && { from }) };
        this.d.send({ type: 'ack', id: this.newId('ack'), timestamp: this.d.platform.now(), payload });
      }
    }
  }

  private receiptTimer: unknown;
  /** Large messages being prepared (compressed) now, and those waiting for a slot, in call order. */
  private readonly preparing = new Slots(PREPARE_AHEAD);
  /** When the scheduled receipts go (platform clock), and frames delivered since the last receipts went. */
  private receiptAt = 0;
  private unreceipted = 0;
  private lastReceiptsAt = Number.NEGATIVE_INFINITY;
  private ackTimer: unknown;

  /**
   * Receipts go `delayMs` from now (or sooner, when an earlier turn was already scheduled). A frame delivered in the
   * ordinary flow waits for the interval since the last round to pass, so in a stream one receipt covers the frames
   * of an interval; after a pause the first goes at the next turn. A reconnect, a path change or a lost receipt asks
   * for one at the next turn.
   */
  private scheduleReceipts(delayMs = 0): void {
    if (this.closed) return;
    const due = this.d.platform.now() + delayMs;
    if (this.receiptTimer !== undefined) {
      if (this.receiptAt <= due) return;
      this.d.platform.timers.clearTimeout(this.receiptTimer);
    }
    this.receiptAt = due;
    this.receiptTimer = this.d.platform.timers.setTimeout(() => {
      this.receiptTimer = undefined;
      this.flushReceipts();
    }, delayMs);
  }

  /** One end-to-end receipt per peer per turn, carrying the highest in-order sequence delivered. */
  private flushReceipts(): void {
    if (this.closed) return;
    for (const peer of this.receiptDue) {
      const upTo = this.d.inbox.ackState(peer);
      const session = this.d.peers.session(peer);
      if (upTo < 0 || session === undefined) continue;
      const id = this.newId('rcpt');
      const payload = session.seal(
        { from: this.d.deviceId, to: peer, type: 'receipt', id, seq: upTo },
        textEncoder.encode(encodeReceipt({ v: 1, upTo })),
      );
      const receipt = {
        type: 'receipt',
        id,
        timestamp: this.d.platform.now(),
        to: peer,
        seq: upTo,
        metadata: { deviceId: this.d.deviceId },
        payload,
        [SEALED_PAYLOAD]: true,
      };
      if (this.d.direct?.send(peer, receipt, true) !== true) this.pacer.pushUrgent(peer, receipt);
      this.lastReceiptsAt = this.d.platform.now();
    }
    this.receiptDue.clear();
    this.unreceipted = 0;
  }

  /** Frames persisted and not yet acknowledged end to end, all peers. */
  get unacknowledged(): { entries: number; bytes: number } {
    return this.d.outbox.size;
  }

  /**
   * Stops at once, then settles when the work already under way has: the frame being handled (frames queued behind it
   * are dropped unacknowledged and come again), sends past their checks (their outbox writes), and the inbox's and
   * outbox's storage calls. Until then a store write may still land.
   */
  close(): Promise<void> {
    this.closed = true;
    this.pacer.clear();
    for (const timer of [this.receiptTimer, this.ackTimer, this.rtoTimer])
      if (timer !== undefined) this.d.platform.timers.clearTimeout(timer);
    this.receiptTimer = undefined;
    this.ackTimer = undefined;
    this.rtoTimer = undefined;
    this.relayAcks = undefined;
    this.receiptDue.clear();
    this.outgoing.clear();
    this.rxTransfers.clear();
    this.rxAbandoned.clear();
    this.rxClean.clear();
    this.rxFinishing.clear();
    for (const byPeer of this.waiting.values())
      for (const s of byPeer.values()) s.reject(new OppieError('OPPIE_ERR_CLOSED'));
    this.waiting.clear();
    return this.inFlightSettled();
  }

  private async inFlightSettled(): Promise<void> {
    await Promise.allSettled([this.chain, ...this.sendChains.values(), ...this.storing]);
    await Promise.all([this.d.outbox.settled(), this.d.inbox.settled()]);
    // The newest acknowledged frame's record stays as the record of the seqs used; a clean close puts the counter in
    // its place, so a restart does not send it again.
    await this.d.outbox.tidy().catch((err: unknown) => this.report(err));
  }
}

/**
 * Whether `p` is rejected already: the reaction attached here is queued before the await's continuation, so a promise
 * rejected at once (a frame the outbox refused on the spot) is told apart from one still under way.
 */
async function refusedNow(p: Promise<unknown>): Promise<boolean> {
  let refused = false;
  p.catch(() => {
    refused = true;
  });
  await null;
  return refused;
}
