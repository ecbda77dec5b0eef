/**
 * Several binary data-channel messages written in one turn of the event loop travel as one **batch** message:
 * `0x02 || (u32 BE length || message)+`. A data-channel send has a fixed cost besides its bytes (wrtc blocks the
 * calling thread until its network thread takes the message; SCTP and the receiver handle each message on its own):
 * on this machine with both ends in their own process, 64 KiB of data sent as sixteen 4 KiB messages cost the sender
 * 3.5 ms of CPU, as one 64 KiB message 1.5 ms. A stream of deflated diffs (~13 KB a frame) went from one send per frame to
 * one per four. Only a peer that says it reads batches gets them (`f` in its ping or pong), and never more than the
 * message size it advertises or {@link BATCH_BYTES}.
 */
import { OppieError } from '../errors.js';
import { BINARY_CREDIT, BINARY_CREDIT_BYTES, BINARY_ENVELOPE } from './channel-frames.js';

/** First byte of a batch message. */
export const BATCH = 2;
/** Feature bit (bit 0, value 1) in a ping's or pong's `f`: the sender reads batch messages. */
export const FEATURE_BATCH = 1;
/**
 * Largest batch message. Larger ones leave fewer messages in flight between the two ends: a stream of deflated
 * 64 KiB diffs, ends in their own process, ran at 34.9 MB/s with batches up to 64 KiB, 30.6 up to 128 KiB, 29.1 up
 * to 200 KiB and 27.3 without batches (bench/dist scratch, 2026-12-01).
 */
export const BATCH_BYTES = 64 * 1024;
/** What a peer that does not advertise `a=max-message-size` accepts (RFC 8841, section 6). */
export const DEFAULT_PEER_MESSAGE_BYTES = 64 * 1024;

/**
 * Joins binary messages into one batch message.
 *
 * @example
 * channel.send(encodeBatch([envelopeA, envelopeB]));
 */
export function encodeBatch(items: readonly Uint8Array[]): Uint8Array {
  let size = 1;
  for (const item of items) size += 4 + item.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = BATCH;
  let at = 1;
  for (const item of items) {
    view.setUint32(at, item.byteLength);
    out.set(item, at + 4);
    at += 4 + item.byteLength;
  }
  return out;
}

/**
 * The messages of a batch, as views of `bytes`. A batch that is empty, holds anything but binary envelopes and binary
 * credits, or whose lengths do not add up to its size is `OPPIE_ERR_PROTOCOL`, and none of it is used.
 *
 * @example
 * for (const message of decodeBatch(bytes)) handle(message);
 */
export function decodeBatch(bytes: Uint8Array): Uint8Array[] {
  const bad = (why: string) => new OppieError('OPPIE_ERR_PROTOCOL', `a batch message ${why}`);
  if (bytes[0] !== BATCH) throw bad('does not start with its kind');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const items: Uint8Array[] = [];
  let at = 1;
  while (at < bytes.byteLength) {
    if (at + 4 > bytes.byteLength) throw bad('ends inside a length');
    const length = view.getUint32(at);
    if (length === 0) throw bad('holds an empty message');
    if (length > bytes.byteLength - at - 4) throw bad('is shorter than its lengths say');
    const item = bytes.subarray(at + 4, at + 4 + length);
    if (item[0] !== BINARY_ENVELOPE && item[0] !== BINARY_CREDIT)
      throw bad(`holds a message of kind ${item[0]}, not an envelope or a credit`);
    items.push(item);
    at += 4 + length;
  }
  if (items.length === 0) throw bad('is empty');
  return items;
}

/**
 * The largest message the peer accepts: the SCTP transport's `maxMessageSize` where the implementation has it, else
 * the peer's `a=max-message-size` in its description (0 there means no limit), else 64 KiB.
 *
 * @example
 * const limit = Math.min(peerMessageBytes(peer._pc), BATCH_BYTES);
 */
export function peerMessageBytes(pc: unknown): number {
  const p = pc as { sctp?: { maxMessageSize?: unknown } | null; remoteDescription?: { sdp?: unknown } | null } | null;
  const fromSctp = p?.sctp?.maxMessageSize;
  if (typeof fromSctp === 'number' && fromSctp > 0) return fromSctp;
  const sdp = p?.remoteDescription?.sdp;
  const m = typeof sdp === 'string' ? /^a=max-message-size:(\d+)\s*$/m.exec(sdp) : null;
  if (m === null) return DEFAULT_PEER_MESSAGE_BYTES;
  const advertised = Number(m[1]);
  return advertised === 0 ? Number.POSITIVE_INFINITY : advertised;
}

type Defer = (fn: () => void) => void;

/** Runs `fn` after the current turn of the event loop: after its microtasks and the I/O it handles, without a timer. */
export const nextTurn: Defer = (() => {
  interface Port {
    onmessage: (() => void) | null;
    postMessage(message: unknown): void;
  }
  const g = globalThis as unknown as {
    setImmediate?: (fn: () => void) => unknown;
    MessageChannel?: new () => { port1: Port; port2: Port };
  };
  const setImmediate = g.setImmediate;
  if (typeof setImmediate === 'function') return (fn) => void setImmediate(fn);
  if (typeof g.MessageChannel === 'function') {
    // Browsers: a message to ourselves is a macrotask with no timer clamp (setTimeout(0) may wait 4 ms).
    const queue: Array<() => void> = [];
    const channel = new g.MessageChannel();
    channel.port1.onmessage = () => {
      for (const fn of queue.splice(0)) {
        try {
          fn();
        } catch (err) {
          // One failing callback must not hold back the others; the error still surfaces.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    };
    return (fn) => {
      queue.push(fn);
      if (queue.length === 1) channel.port2.postMessage(0);
    };
  }
  return (fn) => void setTimeout(fn, 0);
})();

/**
 * Largest lone message a {@link Batcher.trailer} is added to, making it a batch: a receipt (~250 bytes) takes its
 * credit along, where a lone data frame (tens of KiB) still goes as a view of its sealed bytes, not copied into a batch.
 */
export const TRAILER_LONE_BYTES = 4 * 1024;
/** What a trailer takes of a batch: its length prefix and a binary credit. */
const TRAILER_BYTES = 4 + BINARY_CREDIT_BYTES;

/**
 * Collects the binary messages written in one turn and hands them to `send` as one batch (a lone message as it is),
 * at the end of the turn or as soon as the next one would not fit `limitBytes`. Text messages pass straight through,
 * after whatever is pending, so the channel's order is kept. A limit of 0 (the peer reads no batches) sends each
 * message at once.
 *
 * A {@link trailer} (a binary credit, for a peer that reads them) is asked for at each flush of a batch, or of a lone
 * message of up to {@link TRAILER_LONE_BYTES}, and goes last in it: the receiver's credit travels with its receipts
 * instead of as a data-channel message of its own (on the bench, 0.64 -> 0.49 messages sent per 64 KiB message received).
 *
 * @example
 * const batcher = new Batcher((data) => channel.send(data), report);
 * batcher.limitBytes = Math.min(peerMessageBytes(pc), BATCH_BYTES); // the peer said it reads batches
 * batcher.write(envelopeBytes);
 */
export class Batcher {
  /** Largest batch message; 0 turns batching off. */
  limitBytes = 0;
  /** A last message for the batch being flushed (at most 9 bytes, a binary credit), or undefined: nothing to add. */
  trailer: (() => Uint8Array | undefined) | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 1;
  private scheduled = false;
  private stopped = false;

  /**
   * @param send hands one message to the channel.
   * @param onError gets what a flush at the end of a turn throws (there is no caller to throw to).
   */
  constructor(
    private readonly send: (data: string | Uint8Array) => void,
    private readonly onError: (err: unknown) => void,
    private readonly defer: Defer = nextTurn,
  ) {}

  write(data: string | Uint8Array): void {
    if (this.stopped) return;
    if (typeof data === 'string' || this.limitBytes === 0) {
      this.flush();
      this.send(data);
      return;
    }
    const room = this.limitBytes - (this.trailer === undefined ? 0 : TRAILER_BYTES);
    if (this.pending.length > 0 && this.pendingBytes + 4 + data.byteLength > room) this.flush();
    this.pending.push(data);
    this.pendingBytes += 4 + data.byteLength;
    if (!this.scheduled) {
      this.scheduled = true;
      this.defer(() => {
        this.scheduled = false;
        try {
          this.flush();
        } catch (err) {
          this.onError(err);
        }
      });
    }
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.pending.length === 0 || this.stopped) return;
    const items = this.pending;
    const joined =
      (items.length > 1 || this.pendingBytes <= 1 + 4 + TRAILER_LONE_BYTES) &&
      this.pendingBytes + TRAILER_BYTES <= this.limitBytes;
    this.pending = [];
    this.pendingBytes = 1;
    const last = joined ? this.trailer?.() : undefined;
    if (last !== undefined) items.push(last);
    this.send(items.length === 1 ? (items[0] as Uint8Array) : encodeBatch(items));
  }

  /** Drops what is pending (the channel is gone: those frames are still in the outbox) and ignores later writes. */
  stop(): number {
    this.stopped = true;
    const dropped = this.pending.length;
    this.pending = [];
    return dropped;
  }
}
