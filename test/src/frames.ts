/**
 * Frames as the harness receives them, and the matching rules of `TestSocket.next()`.
 */
import type { RelayControlEnvelopes, RelayFrame, RoutedEnvelope, RoutedType } from '@oppie/protocol';

/**
 * Any frame read from the socket. A text frame that is not a JSON object becomes `{ type: '#invalid' }` and a binary
 * frame `{ type: '#binary' }`, so a test can wait for those too; `raw` holds the text or bytes as received.
 */
export interface Frame {
  readonly type: string;
  readonly id?: string;
  readonly re?: string;
  readonly to?: string;
  readonly timestamp?: number;
  readonly seq?: number;
  readonly ttl?: number;
  readonly metadata?: { readonly deviceId: string; readonly priority?: string; readonly sessionId?: string };
  readonly payload?: unknown;
}

/** A received frame and its wire form. */
export interface Received {
  readonly frame: Frame;
  readonly raw: string | Buffer;
  /** `performance.now()` when it arrived. */
  readonly at: number;
}

type RelayType = keyof typeof RelayControlEnvelopes;

/**
 * The frame type a `next(type)` call resolves with: relay control frames are typed by their payload, routed
 * envelopes as {@link RoutedEnvelope}.
 */
export type FrameOf<T extends string> = T extends RelayType
  ? RelayFrame<T>
  : T extends RoutedType
    ? RoutedEnvelope
    : Frame;

/** Parses a received message into a {@link Frame}; never throws. */
export function toFrame(data: Buffer, isBinary: boolean): Received {
  const at = performance.now();
  if (isBinary) return { frame: { type: '#binary' }, raw: data, at };
  const raw = data.toString('utf8');
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const f = parsed as { type?: unknown };
      if (typeof f.type === 'string') return { frame: parsed as Frame, raw, at };
    }
  } catch {
    // Not JSON: reported to the test as an '#invalid' frame rather than thrown inside a socket callback.
  }
  return { frame: { type: '#invalid' }, raw, at };
}

/** One line per frame for timeout messages: `ack re=chat-…-3 status=forwarded`. */
export function describeFrame(f: Frame): string {
  const parts = [f.type];
  if (f.re !== undefined) parts.push(`re=${f.re}`);
  else if (f.id !== undefined) parts.push(`id=${f.id}`);
  const p = f.payload as { code?: unknown; status?: unknown; deviceId?: unknown; online?: unknown } | undefined;
  if (p !== null && typeof p === 'object') {
    if (typeof p.code === 'string') parts.push(`code=${p.code}`);
    if (typeof p.status === 'string') parts.push(`status=${p.status}`);
    if (f.type === 'presence') parts.push(`${String(p.deviceId)}=${p.online ? 'online' : 'offline'}`);
  }
  return parts.join(' ');
}
