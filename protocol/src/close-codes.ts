/**
 * WebSocket close codes. As in Centrifugo, the range tells a client what to do without knowing every code:
 *
 * - 1000-2999: standard codes (RFC 6455). 1001 (going away) and 1006 (abnormal) mean "reconnect".
 *   1009 (message too big) is sent by the WebSocket layer for a frame above the hard frame limit.
 * - 4000-4499: the relay closed the connection for a transient reason: **reconnect** with backoff.
 * - 4500-4999: the relay closed it for a permanent reason: **do not reconnect** until something changes
 *   (a new pairing, a new device key, the user's action).
 */
export const CLOSE_CODES = {
  /** The relay is shutting down or draining; reconnect (another instance will take over). */
  SHUTTING_DOWN: 4000,
  /** The connection did not keep up with its traffic; its undelivered frames stay queued. */
  SLOW_CONSUMER: 4001,
  /** The relay saw no pong for its pings within the heartbeat window. */
  HEARTBEAT_TIMEOUT: 4002,
  /** The relay's store is unavailable; reconnect later. */
  STORE_UNAVAILABLE: 4003,
  /** The relay hit an internal error on this connection; reconnect. */
  INTERNAL: 4004,
  /** The connection's token expired without an `auth` refresh; reconnect with a fresh token. */
  TOKEN_EXPIRED: 4005,
  /** The device was revoked; its tokens are refused from now on. */
  DEVICE_REVOKED: 4500,
  /** A newer connection of the same device replaced this one ("newest wins"). */
  SESSION_REPLACED: 4501,
} as const;

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

export const RECONNECT_RANGE = { min: 4000, max: 4499 } as const;
export const NO_RECONNECT_RANGE = { min: 4500, max: 4999 } as const;

/**
 * Whether a client should reconnect after a close with this code.
 *
 * @example
 * ws.onclose = (ev) => { if (shouldReconnect(ev.code)) scheduleReconnect(); };
 */
export function shouldReconnect(code: number): boolean {
  if (code >= NO_RECONNECT_RANGE.min && code <= NO_RECONNECT_RANGE.max) return false;
  // 1008 (policy violation) is what a standards-only server would send for a refused session.
  if (code === 1008) return false;
  return true;
}
