/**
 * Everything the SDK takes from its environment, injected: the core uses Web APIs only and never sniffs the runtime.
 * Browsers get `globalThis` defaults; sidecar-sdk passes Node implementations (ws, file storage).
 */

import { MemoryStore } from './memory-store.js';

/** Minimal WebSocket surface the SDK uses (the browser's WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** Drops the connection without a close handshake, where the implementation can (`ws` in Node; browsers cannot). */
  terminate?(): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketFactory = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * Async key-value storage for keys, tokens, pairings and the outbox (IndexedDB, a file, memory).
 *
 * A store may also take bytes (`setBytes` and `getBytes`, both or neither): the outbox then keeps each sealed frame
 * as its bytes instead of their base64url text, a third fewer bytes to store and no text to make for a frame that
 * goes over a data channel. A key holds what was last set under it; `getBytes` of a value set as text gives its UTF-8
 * bytes, and `get` of a value set as bytes their UTF-8 decoding. A store keeps a copy: once `setBytes` settles, the
 * caller may write over its array.
 *
 * @example
 * await store.setBytes?.('outbox/e/phone/0', record);
 * const back = await store.getBytes?.('outbox/e/phone/0'); // the same bytes, a new array
 */
export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix`, in no particular order. */
  keys(prefix: string): Promise<string[]>;
  /** Stores a copy of `value`'s bytes under `key` (`value` is not read after the returned promise settles). */
  setBytes?(key: string, value: Uint8Array): Promise<void>;
  /** The bytes under `key` (a value set as text: its UTF-8 bytes), in an array of the caller's. */
  getBytes?(key: string): Promise<Uint8Array | undefined>;
  /**
   * Deletes `keys` one after another in their order, stopping at the first failure, and settles once the deletes are
   * durable, with how many keys are gone (a missing key counts) and the failure that stopped it, if any. After a
   * crash the keys gone must be a prefix of `keys`: offer it only where storage keeps deletes in order (a journaling
   * file system does for one directory). The outbox deletes acknowledged frames with it, one durable sync for a
   * receipt's frames; without it, it awaits each `delete` in turn.
   */
  deleteInOrder?(keys: readonly string[]): Promise<{ deleted: number; error?: unknown }>;
}

export interface Timers {
  /** Runs `fn` after `ms`; 0 means the next turn of the event loop, after the frames of this one are handled. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const IMMEDIATE = Symbol('immediate');
type Immediate = { readonly [IMMEDIATE]: unknown };

/**
 * The runtime's timers, where a 0 ms timeout runs at `setImmediate` when the runtime has it (Node): Node runs
 * `setTimeout(fn, 0)` 1 ms later at the soonest, and the SDK's 0 ms timers (a round of receipts, the relay's acks)
 * mean "once this turn's frames are handled". A receipt then waited a millisecond, half of a message's round trip
 * through a relay on loopback (bench/RESULTS.md, 2026-12-03 07:40Z). Elsewhere (browsers) plain `setTimeout`.
 *
 * @example
 * const platform = defaultPlatform({ timers: runtimeTimers() }); // what defaultPlatform does anyway
 */
export function runtimeTimers(): Timers {
  const g = globalThis as {
    setImmediate?: (fn: () => void) => unknown;
    clearImmediate?: (handle: unknown) => void;
  };
  const { setImmediate, clearImmediate } = g;
  return {
    setTimeout: (fn, ms) =>
      ms <= 0 && setImmediate !== undefined && clearImmediate !== undefined
        ? ({ [IMMEDIATE]: setImmediate(fn) } satisfies Immediate)
        : globalThis.setTimeout(fn, ms),
    clearTimeout: (h) => {
      if (typeof h === 'object' && h !== null && IMMEDIATE in h) clearImmediate?.((h as Immediate)[IMMEDIATE]);
      else globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>);
    },
  };
}

import type { FrameCrypto } from './crypto/aead.js';
import type { Compression } from './delivery/compression.js';

/**
 * A WebRTC implementation (the browser's globals, or `@roamhq/wrtc` in Node): what simple-peer calls `wrtc`.
 * Without one the SDK stays on the relay. Its data channels' `send` must send a typed array's own bytes, from its
 * offset (the SDK sends views), as browsers and wrtc do.
 */
export interface RtcImplementation {
  readonly RTCPeerConnection: unknown;
  readonly RTCSessionDescription: unknown;
  readonly RTCIceCandidate: unknown;
}

export interface Platform {
  readonly WebSocket: WebSocketFactory;
  /** WebRTC for the direct path; undefined keeps every frame on the relay. */
  readonly rtc: RtcImplementation | undefined;
  readonly fetch: typeof globalThis.fetch;
  readonly storage: KeyValueStore;
  readonly timers: Timers;
  readonly now: () => number;
  /** A faster AEAD and base64url codec for frames (same bytes on the wire); libsodium and the JS codec when absent. */
  readonly frameCrypto?: Partial<FrameCrypto>;
  /** Raw deflate for chunked payloads (same bytes on the wire); the Web `CompressionStream` when absent. */
  readonly compression?: Compression;
}

export { MEMORY_STORE_BYTES_FROM, MemoryStore } from './memory-store.js';

/** Defaults from `globalThis` for whatever the caller does not inject. */
export function defaultPlatform(overrides: Partial<Platform> = {}): Platform {
  const g = globalThis as unknown as {
    WebSocket?: WebSocketFactory;
    fetch?: typeof globalThis.fetch;
    RTCPeerConnection?: unknown;
    RTCSessionDescription?: unknown;
    RTCIceCandidate?: unknown;
  };
  const WebSocket = overrides.WebSocket ?? g.WebSocket;
  const fetchFn = overrides.fetch ?? g.fetch?.bind(globalThis);
  if (WebSocket === undefined) throw new TypeError('no WebSocket implementation: pass platform.WebSocket');
  if (fetchFn === undefined) throw new TypeError('no fetch implementation: pass platform.fetch');
  const rtc =
    'rtc' in overrides
      ? overrides.rtc
      : g.RTCPeerConnection !== undefined
        ? {
            RTCPeerConnection: g.RTCPeerConnection,
            RTCSessionDescription: g.RTCSessionDescription,
            RTCIceCandidate: g.RTCIceCandidate,
          }
        : undefined;
  return {
    WebSocket,
    rtc,
    fetch: fetchFn,
    storage: overrides.storage ?? new MemoryStore(),
    timers: overrides.timers ?? runtimeTimers(),
    now: overrides.now ?? (() => Date.now()),
    ...(overrides.frameCrypto !== undefined && { frameCrypto: overrides.frameCrypto }),
    ...(overrides.compression !== undefined && { compression: overrides.compression }),
  };
}
