/**
 * Long base64 strings carried as the bytes they spell. A message's JSON with base64 in it (a screenshot, a file, any
 * binary an app puts in JSON) is a third larger than those bytes, and on a fast direct path deflate costs more time
 * than the link saves, so such a message used to cross the cipher and the channel at full size. A sender whose peer
 * reads packed chunks (data-channel feature bit {@link FEATURE_PACKED}) writes the message's JSON with each such string
 * left empty, and the bytes after it; the receiver spells them again, in the same alphabet, and parses the same JSON.
 *
 * A packed body (the data of a transfer whose chunks carry flag bit 1, after any inflate):
 *
 *   `jsonLength (u32 BE) || count (u32 BE) || count x (at (u32 BE) || byteLength (u32 BE) || alphabet (u8)) || json ||
 *   the strings' bytes, in order`
 *
 * `at` is where a string's contents go in `json` (between its quotes, which `json` holds with nothing between them),
 * strictly increasing; alphabet 0 is base64 (RFC 4648 section 4, padded), 1 base64url (section 5, unpadded). Only
 * canonical spellings are packed, so spelling the bytes again gives the string the sender had, character for character.
 */
import { b64Length, toB64, toB64u } from '../crypto/sodium.js';
import { OppieError } from '../errors.js';
import { holdsLongStringWhere, jsonParts, LONG_STRING, type PackedString, type Part } from '../json-bytes.js';

/** Feature bit (bit 1, value 2) in a ping's or pong's `f`: the sender reads packed chunks. */
export const FEATURE_PACKED = 2;

const HEAD_BYTES = 8;
const ENTRY_BYTES = 9;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Base64 spellings for {@link packedJsonBytes} and {@link unpackJson}. */
export interface Base64Codec {
  /**
   * The bytes `text` spells when it is the canonical base64 (padded) or base64url (unpadded) spelling of some bytes,
   * else undefined. Absent where no native decoder makes it worth doing: such a sender never packs.
   */
  readonly bytesOf?: (text: string) => PackedString | undefined;
  /** The canonical spelling of `bytes` in base64 (padded) or, with `url`, base64url (unpadded). */
  textOf(bytes: Uint8Array, url: boolean): string;
}

/** The part of Node's `Buffer` {@link bufferBase64} uses (structural: this file never imports Node modules). */
interface BufferCtor {
  from(text: string, encoding: 'base64'): Uint8Array & { toString(encoding: 'base64' | 'base64url'): string };
  from(
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
  ): Uint8Array & { toString(encoding: 'base64' | 'base64url'): string };
}

/** What base64 and base64url may hold before any padding: a string that starts otherwise is not decoded at all. */
const B64_HEAD = /^[A-Za-z0-9+/_-]*$/;
/** Characters looked at before decoding: text (a diff, code, prose) has a space or newline well within them. */
const HEAD_CHARS = 64;
/** Whether `text` starts as base64 or base64url would: only such a string is worth decoding to find out. */
const mayBeBase64 = (text: string): boolean => B64_HEAD.test(text.slice(0, HEAD_CHARS));

/**
 * Node's `Buffer` codec. Buffer's decoder skips what it does not read and takes either alphabet, so a string counts
 * only when the bytes spell it again exactly: decode and re-encode, ~35 µs for 64 KiB (Node 20).
 *
 * @example
 * const codec = bufferBase64(Buffer);
 * codec.bytesOf?.('aGk='); // { bytes: <68 69>, url: false }
 */
export function bufferBase64(buffer: BufferCtor): Base64Codec {
  return {
    bytesOf(text) {
      if (!mayBeBase64(text)) return undefined;
      const bytes = buffer.from(text, 'base64');
      if (text.length % 4 === 0 && bytes.toString('base64') === text) return { bytes, url: false };
      if (bytes.toString('base64url') === text) return { bytes, url: true };
      return undefined;
    },
    textOf: (bytes, url) =>
      buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(url ? 'base64url' : 'base64'),
  };
}

/** The portable codec (browsers): spells bytes, never reads them, so a sender using it never packs. */
export const jsBase64: Base64Codec = { textOf: (bytes, url) => (url ? toB64u(bytes) : toB64(bytes)) };

/**
 * Node's Buffer where there is one that spells both alphabets right, else {@link jsBase64}. A bundle's Buffer polyfill
 * (feross/buffer, in web and React Native apps) may not know base64url: such a receiver would fail on packed strings,
 * and such a sender would pack, so it is not used.
 */
export function defaultBase64(): Base64Codec {
  const buffer = (globalThis as { Buffer?: BufferCtor & { isEncoding?: (e: string) => boolean } }).Buffer;
  if (typeof buffer?.from !== 'function' || buffer.isEncoding?.('base64url') !== true) return jsBase64;
  try {
    const codec = bufferBase64(buffer);
    const known = Uint8Array.of(0xfb, 0xff);
    if (codec.textOf(known, true) === '-_8' && codec.textOf(known, false) === '+/8=') return codec;
  } catch {
    // a Buffer that throws on either alphabet: the portable codec
  }
  return jsBase64;
}

/**
 * The packed body of `value`'s JSON, `headroom` bytes into its array (a chunk header goes there), with every string
 * of `LONG_STRING` characters or more that `codec` reads as base64 carried as its bytes. Undefined when there is none
 * (or the codec reads none): the caller writes plain JSON.
 *
 * @example
 * const body = packedJsonBytes({ png: screenshot.toString('base64') }, 26, defaultBase64());
 * // body: ~75% of the JSON; the receiver's unpackJson(body) is that JSON's text
 */
export function packedJsonBytes(value: unknown, headroom: number, codec: Base64Codec): PackedBody | undefined {
  const bytesOf = codec.bytesOf;
  // A message with no string that may be base64 (a diff, code, a log) is not written here: its long strings' escaping
  // would be done twice, here and again by the plain path.
  if (bytesOf === undefined || !holdsLongStringWhere(value, mayBeBase64)) return undefined;
  const parts = jsonParts(value, bytesOf);
  if (parts === undefined) return undefined;
  const strings = parts.filter((p): p is PackedString => typeof p !== 'string' && 'bytes' in p);
  if (strings.length === 0) return undefined;
  const pieces = jsonPieces(parts);
  const jsonLength = pieces.reduce((n, p) => n + p.length, 0);
  let textLength = jsonLength;
  let dataLength = 0;
  for (const s of strings) {
    dataLength += s.bytes.length;
    textLength += b64Length(s.bytes.length, !s.url);
  }
  const tableEnd = headroom + HEAD_BYTES + ENTRY_BYTES * strings.length;
  const out = new Uint8Array(tableEnd + jsonLength + dataLength);
  const view = new DataView(out.buffer, headroom);
  view.setUint32(0, jsonLength);
  view.setUint32(4, strings.length);
  let json = tableEnd;
  let data = tableEnd + jsonLength;
  let entry = HEAD_BYTES;
  for (const p of pieces) {
    if (p.packed === undefined) {
      out.set(p.bytes, json);
      json += p.length;
      continue;
    }
    view.setUint32(entry, json - tableEnd);
    view.setUint32(entry + 4, p.packed.bytes.length);
    view.setUint8(entry + 8, p.packed.url ? 1 : 0);
    entry += ENTRY_BYTES;
    out.set(p.packed.bytes, data);
    data += p.packed.bytes.length;
  }
  return { bytes: out.subarray(headroom), jsonTextLength: textLength };
}

/** A packed body, and the length in UTF-8 bytes of the JSON it spells out to. */
export interface PackedBody {
  readonly bytes: Uint8Array;
  readonly jsonTextLength: number;
}

type Piece = { bytes: Uint8Array; length: number; packed?: undefined } | { length: 0; packed: PackedString };

/** The parts as UTF-8 pieces of JSON, with a zero-length piece where each packed string goes. */
function jsonPieces(parts: readonly Part[]): Piece[] {
  const pieces: Piece[] = [];
  let text = '';
  const flush = () => {
    if (text === '') return;
    const bytes = encoder.encode(text);
    pieces.push({ bytes, length: bytes.length });
    text = '';
  };
  for (const p of parts) {
    if (typeof p === 'string') text += p;
    else if ('long' in p) text += p.long;
    else {
      flush();
      pieces.push({ length: 0, packed: p });
    }
  }
  flush();
  return pieces;
}

/** Fewest bytes a packed string spells: {@link LONG_STRING} characters of padded base64 (a bound on table entries). */
export const MIN_PACKED_BYTES = (LONG_STRING / 4) * 3 - 2;

/** Default bound on the JSON text {@link unpackJson} spells out: the Reassembler's default output bound. */
export const MAX_UNPACKED_BYTES = 64 * 1024 * 1024;

/**
 * The JSON text a packed body spells out to, at most `maxTextBytes` long. A body whose table does not add up, or
 * whose text would be longer, is `OPPIE_ERR_PROTOCOL` (checked on the table before anything is spelled).
 *
 * @example
 * const payload = JSON.parse(unpackJson(reassembled, defaultBase64()));
 */
export function unpackJson(body: Uint8Array, codec: Base64Codec, maxTextBytes = MAX_UNPACKED_BYTES): string {
  const bad = (m: string) => new OppieError('OPPIE_ERR_PROTOCOL', `bad packed message: ${m}`);
  if (body.length < HEAD_BYTES) throw bad(`${body.length} bytes is shorter than its head`);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const jsonLength = view.getUint32(0);
  const count = view.getUint32(4);
  const tableEnd = HEAD_BYTES + ENTRY_BYTES * count;
  if (tableEnd + jsonLength > body.length) throw bad(`${count} strings and ${jsonLength} bytes of JSON do not fit`);
  const entries: Array<{ at: number; length: number; url: boolean }> = [];
  let data = tableEnd + jsonLength;
  let textLength = jsonLength;
  for (let i = 0, from = -1; i < count; i++) {
    const entry = HEAD_BYTES + ENTRY_BYTES * i;
    const at = view.getUint32(entry);
    const length = view.getUint32(entry + 4);
    const alphabet = view.getUint8(entry + 8);
    // Two quotes at least lie between two strings (`"","`), and a sender packs no string shorter than LONG_STRING.
    if (at > jsonLength || at < from + 2) throw bad(`string ${i} is placed out of order`);
    if (alphabet > 1) throw bad(`string ${i} has unknown alphabet ${alphabet}`);
    if (length < MIN_PACKED_BYTES) throw bad(`string ${i} has ${length} bytes, fewer than any packed string`);
    if (data + length > body.length) throw bad(`string ${i} runs past the end`);
    textLength += b64Length(length, alphabet === 0);
    if (textLength > maxTextBytes) throw bad(`its JSON would be longer than ${maxTextBytes} bytes`);
    entries.push({ at, length, url: alphabet === 1 });
    data += length;
    from = at;
  }
  if (data !== body.length) throw bad(`${body.length - data} bytes after its strings`);
  const json = body.subarray(tableEnd, tableEnd + jsonLength);
  const text: string[] = [];
  let from = 0;
  data = tableEnd + jsonLength;
  for (const e of entries) {
    text.push(utf8(json.subarray(from, e.at), bad), codec.textOf(body.subarray(data, data + e.length), e.url));
    data += e.length;
    from = e.at;
  }
  text.push(utf8(json.subarray(from), bad));
  return text.join('');
}

/** A piece of the JSON as text; a string placed inside a character, or bytes that are not UTF-8, are refused. */
function utf8(bytes: Uint8Array, bad: (m: string) => OppieError): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw bad('its JSON is not UTF-8');
  }
}
