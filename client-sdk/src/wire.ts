/**
 * What is inside an end-to-end encrypted frame: a whole message (`p`), one chunk of a large one (`c`), or a void
 * marker (`v`) that fills a sequence number whose frame the relay refused for good, so the peer's in-order stream
 * never stalls on a hole.
 */
import { CHUNK_VERSION, decodeChunk } from './delivery/chunker.js';
import { OppieError } from './errors.js';
import { jsonBytes } from './json-bytes.js';

export type PlainFrame = { readonly p: unknown } | { readonly c: string } | { readonly v: 1 };

/** What the inbox holds per sequence number until it is delivered. */
export interface InboxValue {
  readonly type: string;
  readonly frame: PlainFrame;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * UTF-8 JSON of a frame: the bytes of JSON.stringify, with a message's long strings copied in rather than walked
 * character by character ({@link jsonBytes}, which also says what `headroom` gives).
 */
export function encodePlain(frame: PlainFrame, headroom = 0): Uint8Array {
  return jsonBytes(frame, headroom);
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
 * A chunk's frame as it arrived: its bytes, and `c`, the base64url text the inbox and the chunk store keep, made only
 * when read. A chunk delivered in order is never stored, and its text (87 KB for a 64 KiB chunk) would be made and
 * decoded again for nothing; where the frame is stored as JSON it is written as `{"c": text}`, as before.
 */
export class ChunkFrame {
  private text: string | undefined;

  constructor(
    /** The chunk (`encodeChunk`'s bytes); a view of the plaintext it came in. */
    readonly bytes: Uint8Array,
    private readonly toText: (chunk: Uint8Array) => string,
  ) {}

  get c(): string {
    this.text ??= this.toText(this.bytes);
    return this.text;
  }

  toJSON(): { c: string } {
    return { c: this.c };
  }
}

/**
 * The frame in a plaintext. A chunk comes back as a {@link ChunkFrame}, whose text is base64url by `toText`, the form
 * the inbox and the chunk store keep; a JSON `{"c": text}` (what SDKs sent before chunks were binary, perhaps still in
 * an outbox) is read as text.
 */
export function decodePlain(bytes: Uint8Array, toText: (chunk: Uint8Array) => string): PlainFrame {
  if (bytes[0] === CHUNK_FRAME) {
    decodeChunk(bytes); // a malformed chunk is refused here (OPPIE_ERR_PROTOCOL), before the inbox counts it
    return new ChunkFrame(bytes, toText);
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
 * Marks an envelope whose `payload` is a sealed frame: base64url from {@link PeerSession.seal}, which
 * {@link encodeFrame} splices into the JSON as is, or (for a data channel only) the sealed bytes. A symbol key, so
 * JSON.stringify and every other reader ignore it.
 */
export const SEALED_PAYLOAD: unique symbol = Symbol('oppie.sealedPayload');

/**
 * Free bytes in front of a frame's sealed bytes (`PeerSession.sealBytes`): enough for a binary data-channel message's
 * kind, length and JSON head (~250 bytes for the SDK's own envelopes), written there on its first send.
 */
export const SEALED_HEADROOM = 512;

/**
 * On an envelope marked with {@link SEALED_PAYLOAD} whose `payload` is the sealed bytes (a view), optionally `true`:
 * the bytes' array is the receiver's to write in front of them. The sender sets it on a frame's first send over a data
 * channel, which then frames the bytes in place ({@link SEALED_HEADROOM}) instead of copying them (channel-frames.ts).
 */
export const SEALED_BYTES: unique symbol = Symbol('oppie.sealedBytes');

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
  if (f.payload instanceof Uint8Array) throw new RangeError('a frame for the relay carries its payload as text');
  if (f[SEALED_PAYLOAD] !== true || typeof f.payload !== 'string') return JSON.stringify(frame);
  const { payload, ...head } = f;
  const text = JSON.stringify(head);
  return text === '{}' ? `{"payload":"${payload}"}` : `${text.slice(0, -1)},"payload":"${payload}"}`;
}
