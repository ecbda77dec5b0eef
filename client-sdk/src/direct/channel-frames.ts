/**
 * What travels on the WebRTC data channel: routed envelopes as the relay would carry them, the same fields and sealed
 * bytes (so one code path opens, orders and acknowledges them whatever the transport) in a binary message, and
 * link-level frames: an encrypted `ping` and its `pong` (the channel is trusted only once the peer proved it holds the
 * session key), `path`, and `credit`, the receiver's count of bytes received, which opens the sender's flow-control
 * window (text, or binary for a peer that reads it).
 */
import { OppieError } from '../errors.js';
import type { RelayFrameIn } from '../transport/relay-connection.js';
import { encodeFrame, SEALED_BYTES, SEALED_PAYLOAD } from '../wire.js';

export type ChannelFrame =
  | { readonly k: 'e'; readonly e: RelayFrameIn }
  | {
      readonly k: 'ping' | 'pong';
      readonly n: number;
      readonly p: string;
      readonly r: number;
      readonly f?: number;
      /** The sender's flow-control window in bytes (absent from SDKs before 2026-12-01). */
      readonly w?: number;
    }
  | { readonly k: 'credit'; readonly r: number }
  | { readonly k: 'path'; readonly relay: boolean; readonly rp?: RelayProtocol };

export type RelayProtocol = 'udp' | 'tcp' | 'tls';

export function encodeChannelFrame(frame: ChannelFrame): string {
  // An envelope is spliced in as the relay would get it (its sealed payload is not walked by JSON.stringify again).
  return frame.k === 'e' ? `{"k":"e","e":${encodeFrame(frame.e)}}` : JSON.stringify(frame);
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** First byte of a binary channel message: a routed envelope whose sealed payload follows its JSON head as bytes. */
export const BINARY_ENVELOPE = 1;
/** Byte 0 the kind, bytes 1-4 the head's length (u32, big-endian). */
const BINARY_HEAD_AT = 5;
/**
 * First byte of a binary `credit`: `0x03 || u64 BE bytes received`, 9 bytes. Small enough to ride in the batch of a
 * receipt (channel-batch.ts), where the text form would be a data-channel message of its own. Sent only to a peer that
 * reads it ({@link FEATURE_CREDIT} in its ping or pong).
 */
export const BINARY_CREDIT = 3;
/** Length of a binary credit message. */
export const BINARY_CREDIT_BYTES = 9;
/** Feature bit (bit 2, value 4) in a ping's or pong's `f`: the sender reads binary credits, alone or in a batch. */
export const FEATURE_CREDIT = 4;

/**
 * A credit as a binary message, for a peer that advertised {@link FEATURE_CREDIT}.
 *
 * @example
 * batcher.write(encodeCreditBinary(credits.take()));
 */
export function encodeCreditBinary(received: number): Uint8Array {
  const out = new Uint8Array(BINARY_CREDIT_BYTES);
  const view = new DataView(out.buffer);
  out[0] = BINARY_CREDIT;
  // Two halves: a long-lived channel passes 4 GiB, and a count stays a safe integer (under 2^53).
  view.setUint32(1, Math.floor(received / 2 ** 32));
  view.setUint32(5, received >>> 0);
  return out;
}

/** The count of a binary credit; any other length, or a count past 2^53 - 1, is OPPIE_ERR_PROTOCOL. */
function decodeCreditBinary(bytes: Uint8Array): ChannelFrame {
  if (bytes.byteLength !== BINARY_CREDIT_BYTES)
    throw new OppieError(
      'OPPIE_ERR_PROTOCOL',
      `a binary credit is ${bytes.byteLength} bytes, not ${BINARY_CREDIT_BYTES}`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  if (!Number.isSafeInteger(r)) throw new OppieError('OPPIE_ERR_PROTOCOL', 'a binary credit is past 2^53 - 1');
  return { k: 'credit', r };
}

/**
 * A routed envelope as one binary message: `0x01 || u32 BE length of the head || the head (UTF-8 JSON of the envelope
 * without its payload) || the sealed payload as bytes`. Base64url text inside the JSON, as on the relay, would make
 * every frame a third larger on the channel. Undefined for an envelope without a sealed payload (sent as text).
 *
 * A sealed payload may be text (base64url, as the relay carries it: decoded here) or its bytes. Bytes that are ours
 * to write in front of ({@link SEALED_BYTES}: a frame's first send, whose array has free room before them) are framed
 * there and sent as a view of that array: no copy (a batch of several messages still copies them into one). A
 * data-channel implementation must send a view's own bytes, from its offset, as wrtc and browsers do.
 *
 * @example
 * const data = encodeEnvelopeBinary(envelope, codec.decode) ?? encodeChannelFrame({ k: 'e', e: envelope });
 */
export function encodeEnvelopeBinary(envelope: object, decode: (text: string) => Uint8Array): Uint8Array | undefined {
  const f = envelope as {
    readonly payload?: unknown;
    readonly [SEALED_PAYLOAD]?: boolean;
    readonly [SEALED_BYTES]?: boolean;
  };
  if (f[SEALED_PAYLOAD] !== true) return undefined;
  const { payload, ...head } = f;
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) return undefined;
  const headBytes = encoder.encode(JSON.stringify(head));
  if (payload instanceof Uint8Array) {
    const start = payload.byteOffset - BINARY_HEAD_AT - headBytes.length;
    if (f[SEALED_BYTES] !== true || start < 0) return framed(headBytes, payload);
    const out = new Uint8Array(payload.buffer, start, payload.byteOffset + payload.byteLength - start);
    writeHead(out, headBytes);
    return out;
  }
  let sealed: Uint8Array;
  try {
    sealed = decode(payload);
  } catch {
    return undefined; // not canonical base64url (a damaged stored frame): the text form carries it as it is
  }
  return framed(headBytes, sealed);
}

/** A new binary message of `headBytes` and `sealed`. */
function framed(headBytes: Uint8Array, sealed: Uint8Array): Uint8Array {
  const out = new Uint8Array(BINARY_HEAD_AT + headBytes.length + sealed.length);
  writeHead(out, headBytes);
  out.set(sealed, BINARY_HEAD_AT + headBytes.length);
  return out;
}

/** The kind, the head's length and the head at the start of `out`. */
function writeHead(out: Uint8Array, headBytes: Uint8Array): void {
  out[0] = BINARY_ENVELOPE;
  new DataView(out.buffer, out.byteOffset, BINARY_HEAD_AT).setUint32(1, headBytes.length);
  out.set(headBytes, BINARY_HEAD_AT);
}

/**
 * The envelope of a binary message; its payload is a view of `bytes` (see {@link encodeEnvelopeBinary}), which the
 * receiver decrypts over: the message is read once.
 */
function decodeEnvelopeBinary(bytes: Uint8Array): ChannelFrame {
  const bad = (why: string, cause?: unknown) =>
    new OppieError('OPPIE_ERR_PROTOCOL', `a binary data-channel message ${why}`, cause === undefined ? {} : { cause });
  if (bytes.length < BINARY_HEAD_AT) throw bad('is shorter than its header');
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  if (headLength > bytes.length - BINARY_HEAD_AT) throw bad('is shorter than its head says');
  let head: unknown;
  try {
    head = JSON.parse(decoder.decode(bytes.subarray(BINARY_HEAD_AT, BINARY_HEAD_AT + headLength)));
  } catch (err) {
    throw bad('has a head that is not JSON', err);
  }
  const e = (head ?? {}) as Record<string, unknown>;
  if (typeof head !== 'object' || Array.isArray(head) || 'payload' in e) throw bad('has a malformed head');
  if (typeof e.type !== 'string' || typeof e.id !== 'string') throw bad('has a head without type and id');
  const payload = bytes.subarray(BINARY_HEAD_AT + headLength);
  return { k: 'e', e: { ...e, payload } as unknown as RelayFrameIn };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses one data-channel message; anything else is OPPIE_ERR_PROTOCOL (the link counts it and goes on). */
export function decodeChannelFrame(data: unknown): ChannelFrame {
  const bytes = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : undefined;
  if (bytes !== undefined && bytes[0] === BINARY_ENVELOPE) return decodeEnvelopeBinary(bytes);
  if (bytes !== undefined && bytes[0] === BINARY_CREDIT) return decodeCreditBinary(bytes);
  let v: unknown;
  try {
    v = JSON.parse(typeof data === 'string' ? data : decoder.decode(bytes ?? (data as Uint8Array)));
  } catch (err) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'a data-channel message is not JSON', { cause: err });
  }
  const o = (v ?? {}) as Record<string, unknown>;
  if (o.k === 'e') {
    const e = (o.e ?? {}) as Record<string, unknown>;
    if (typeof e.type === 'string' && typeof e.id === 'string') return { k: 'e', e: e as unknown as RelayFrameIn };
  } else if ((o.k === 'ping' || o.k === 'pong') && isCount(o.n) && typeof o.p === 'string' && isCount(o.r)) {
    // `f`: feature bits (channel-batch.ts); absent from SDKs before 2026-12-01, anything else is read as none.
    return {
      k: o.k,
      n: o.n,
      p: o.p,
      r: o.r,
      ...(isCount(o.f) && { f: o.f }),
      // `w`: the sender's window (absent before 2026-12-01; anything else but a count is read as absent).
      ...(isCount(o.w) && { w: o.w }),
    };
  } else if (o.k === 'credit' && isCount(o.r)) {
    return { k: 'credit', r: o.r };
  } else if (o.k === 'path' && typeof o.relay === 'boolean') {
    const rp = o.rp === 'udp' || o.rp === 'tcp' || o.rp === 'tls' ? o.rp : undefined;
    return rp === undefined ? { k: 'path', relay: o.relay } : { k: 'path', relay: o.relay, rp };
  }
  throw new OppieError('OPPIE_ERR_PROTOCOL', 'a data-channel message has an unknown shape');
}
