/**
 * Builders for wire envelopes. They produce plain objects in the protocol's shape, so a test can also take one apart
 * and break it on purpose before sending it.
 */
import { randomBytes } from 'node:crypto';
import type { Priority, RoutedEnvelope, RoutedType } from '@oppie/protocol';

let counter = 0;
const runId = randomBytes(4).toString('hex');

/**
 * A unique envelope id (`^[A-Za-z0-9_.:-]{1,64}$`), unique across the process and across runs.
 *
 * @example
 * uniqueId('chat'); // 'chat-1a2b3c4d-17'
 */
export function uniqueId(prefix = 'e'): string {
  counter += 1;
  return `${prefix}-${runId}-${counter}`;
}

/** Encodes a payload as the base64url "ciphertext" the relay carries; a string is taken as UTF-8. */
export function encodePayload(payload: string | Uint8Array): string {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  // The schema needs at least one character; an empty payload travels as one padding byte.
  return bytes.length === 0 ? '=' : bytes.toString('base64url');
}

/** Decodes a received envelope's payload back to UTF-8 text (the inverse of {@link encodePayload} for strings). */
export function decodePayload(envelope: { payload?: unknown }): string {
  if (typeof envelope.payload !== 'string') throw new TypeError('envelope payload is not a string');
  return envelope.payload === '=' ? '' : Buffer.from(envelope.payload, 'base64url').toString('utf8');
}

/** Optional fields of a routed envelope; anything not given gets a valid default. */
export interface RoutedExtra {
  readonly id?: string;
  readonly timestamp?: number;
  readonly seq?: number;
  readonly ttl?: number;
  readonly re?: string;
  readonly priority?: Priority;
  readonly sessionId?: string;
}

/**
 * A valid routed envelope from `from` to `to`.
 *
 * @example
 * const env = routedEnvelope('approve', phone.deviceId, sidecar.deviceId, 'yes', { priority: 'high' });
 */
export function routedEnvelope(
  type: RoutedType,
  from: string,
  to: string,
  payload: string | Uint8Array,
  extra: RoutedExtra = {},
): RoutedEnvelope {
  const metadata: RoutedEnvelope['metadata'] = { deviceId: from };
  if (extra.priority !== undefined) metadata.priority = extra.priority;
  if (extra.sessionId !== undefined) metadata.sessionId = extra.sessionId;
  const env: RoutedEnvelope = {
    type,
    id: extra.id ?? uniqueId(type),
    timestamp: extra.timestamp ?? Date.now(),
    to,
    metadata,
    payload: encodePayload(payload),
  };
  if (extra.seq !== undefined) env.seq = extra.seq;
  if (extra.ttl !== undefined) env.ttl = extra.ttl;
  if (extra.re !== undefined) env.re = extra.re;
  return env;
}

/** A device ack for envelopes it received: `{ type: 'ack', id, timestamp, payload: { ids } }`. */
export function deviceAck(ids: readonly string[]): {
  type: 'ack';
  id: string;
  timestamp: number;
  payload: { ids: string[] };
} {
  return { type: 'ack', id: uniqueId('ack'), timestamp: Date.now(), payload: { ids: [...ids] } };
}
