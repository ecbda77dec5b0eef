/**
 * Message types and their delivery classes.
 *
 * - application types carry end-to-end encrypted payloads between the devices of one account; the relay routes,
 *   queues and orders them but cannot read them.
 * - routed control types (`signal`, `receipt`) are also device-to-device and opaque, with their own TTL rules.
 * - relay control types are between a device and the relay.
 */

export const APPLICATION_TYPES = ['runPlan', 'chat', 'progress', 'diff', 'recover', 'approve'] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

/** Device-to-device types other than application frames. */
export const ROUTED_CONTROL_TYPES = ['signal', 'receipt', 'pair'] as const;
export type RoutedControlType = (typeof ROUTED_CONTROL_TYPES)[number];

/** Types a device sends to the relay itself. */
export const DEVICE_CONTROL_TYPES = ['hello', 'ack', 'ping', 'auth', 'transport'] as const;
export type DeviceControlType = (typeof DEVICE_CONTROL_TYPES)[number];

/** Types only the relay sends. */
export const RELAY_CONTROL_TYPES = ['welcome', 'ack', 'pong', 'error', 'presence', 'dropped', 'expired'] as const;
export type RelayControlType = (typeof RELAY_CONTROL_TYPES)[number];

export type RoutedType = ApplicationType | RoutedControlType;
export type MessageType = RoutedType | DeviceControlType | RelayControlType;

export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Queue drain rank: lower drains first. */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = { high: 0, normal: 1, low: 2 };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface RouteRule {
  readonly priority: Priority;
  /** TTL used when the envelope gives none, in milliseconds. */
  readonly defaultTtlMs: number;
  /** A hard cap for this type regardless of the relay-wide cap (signals are useless when stale). */
  readonly maxTtlMs?: number;
}

/** Default priority and TTL per routed type. A sender may override both within the caps. */
export const ROUTE_RULES: Readonly<Record<RoutedType, RouteRule>> = {
  approve: { priority: 'high', defaultTtlMs: 1 * HOUR },
  recover: { priority: 'high', defaultTtlMs: 24 * HOUR },
  chat: { priority: 'normal', defaultTtlMs: 24 * HOUR },
  runPlan: { priority: 'normal', defaultTtlMs: 24 * HOUR },
  progress: { priority: 'low', defaultTtlMs: 1 * HOUR },
  diff: { priority: 'low', defaultTtlMs: 24 * HOUR },
  signal: { priority: 'high', defaultTtlMs: 15_000, maxTtlMs: 30_000 },
  receipt: { priority: 'normal', defaultTtlMs: 24 * HOUR },
  pair: { priority: 'high', defaultTtlMs: 10 * MINUTE, maxTtlMs: 1 * HOUR },
};

const routed = new Set<string>([...APPLICATION_TYPES, ...ROUTED_CONTROL_TYPES]);
const application = new Set<string>(APPLICATION_TYPES);

export function isRoutedType(type: string): type is RoutedType {
  return routed.has(type);
}

export function isApplicationType(type: string): type is ApplicationType {
  return application.has(type);
}

/**
 * Which of two paired devices dials the direct path: the one with the smaller id. It alone reports an attempt's
 * outcome, and the relay counts outcomes from it only, so each attempt is counted once.
 *
 * @example
 * if (dialsDirectPath(selfId, peerId)) startAttempt(peerId);
 */
export function dialsDirectPath(deviceId: string, peer: string): boolean {
  return deviceId < peer;
}
