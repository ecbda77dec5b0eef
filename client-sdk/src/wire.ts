/**
 * What is inside an end-to-end encrypted frame: a whole message (`p`), one chunk of a large one (`c`), or a void
 * marker (`v`) that fills a sequence number whose frame the relay refused for good, so the peer's in-order stream
 * never stalls on a hole.
 */
import { CHUNK_VERSION, decodeChunk } from './delivery/chunker.js';
import { OppieError } from './errors.js';

export type PlainFrame = { readonly p: unknown } | { readonly c: string } | { readonly v: 1 };

/** What the inbox holds per sequence number until it is delivered. */
export interface InboxValue {
  readonly type: string;
  readonly frame: PlainFrame;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const P_OPEN = encoder.encode('{"p":"');
const P_CLOSE = encoder.encode('"}');
const SURROGATE = /[\ud800-\udfff]/;
/** Whether a string has no lone surrogate (JSON.stringify escapes those; TextEncoder would replace them). */
const wellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !SURROGATE.test(s);

/**
 * Whether UTF-8 `bytes` hold no byte JSON escapes inside a string: a control character (< 0x20), `"` or `\`. Bytes
 * of multi-byte characters are all >= 0x80, so they never match. Four bytes at a time (exact per-byte zero tests:
 * a borrow can only set a flag above a byte that already matched).
 */
function jsonSafeBytes(bytes: Uint8Array): boolean {
  const words = bytes.byteOffset % 4 === 0 ? bytes.length >>> 2 : 0;
  const w32 = new Uint32Array(bytes.buffer, bytes.byteOffset, words);
  let flags = 0;
  for (let i = 0; i < words; i++) {
    const w = w32[i] as number;
    const quote = w ^ 0x22222222;
    const slash = w ^ 0x5c5c5c5c;
    flags |= ((w - 0x20202020) & ~w) | ((quote - 0x01010101) & ~quote) | ((slash - 0x01010101) & ~slash);
  }
  if ((flags & 0x80808080) !== 0) return false;
  for (let i = words * 4; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/**
 * UTF-8 JSON of a frame. A string message JSON would not escape is framed as is: the same bytes as JSON.stringify,
 * without its per-character walk (on Node 20 about 200 µs for a 47 KiB message; encoding and checking the bytes here
 * takes about a third of that).
 */
export function encodePlain(frame: PlainFrame): Uint8Array {
  if ('p' in frame && typeof frame.p === 'string' && wellFormed(frame.p)) {
    const body = encoder.encode(frame.p);
    if (jsonSafeBytes(body)) {
      const out = new Uint8Array(P_OPEN.length + body.length + P_CLOSE.length);
      out.set(P_OPEN);
      out.set(body, P_OPEN.length);
      out.set(P_CLOSE, P_OPEN.length + body.length);
      return out;
    }
  }
  return encoder.encode(JSON.stringify(frame));
}

/** Bytes of `{"p":` in front of a whole message's JSON in {@link encodePlain}'s output. */
export const P_FRAME_OPEN = 5;

/**
 * First byte of a chunk's frame: a chunk travels as its own bytes (`encodeChunk`, whose first byte is its version),
 * never inside JSON, which always starts with `{`. Base64url inside the plaintext would make every chunk a third
 * larger through the cipher, on the wire and in the outbox.
 */
export const CHUNK_FRAME = CHUNK_VERSION;

/**
 * The frame in a plaintext. A chunk comes back as base64url text (by `toText`), the form the inbox and the chunk store
 * keep; a JSON `{"c": text}` (what SDKs sent before chunks were binary, perhaps still in an outbox) is read the same.
 */
export function decodePlain(bytes: Uint8Array, toText: (chunk: Uint8Array) => string): PlainFrame {
  if (bytes[0] === CHUNK_FRAME) {
    decodeChunk(bytes); // a malformed chunk is refused here (OPPIE_ERR_PROTOCOL), before the inbox counts it
    return { c: toText(bytes) };
  }
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'an encrypted frame does not hold JSON', { cause: err });
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('p' in o) return { p: o.p };
    if (typeof o.c === 'string') return { c: o.c };
    if (o.v === 1) return { v: 1 };
  }
  throw new OppieError('OPPIE_ERR_PROTOCOL', 'an encrypted frame has an unknown shape');
}

/**
 * Marks an envelope whose `payload` is a sealed frame (base64url from {@link PeerSession.seal}): {@link encodeFrame}
 * splices it into the JSON as is. A symbol key, so JSON.stringify and every other reader ignore it.
 */
export const SEALED_PAYLOAD: unique symbol = Symbol('oppie.sealedPayload');

/**
 * The JSON text of a frame for the relay. For an envelope marked with {@link SEALED_PAYLOAD} the ciphertext is
 * appended after the other fields instead of JSON.stringify walking it (base64url needs no escaping; about 200 µs for a
 * 64 KiB frame on Node 20); the text parses to the same object. Any other frame is JSON.stringify'd.
 *
 * @example
 * ws.send(encodeFrame({ type: 'chat', id, timestamp, to, seq, metadata, payload: sealed, [SEALED_PAYLOAD]: true }));
 */
export function encodeFrame(frame: object): string {
  const f = frame as { readonly payload?: unknown; readonly [SEALED_PAYLOAD]?: boolean };
  if (f[SEALED_PAYLOAD] !== true || typeof f.payload !== 'string') return JSON.stringify(frame);
  const { payload, ...head } = f;
  const text = JSON.stringify(head);
  return text === '{}' ? `{"payload":"${payload}"}` : `${text.slice(0, -1)},"payload":"${payload}"}`;
}
