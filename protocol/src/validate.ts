/**
 * Runtime validation of frames a device sends. Checks run cheapest first: size, JSON syntax, nesting depth, then the
 * compiled schema of the frame's own type (a lookup, not a union scan), so the hot path stays a few microseconds.
 */
import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import type { ErrorCode } from './codes.js';
import { DeviceControlEnvelopes, type DeviceEnvelope, RoutedEnvelopes } from './envelope.js';

export interface FrameLimits {
  /** Largest accepted frame, in bytes. */
  readonly maxFrameBytes: number;
  /** Deepest accepted JSON nesting (the envelope itself is depth 1). */
  readonly maxJsonDepth: number;
}

export type FrameResult =
  | { readonly ok: true; readonly envelope: DeviceEnvelope }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly message: string;
      /** The refused envelope's id and type, when they could be read, so the sender can match the error. */
      readonly id?: string;
      readonly type?: string;
    };

const checks = new Map<string, TypeCheck<TSchema>>();
for (const [type, schema] of Object.entries({ ...RoutedEnvelopes, ...DeviceControlEnvelopes })) {
  checks.set(type, TypeCompiler.Compile(schema));
}

/** Nesting depth of a parsed JSON value, walked without recursion, stopping as soon as `limit` is passed. */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth > limit) return true;
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const child of children) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

function refuse(code: ErrorCode, message: string, parsed?: unknown): FrameResult {
  let id: string | undefined;
  let type: string | undefined;
  if (parsed !== null && typeof parsed === 'object') {
    const p = parsed as { id?: unknown; type?: unknown };
    if (typeof p.id === 'string' && ID_RE.test(p.id)) id = p.id;
    if (typeof p.type === 'string' && p.type.length <= 32) type = p.type;
  }
  return { ok: false, code, message, ...(id !== undefined && { id }), ...(type !== undefined && { type }) };
}

/**
 * Parses and validates one text frame from a device.
 *
 * @param text the frame as received
 * @param byteLength its size on the wire (the caller has it already; measuring a string again costs a pass)
 * @example
 * const r = parseDeviceFrame(text, Buffer.byteLength(text), { maxFrameBytes: 1 << 20, maxJsonDepth: 32 });
 * if (!r.ok) sendError(r.code, r.id);
 */
export function parseDeviceFrame(text: string, byteLength: number, limits: FrameLimits): FrameResult {
  if (byteLength > limits.maxFrameBytes) {
    return refuse('RELAY_ERR_PAYLOAD_TOO_LARGE', `frame of ${byteLength} bytes exceeds ${limits.maxFrameBytes}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return refuse('RELAY_ERR_MALFORMED_JSON', (err as Error).message);
  }
  if (jsonDepthExceeds(parsed, limits.maxJsonDepth)) {
    return refuse('RELAY_ERR_JSON_TOO_DEEP', `JSON nested deeper than ${limits.maxJsonDepth}`, parsed);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return refuse('RELAY_ERR_ENVELOPE_INVALID', 'a frame must be a JSON object');
  }
  const type = (parsed as { type?: unknown }).type;
  const check = typeof type === 'string' ? checks.get(type) : undefined;
  if (check === undefined) {
    return refuse('RELAY_ERR_TYPE_NOT_ALLOWED', `type ${JSON.stringify(type)} may not be sent by a device`, parsed);
  }
  if (!check.Check(parsed)) {
    const first = check.Errors(parsed).First();
    const where = first ? `${first.path || '/'}: ${first.message}` : 'schema mismatch';
    return refuse('RELAY_ERR_ENVELOPE_INVALID', where, parsed);
  }
  return { ok: true, envelope: parsed as DeviceEnvelope };
}
