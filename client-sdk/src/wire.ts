/**
 * What is inside an end-to-end encrypted frame: a whole message (`p`), one chunk of a large one (`c`), or a void
 * marker (`v`) that fills a sequence number whose frame the relay refused for good, so the peer's in-order stream
 * never stalls on a hole.
 */
import { fromB64u, toB64u } from './crypto/sodium.js';
import { OppieError } from './errors.js';

export type PlainFrame = { readonly p: unknown } | { readonly c: string } | { readonly v: 1 };

/** What the inbox holds per sequence number until it is delivered. */
export interface InboxValue {
  readonly type: string;
  readonly frame: PlainFrame;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodePlain(frame: PlainFrame): Uint8Array {
  return encoder.encode(JSON.stringify(frame));
}

export function decodePlain(bytes: Uint8Array): PlainFrame {
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

export const chunkToText = (bytes: Uint8Array): string => toB64u(bytes);
export const chunkFromText = (text: string): Uint8Array => fromB64u(text);
