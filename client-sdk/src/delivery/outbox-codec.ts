/** Reading stored outbox records back (internal to the outbox). */
import type { KeyValueStore } from '../platform.js';
import { isSeq, storageOp } from './internal.js';
import type { OutboxEntry } from './outbox.js';

/** Zero-padding keeps a store's lexical key order equal to seq order, which makes a dump readable. */
export const SEQ_DIGITS = 16;
const PRIORITIES = new Set(['high', 'normal', 'low']);
const NEWLINE = 0x0a;
/**
 * Field of a record's metadata (`"o":1`) saying an outbox that deletes records in seq order wrote it (every outbox
 * since its writes overlap; bench/RESULTS.md, 2026-12-03). Among such records a missing seq below one can only be a
 * frame whose write never finished, so `Outbox.open` drops what follows it; below a record without it, a missing seq
 * may be an acknowledged frame an older outbox deleted out of order, and nothing is dropped.
 */
export const ORDERED = 'o';
// ignoreBOM: a payload that starts with U+FEFF keeps it.
const utf8 = { encoder: new TextEncoder(), decoder: new TextDecoder('utf-8', { ignoreBOM: true }) };

export function safeDecode(seg: string): string | undefined {
  try {
    return decodeURIComponent(seg);
  } catch {
    return undefined; // a malformed key segment counts as corrupt
  }
}

/**
 * The stored text of an entry: the JSON of every field but the payload, a newline, then the payload as is. The payload
 * (a ciphertext, usually tens of KiB of base64url) is never escaped or even scanned: on Node 20 JSON.stringify walks a
 * long string character by character (about 200 µs for a 64 KiB frame), and persisting every frame is on the send
 * path. JSON.stringify never writes a raw newline, so the first one ends the metadata; {@link parseEntry} also reads
 * the plain JSON entries written before this layout. A payload of bytes is stored as `spell()`, the text they spell.
 */
export function encodeEntry(entry: OutboxEntry, spell?: () => string): string {
  const { payload, ...meta } = entry;
  const spelled = typeof payload === 'string' ? payload : spell?.();
  if (spelled === undefined) throw new RangeError('an outbox entry whose payload is bytes needs the text they spell');
  return `${JSON.stringify({ ...meta, [ORDERED]: 1 })}\n${spelled}`;
}

/**
 * The stored bytes of an entry whose payload is bytes, for a store that takes bytes: the metadata's JSON with
 * `"raw":1` (the payload after the newline is its bytes, not their text), a newline, then the bytes. A frame is stored
 * without its base64url text ever being made, and takes a third fewer bytes. Written into `into` when it has room
 * (a view of it comes back), else into a new array.
 */
export function encodeEntryBytes(entry: OutboxEntry & { payload: Uint8Array }, into?: Uint8Array): Uint8Array {
  const { payload, ...meta } = entry;
  const head = `${JSON.stringify({ ...meta, raw: 1, [ORDERED]: 1 })}\n`;
  const most = head.length * 3 + payload.byteLength; // UTF-8 takes at most 3 bytes per UTF-16 unit
  // A new array has room to spare (16 KiB steps), so frames of about one size all fit the one a caller keeps.
  const out = into !== undefined && into.byteLength >= most ? into : new Uint8Array(Math.ceil(most / 16_384) * 16_384);
  const { written } = utf8.encoder.encodeInto(head, out);
  out.set(payload, written);
  return out.subarray(0, written + payload.byteLength);
}

/**
 * A stored record read as bytes (a store that takes bytes): one of {@link encodeEntryBytes}, whose payload comes back
 * as bytes (the record's array, the caller's), or a text record's UTF-8, read as {@link parseEntry} reads its text.
 */
export function parseEntryBytes(raw: Uint8Array | undefined, peer: string, seq: number): OutboxEntry | undefined {
  return recordOfBytes(raw, peer, seq).entry;
}

/** Validates a stored entry against its key; `undefined` means corrupt. */
export function parseEntry(raw: string | undefined, peer: string, seq: number): OutboxEntry | undefined {
  return recordOfText(raw, peer, seq).entry;
}

/** A record read back: its entry (undefined when unreadable), and whether it carries {@link ORDERED}. */
export interface ReadRecord {
  readonly entry: OutboxEntry | undefined;
  readonly ordered: boolean;
}
const UNREADABLE: ReadRecord = { entry: undefined, ordered: false };

function recordOfBytes(raw: Uint8Array | undefined, peer: string, seq: number): ReadRecord {
  if (raw === undefined) return UNREADABLE;
  const split = raw.indexOf(NEWLINE);
  if (split < 0) return recordOfText(utf8.decoder.decode(raw), peer, seq);
  let meta: unknown;
  try {
    meta = JSON.parse(utf8.decoder.decode(raw.subarray(0, split)));
  } catch {
    return UNREADABLE; // unparseable JSON counts as corrupt
  }
  if (typeof meta !== 'object' || meta === null || (meta as { raw?: unknown }).raw !== 1)
    return recordOfText(utf8.decoder.decode(raw), peer, seq);
  const { raw: _, [ORDERED]: ordered, ...fields } = meta as Record<string, unknown>;
  const entry = checkEntry({ ...fields, payload: '' }, peer, seq);
  return entry === undefined
    ? UNREADABLE
    : { entry: { ...entry, payload: raw.subarray(split + 1) }, ordered: ordered === 1 };
}

function recordOfText(raw: string | undefined, peer: string, seq: number): ReadRecord {
  const text = raw ?? '';
  const split = text.indexOf('\n');
  let v: unknown;
  try {
    v = JSON.parse(split < 0 ? text : text.slice(0, split));
  } catch {
    return UNREADABLE; // unparseable JSON counts as corrupt
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return UNREADABLE;
  const { [ORDERED]: ordered, ...e } = v as Record<string, unknown>;
  if (split >= 0) {
    if ('payload' in e || 'raw' in e) return UNREADABLE; // the metadata of this layout holds neither
    e.payload = text.slice(split + 1);
  }
  const entry = checkEntry(e, peer, seq);
  return entry === undefined ? UNREADABLE : { entry, ordered: ordered === 1 };
}

/** `e` as an entry when every field is as {@link Outbox.add} writes it for this key, else undefined. */
function checkEntry(e: Record<string, unknown>, peer: string, seq: number): OutboxEntry | undefined {
  const ok =
    e.peer === peer &&
    e.seq === seq &&
    typeof e.id === 'string' &&
    typeof e.type === 'string' &&
    typeof e.payload === 'string' &&
    typeof e.createdAt === 'number' &&
    isSeq(e.bytes) &&
    (e.priority === undefined || PRIORITIES.has(e.priority as string)) &&
    (e.ttl === undefined || typeof e.ttl === 'number');
  return ok ? (e as unknown as OutboxEntry) : undefined;
}

/** Every stored record under `prefix`: entries (undefined when unreadable, the key still names its seq) and counters. */
export async function readOutbox(store: KeyValueStore, prefix: string) {
  const keys = await storageOp('listing the outbox', () => store.keys(prefix));
  let corrupt = 0;
  const loaded: Array<ReadRecord & { readonly peer: string; readonly seq: number }> = [];
  const counters: Array<[string, number]> = [];
  for (const key of keys) {
    const [kind, seg, seqText] = key.slice(prefix.length).split('/');
    // Entries as bytes where the store takes them: a frame's record may hold its bytes (encodeEntryBytes).
    const getBytes = kind === 'e' ? store.getBytes?.bind(store) : undefined;
    const raw =
      getBytes === undefined
        ? await storageOp('reading the outbox', () => store.get(key))
        : await storageOp('reading the outbox', () => getBytes(key));
    const peer = seg === undefined ? undefined : safeDecode(seg);
    const n = raw === undefined ? Number.NaN : Number(kind === 'n' ? raw : seqText);
    if (peer === undefined || !isSeq(n) || (kind !== 'e' && kind !== 'n')) corrupt++;
    else if (kind === 'n') counters.push([peer, n]);
    else {
      const record = typeof raw === 'string' ? recordOfText(raw, peer, n) : recordOfBytes(raw, peer, n);
      if (record.entry === undefined) corrupt++;
      loaded.push({ ...record, peer, seq: n });
    }
  }
  return { corrupt, loaded, counters };
}
