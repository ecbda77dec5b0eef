/**
 * The end-to-end acknowledgement. The client encrypts it like any application frame (type `receipt`), so only the
 * peer, never the relay, can acknowledge a frame: a relay that drops frames cannot make a sender forget them.
 */
import { OppieError } from '../errors.js';

/** "I delivered every frame of yours up to and including `upTo`" (-1: none yet). */
export interface Receipt {
  v: 1;
  upTo: number;
}

/**
 * Encodes a receipt as JSON.
 *
 * @example
 * const plaintext = encodeReceipt({ v: 1, upTo: inbox.ackState(peer) });
 */
export function encodeReceipt(receipt: Receipt): string {
  return JSON.stringify({ v: receipt.v, upTo: receipt.upTo });
}

/**
 * Decodes and validates a receipt; anything else throws `OPPIE_ERR_PROTOCOL`.
 *
 * @example
 * const { upTo } = decodeReceipt(plaintext);
 * await outbox.acknowledge(peer, upTo);
 */
export function decodeReceipt(text: string): Receipt {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'receipt is not JSON', { cause });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'receipt is not an object');
  }
  const r = v as Record<string, unknown>;
  if (r.v !== 1) throw new OppieError('OPPIE_ERR_PROTOCOL', `unsupported receipt version ${String(r.v)}`);
  if (typeof r.upTo !== 'number' || !Number.isSafeInteger(r.upTo) || r.upTo < -1) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'receipt upTo must be an integer >= -1');
  }
  const extra = Object.keys(r).find((k) => k !== 'v' && k !== 'upTo');
  if (extra !== undefined) throw new OppieError('OPPIE_ERR_PROTOCOL', `unexpected receipt field "${extra}"`);
  return { v: 1, upTo: r.upTo };
}
