import {
  type Compression,
  type Platform,
  type RtcImplementation,
  runtimeTimers,
  type WebSocketLike,
} from '@oppie/client-sdk';
import WebSocket from 'ws';
import { workerCompression } from './deflate-thread.js';
import { FileStore } from './file-store.js';
import { nodeFrameCryptoBest } from './node-frame-crypto.js';
import { loadNodeRtc } from './node-rtc.js';

/** Largest frame the sidecar accepts from the relay; the relay's own frame limit is 1 MiB. */
export const DEFAULT_MAX_PAYLOAD = 4 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 15_000;

/**
 * A `ws` client socket with the browser WebSocket surface the SDK uses: `onmessage` gets `{ data: string }` for
 * text frames (an `ArrayBuffer` for binary ones, as a browser with `binaryType = 'arraybuffer'` would), and
 * `onclose` gets `{ code, reason }` with the reason as a string.
 *
 * @example
 * const ws = new NodeWebSocket('ws://127.0.0.1:8080/session', ['oppie.v1']);
 * ws.onmessage = (ev) => console.log(ev.data);
 */
export class NodeWebSocket implements WebSocketLike {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  binaryType = 'arraybuffer';
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  private readonly socket: WebSocket;

  constructor(url: string, protocols?: string | string[], maxPayload = DEFAULT_MAX_PAYLOAD) {
    this.socket = new WebSocket(url, protocols, { maxPayload, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    this.socket.on('open', () => this.onopen?.({ type: 'open' }));
    this.socket.on('message', (data, isBinary) => {
      this.onmessage?.({ data: isBinary ? toArrayBuffer(data) : rawToString(data) });
    });
    this.socket.on('close', (code, reason) => this.onclose?.({ code, reason: reason.toString('utf8') }));
    this.socket.on('error', (error) => this.onerror?.({ type: 'error', error, message: error.message }));
  }

  get readyState(): number {
    return this.socket.readyState;
  }

  get protocol(): string {
    return this.socket.protocol;
  }

  send(data: string): void {
    this.socket.send(data);
  }

  close(code?: number, reason?: string): void {
    // A browser socket may be closed while connecting; ws would throw, so terminate the attempt instead.
    if (this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
    else this.socket.close(code, reason);
  }

  /** Drops the connection without a close handshake (the SDK uses it for a socket whose route is dead). */
  terminate(): void {
    this.socket.terminate();
  }
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function toArrayBuffer(data: WebSocket.RawData): ArrayBuffer {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

export interface NodePlatformOptions {
  /** Directory for the device identity, tokens, pairings and the outbox (created with mode 0700). */
  readonly dataDir: string;
  /** Largest frame accepted from the relay, in bytes. */
  readonly maxPayload?: number;
  /** WebRTC for the direct path. Default: `@roamhq/wrtc` when it loads; `false` keeps every frame on the relay. */
  readonly rtc?: RtcImplementation | false;
  /**
   * Raw deflate for large messages. Default: {@link workerCompression} (zlib, payloads from 16 KiB on deflated on a
   * worker thread when the machine has two CPUs or more); `nodeCompression(zlib)` keeps it all on the event loop.
   */
  readonly compression?: Compression;
}

/**
 * The Node {@link Platform} for the client SDK: `ws` sockets, global `fetch`, a {@link FileStore} in `dataDir`,
 * `@roamhq/wrtc` for the direct path, OpenSSL for the frame AEAD, Node timers (`runtimeTimers`) and `Date.now`.
 *
 * @example
 * const client = await OppieClient.create({
 *   relayUrl: 'http://127.0.0.1:8080', role: 'sidecar', name: 'workstation',
 *   platform: nodePlatform({ dataDir: '/home/me/.oppie-sidecar' }),
 * });
 */
export function nodePlatform(opts: NodePlatformOptions): Platform {
  if (typeof opts?.dataDir !== 'string' || opts.dataDir === '') {
    throw new TypeError('nodePlatform: dataDir must be a non-empty path');
  }
  const maxPayload = opts.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  if (!Number.isInteger(maxPayload) || maxPayload <= 0) {
    throw new TypeError('nodePlatform: maxPayload must be a positive integer');
  }
  const Socket: Platform['WebSocket'] =
    maxPayload === DEFAULT_MAX_PAYLOAD
      ? NodeWebSocket
      : class extends NodeWebSocket {
          constructor(url: string, protocols?: string | string[]) {
            super(url, protocols, maxPayload);
          }
        };
  return {
    WebSocket: Socket,
    rtc: opts.rtc === false ? undefined : (opts.rtc ?? loadNodeRtc().rtc),
    fetch: globalThis.fetch.bind(globalThis),
    storage: new FileStore(opts.dataDir),
    // A 0 ms timer (a round of receipts) at setImmediate: Node's setTimeout(fn, 0) waits 1 ms.
    timers: runtimeTimers(),
    now: () => Date.now(),
    // Native libsodium (or OpenSSL where it has no build): the same bytes as the WebAssembly build, faster at every size.
    frameCrypto: nodeFrameCryptoBest().frameCrypto,
    // zlib's raw deflate: the bytes CompressionStream makes, with less overhead per payload and a native output bound;
    // large payloads are deflated on a thread of its own, off the event loop.
    compression: opts.compression ?? workerCompression(),
  };
}
