/** Reading stored outbox records back (internal to the outbox). */
import type { KeyValueStore } from '../platform.js';
import { isSeq, storageOp } from './internal.js';
import type { OutboxEntry } from './outbox.js';

/** Zero-padding keeps a store's lexical key order equal to seq order, which makes a dump readable. */
export const SEQ_DIGITS = 16;
const PRIORITIES = new Set(['high', 'normal', 'low']);

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
 * the plain JSON entries written before this layout. A payload of bytes is stored as `text`, what they spell.
 */
export function encodeEntry(entry: OutboxEntry, text?: string): string {
  const { payload, ...meta } = entry;
  const spelled = typeof payload === 'string' ? payload : text;
  if (spelled === undefined) throw new RangeError('an outbox entry whose payload is bytes needs the text they spell');
  return `${JSON.stringify(meta)}\n${spelled}`;
}

/** Validates a stored entry against its key; `undefined` means corrupt. */
export function parseEntry(raw: string | undefined, peer: string, seq: number): OutboxEntry | undefined {
  const text = raw ?? '';
  const split = text.indexOf('\n');
  let v: unknown;
  try {
    v = JSON.parse(split < 0 ? text : text.slice(0, split));
  } catch {
    return undefined; // unparseable JSON counts as corrupt
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const e = v as Record<string, unknown>;
  if (split >= 0) {
    if ('payload' in e) return undefined; // the metadata of this layout never holds one
    e.payload = text.slice(split + 1);
  }
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
  const loaded: Array<[string, number, OutboxEntry | undefined]> = [];
  const counters: Array<[string, number]> = [];
  for (const key of keys) {
    const raw = await storageOp('reading the outbox', () => store.get(key));
    const [kind, seg, seqText] = key.slice(prefix.length).split('/');
    const peer = seg === undefined ? undefined : safeDecode(seg);
    const n = raw === undefined ? Number.NaN : Number(kind === 'n' ? raw : seqText);
    if (peer === undefined || !isSeq(n) || (kind !== 'e' && kind !== 'n')) corrupt++;
    else if (kind === 'n') counters.push([peer, n]);
    else {
      const entry = parseEntry(raw, peer, n);
      if (entry === undefined) corrupt++;
      loaded.push([peer, n, entry]);
    }
  }
  return { corrupt, loaded, counters };
}
