/**
 * What travels on the WebRTC data channel: routed envelopes exactly as the relay would carry them (so one code path
 * opens, orders and acknowledges them whatever the transport), and three link-level frames: an encrypted `ping` and
 * its `pong` (the channel is trusted only once the peer proved it holds the session key) and `credit`, the receiver's
 * count of bytes received, which opens the sender's flow-control window.
 */
import { OppieError } from '../errors.js';
import type { RelayFrameIn } from '../transport/relay-connection.js';
import { encodeFrame } from '../wire.js';

export type ChannelFrame =
  | { readonly k: 'e'; readonly e: RelayFrameIn }
  | { readonly k: 'ping' | 'pong'; readonly n: number; readonly p: string; readonly r: number }
  | { readonly k: 'credit'; readonly r: number }
  | { readonly k: 'path'; readonly relay: boolean; readonly rp?: RelayProtocol };

export type RelayProtocol = 'udp' | 'tcp' | 'tls';

export function encodeChannelFrame(frame: ChannelFrame): string {
  // An envelope is spliced in as the relay would get it (its sealed payload is not walked by JSON.stringify again).
  return frame.k === 'e' ? `{"k":"e","e":${encodeFrame(frame.e)}}` : JSON.stringify(frame);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses one data-channel message; anything else is OPPIE_ERR_PROTOCOL (the link counts it and goes on). */
export function decodeChannelFrame(data: unknown): ChannelFrame {
  let v: unknown;
  try {
    v = JSON.parse(typeof data === 'string' ? data : decoder.decode(data as Uint8Array));
  } catch (err) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'a data-channel message is not JSON', { cause: err });
  }
  const o = (v ?? {}) as Record<string, unknown>;
  if (o.k === 'e') {
    const e = (o.e ?? {}) as Record<string, unknown>;
    if (typeof e.type === 'string' && typeof e.id === 'string') return { k: 'e', e: e as unknown as RelayFrameIn };
  } else if ((o.k === 'ping' || o.k === 'pong') && isCount(o.n) && typeof o.p === 'string' && isCount(o.r)) {
    return { k: o.k, n: o.n, p: o.p, r: o.r };
  } else if (o.k === 'credit' && isCount(o.r)) {
    return { k: 'credit', r: o.r };
  } else if (o.k === 'path' && typeof o.relay === 'boolean') {
    const rp = o.rp === 'udp' || o.rp === 'tcp' || o.rp === 'tls' ? o.rp : undefined;
    return rp === undefined ? { k: 'path', relay: o.relay } : { k: 'path', relay: o.relay, rp };
  }
  throw new OppieError('OPPIE_ERR_PROTOCOL', 'a data-channel message has an unknown shape');
}
