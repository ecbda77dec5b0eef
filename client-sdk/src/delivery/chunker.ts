/**
 * Splits a large payload (a `diff` can be megabytes) into chunks that each travel as their own frame.
 *
 * Each chunk becomes its own outbox entry with its own seq, so a reconnect or a transport switch resends only the
 * chunks the peer has not acknowledged, never the whole payload; and the inbox hands them over in order, exactly
 * once. The {@link Reassembler} still accepts any order and ignores duplicates, so it does not depend on that.
 */
import { OppieError } from '../errors.js';
import { deflateRaw } from './compression.js';

export { Reassembler, type ReassemblerOptions, type ReassemblyProgress } from './reassembler.js';

/** One piece of a chunked payload. `compressed` describes the whole transfer and is the same on every chunk. */
export interface Chunk {
  /** 32 lowercase hex digits: 8 random bytes per process, then a counter ({@link splitPayload}). */
  transferId: string;
  index: number;
  count: number;
  compressed: boolean;
  /** The transfer's data is a packed body (packed-strings.ts), not JSON; absent: false. Same on every chunk. */
  packed?: boolean;
  data: Uint8Array;
}

/**
 * Default data bytes per chunk: a chunk fills one data-channel message below 64 KiB. Budget of the binary channel
 * message (channel-frames.ts): 5 bytes of framing, the envelope's JSON head (~300 bytes; up to 1,977 fit) and the
 * sealed chunk, 63,488 data + 26 header + 40 nonce and tag = 63,554; 65,536 in all. On the relay the sealed bytes are
 * base64url inside JSON, ~85 KB a frame (the relay's `MAX_FRAME_BYTES` is at least 128 KiB). The chunks of 48,128
 * bytes before 2026-12-01 kept relay frames below 64 KiB too, and made a 64 KiB message that deflates to 75% (base64
 * of binary data) two chunks, and two data-channel sends, instead of one.
 */
export const DEFAULT_CHUNK_BYTES = 62 * 1024;

/**
 * Largest last piece that rides in the chunk before it instead of a chunk of its own, where the channel takes the
 * larger message ({@link FOLDED_CHUNK_BYTES} of data). A piece of its own costs a seal, an outbox entry, a receipt
 * slot and a data-channel send (wrtc blocks the caller 0.2-0.3 ms a send here) for a few KiB: a 64 KiB message,
 * 65.6 KB of JSON, went as 63,488 + 2,060 bytes. 850 such messages undeflated on this machine's loopback: 1,200
 * channel sends instead of 2,050, 320-375 ms blocked in wrtc instead of 440-640, and 36-37 MB/s instead of 30-34
 * (medians of three processes alternating, bench/dist scratch, 2026-12-02).
 */
export const TAIL_FOLD_BYTES = 16 * 1024;

/**
 * Largest data of a chunk with a folded tail. Sealed with the envelope's head it fits an 80 KiB data-channel message
 * (5 + 1,977 + 26 + 79,872 + 40 = 81,920), and on the relay ~107 KB of base64url, inside the 128 KiB that
 * `MAX_FRAME_BYTES` is at least.
 */
export const FOLDED_CHUNK_BYTES = DEFAULT_CHUNK_BYTES + TAIL_FOLD_BYTES;

/** Data-channel message size a peer must take for folded chunks to go direct: {@link FOLDED_CHUNK_BYTES} sealed. */
export const FOLDED_MESSAGE_BYTES = 80 * 1024;

/** First byte of every encoded chunk; the plaintext framing tells a chunk from JSON by it (wire.ts CHUNK_FRAME). */
export const CHUNK_VERSION = 1;
const FLAG_COMPRESSED = 1;
const FLAG_PACKED = 2;
/** version(1) flags(1) transferId(16) index(u32) count(u32) */
export const CHUNK_HEADER_BYTES = 26;

/**
 * Compresses `bytes` (raw deflate, by `opts.deflate` when given; kept only when it is smaller) and splits the result
 * into chunks of `chunkBytes`; a last piece of at most `tailBytes` (default 0) goes in the chunk before it, which is
 * then up to `chunkBytes + tailBytes`. An empty payload gives one empty chunk.
 *
 * @example
 * const chunks = await splitPayload(new TextEncoder().encode(diffText), { tailBytes: TAIL_FOLD_BYTES });
 * for (const c of chunks) await client.sendFrame('diff', encodeChunk(c)); // one outbox entry, one seq each
 */
export async function splitPayload(
  bytes: Uint8Array,
  opts: {
    chunkBytes?: number;
    tailBytes?: number;
    compress?: boolean;
    deflate?: (bytes: Uint8Array) => Promise<Uint8Array>;
    /** `bytes` is a packed body (flag bit 1 on every chunk). */
    packed?: boolean;
  } = {},
): Promise<Chunk[]> {
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const tailBytes = opts.tailBytes ?? 0;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw new RangeError('chunkBytes must be an integer >= 1');
  if (!Number.isSafeInteger(tailBytes) || tailBytes < 0) throw new RangeError('tailBytes must be an integer >= 0');
  let body = bytes;
  let compressed = false;
  if ((opts.compress ?? true) && bytes.byteLength > 0) {
    const deflated = await (opts.deflate ?? deflateRaw)(bytes);
    if (deflated.byteLength < bytes.byteLength) [body, compressed] = [deflated, true];
  }
  let count = Math.max(1, Math.ceil(body.byteLength / chunkBytes));
  if (count > 1 && body.byteLength - (count - 1) * chunkBytes <= tailBytes) count -= 1;
  if (count > 0xffffffff) throw new OppieError('OPPIE_ERR_PAYLOAD_TOO_LARGE', `payload needs ${count} chunks`);
  const transferId = nextTransferId();
  return Array.from({ length: count }, (_, index) => ({
    transferId,
    index,
    count,
    compressed,
    ...(opts.packed === true && { packed: true }),
    data: body.subarray(index * chunkBytes, index === count - 1 ? body.byteLength : (index + 1) * chunkBytes),
  }));
}

/**
 * Encodes a chunk as a 26-byte header followed by its data.
 *
 * @example
 * const wire = encodeChunk(chunk); // encrypt this as the frame's plaintext
 */
export function encodeChunk(chunk: Chunk): Uint8Array {
  checkShape(chunk.transferId, chunk.index, chunk.count, (m) => new RangeError(m));
  const out = new Uint8Array(CHUNK_HEADER_BYTES + chunk.data.byteLength);
  writeHeader(out, chunk);
  out.set(chunk.data, CHUNK_HEADER_BYTES);
  return out;
}

/**
 * {@link encodeChunk} without the copy: the header is written in the {@link CHUNK_HEADER_BYTES} in front of
 * `chunk.data` in its array, which must be the caller's to overwrite, and the result is a view of that array. For a
 * message of one chunk whose JSON was written with room in front of it (`jsonBytes`'s headroom).
 *
 * @throws RangeError when the data starts less than {@link CHUNK_HEADER_BYTES} into its array
 * @example
 * const frame = encodeChunkInPlace(chunk); // chunk.data is a view 26 or more bytes into an array of ours
 */
export function encodeChunkInPlace(chunk: Chunk): Uint8Array {
  checkShape(chunk.transferId, chunk.index, chunk.count, (m) => new RangeError(m));
  const { data } = chunk;
  if (data.byteOffset < CHUNK_HEADER_BYTES) throw new RangeError('no room for the chunk header in front of its data');
  const out = new Uint8Array(data.buffer, data.byteOffset - CHUNK_HEADER_BYTES, CHUNK_HEADER_BYTES + data.byteLength);
  writeHeader(out, chunk);
  return out;
}

function writeHeader(out: Uint8Array, chunk: Chunk): void {
  const view = new DataView(out.buffer, out.byteOffset, CHUNK_HEADER_BYTES);
  out[0] = CHUNK_VERSION;
  out[1] = (chunk.compressed ? FLAG_COMPRESSED : 0) | (chunk.packed === true ? FLAG_PACKED : 0);
  out.set(fromHex(chunk.transferId), 2);
  view.setUint32(18, chunk.index);
  view.setUint32(22, chunk.count);
}

/**
 * Decodes and validates a chunk; a malformed one throws `OPPIE_ERR_PROTOCOL`. `data` is a view into `bytes`.
 *
 * @example
 * const progress = await reassembler.add(decodeChunk(plaintext));
 */
export function decodeChunk(bytes: Uint8Array): Chunk {
  const bad = (m: string) => new OppieError('OPPIE_ERR_PROTOCOL', `bad chunk: ${m}`);
  if (bytes.byteLength < CHUNK_HEADER_BYTES) throw bad(`${bytes.byteLength} bytes is shorter than the header`);
  if (bytes[0] !== CHUNK_VERSION) throw bad(`unknown version ${bytes[0]}`);
  const flags = bytes[1] ?? 0;
  if ((flags & ~(FLAG_COMPRESSED | FLAG_PACKED)) !== 0) throw bad(`unknown flags ${flags}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunk: Chunk = {
    transferId: toHex(bytes.subarray(2, 18)),
    index: view.getUint32(18),
    count: view.getUint32(22),
    compressed: (flags & FLAG_COMPRESSED) !== 0,
    ...((flags & FLAG_PACKED) !== 0 && { packed: true }),
    data: bytes.subarray(CHUNK_HEADER_BYTES),
  };
  checkShape(chunk.transferId, chunk.index, chunk.count, bad);
  return chunk;
}

/** Shared by encode (caller bug: RangeError) and decode (peer bug: OPPIE_ERR_PROTOCOL). */
export function checkShape(transferId: string, index: number, count: number, fail: (m: string) => Error): void {
  if (!/^[0-9a-f]{32}$/.test(transferId)) throw fail('transferId must be 32 lowercase hex digits');
  if (!Number.isInteger(count) || count < 1 || count > 0xffffffff) throw fail(`count ${count} out of range`);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw fail(`index ${index} not below count ${count}`);
}

/** Two lowercase hex digits of every byte value. */
const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

function toHex(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i++) out += HEX_PAIRS[b[i] as number];
  return out;
}

/** Bytes of lowercase hex (checkShape has checked the digits). */
function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = (nibble(h.charCodeAt(2 * i)) << 4) | nibble(h.charCodeAt(2 * i + 1));
  return out;
}

const nibble = (c: number): number => (c <= 57 ? c - 48 : c - 87);

/**
 * Transfer ids: 8 random bytes drawn once per process, then a counter (a getRandomValues call per message cost more
 * than the rest of a small chunk's framing). Unique per sender across restarts but for a 2^-64 chance; an id is only
 * ever compared with ids from the same peer, inside the encrypted frame. The counter tells a peer (and the app, in
 * `transfer` events) how many chunked messages this process has sent to all its peers: nothing the relay can see.
 */
let transferBase: string | undefined;
let transferCounter = 0;

function nextTransferId(): string {
  transferBase ??= toHex(crypto.getRandomValues(new Uint8Array(8)));
  transferCounter += 1;
  return transferBase + transferCounter.toString(16).padStart(16, '0');
}
