/**
 * TestSocket: one device's raw WebSocket to the relay. It buffers every frame, lets a test wait for the next frame
 * that matches, and optionally acknowledges routed envelopes like a well-behaved SDK.
 */
import { isRoutedType, type RoutedType } from '@oppie/protocol';
import type WebSocket from 'ws';
import { deviceAck, type RoutedExtra, routedEnvelope } from './envelopes.js';
import { TestKitError } from './errors.js';
import { describeFrame, type Frame, type FrameOf, type Received, toFrame } from './frames.js';

/** How a socket ended. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** Extra test on a frame already matched by type. */
export type FramePredicate<F = Frame> = (frame: F) => boolean;

interface Waiter {
  readonly type: string | undefined;
  readonly predicate: FramePredicate | undefined;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const HISTORY = 200;
const DEFAULT_WAIT_MS = 5_000;

/**
 * @example
 * const a = await connectDevice(url, phone.token, { autoAck: true });
 * const sent = a.chat(sidecar.deviceId, 'hello');
 * const ack = await a.next('ack', (f) => f.payload.ids.includes(sent.id));
 * expect(ack.payload.status).toBe('forwarded');
 */
export class TestSocket {
  /** The underlying `ws` socket, for tests that need the transport itself (pings, pause, terminate). */
  readonly ws: WebSocket;
  /** Resolves once the socket has closed, with the close code and reason. */
  readonly closed: Promise<CloseInfo>;
  /** Every frame received, oldest first, including consumed ones (last 200). */
  readonly history: Received[] = [];
  /** The device's own id, known from the welcome frame or from the caller. */
  deviceId: string | undefined;
  /** Whether routed envelopes are acknowledged on arrival. */
  autoAck: boolean;
  private readonly buffer: Frame[] = [];
  private readonly waiters: Waiter[] = [];
  private closeInfo: CloseInfo | undefined;

  constructor(ws: WebSocket, opts: { deviceId?: string | undefined; autoAck?: boolean | undefined } = {}) {
    this.ws = ws;
    this.deviceId = opts.deviceId;
    this.autoAck = opts.autoAck ?? false;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(toFrame(data, isBinary)));
    // Errors surface as the close that follows; a listener keeps them from crashing the test process.
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(this.failure('TESTKIT_CLOSED', `socket closed (${code} ${this.closeInfo.reason})`, w));
        }
        resolve(this.closeInfo);
      });
    });
  }

  /** Whether the socket is open. */
  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** Sends an object as one JSON text frame and returns it. */
  send<T extends object>(envelope: T): T {
    this.ws.send(JSON.stringify(envelope));
    return envelope;
  }

  /** Sends raw bytes: a string as a text frame, a Buffer as a binary frame. */
  sendRaw(data: string | Buffer): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  /** Sends a routed envelope of any type to `to`, stamped with this device's id. */
  routed(type: RoutedType, to: string, payload: string | Uint8Array, extra?: RoutedExtra) {
    return this.send(routedEnvelope(type, this.ownId(), to, payload, extra));
  }

  /**
   * Sends a valid `chat` envelope with a unique id; a string payload is sent as base64url UTF-8.
   *
   * @example
   * const env = a.chat(b.deviceId, 'hi', { priority: 'high' });
   */
  chat(to: string, payload: string | Uint8Array, extra?: RoutedExtra) {
    return this.routed('chat', to, payload, extra);
  }

  /** Acknowledges received envelopes to the relay. */
  ack(ids: readonly string[]) {
    return this.send(deviceAck(ids));
  }

  /**
   * Resolves with the next frame of `type` (any type when omitted) that passes `predicate`, consuming it. Frames that
   * do not match stay buffered for later calls. Rejects with `TESTKIT_TIMEOUT` (listing what was received) or
   * `TESTKIT_CLOSED`.
   */
  next<T extends string>(type: T, predicate?: FramePredicate<FrameOf<T>>, timeoutMs?: number): Promise<FrameOf<T>>;
  next(type?: undefined, predicate?: FramePredicate, timeoutMs?: number): Promise<Frame>;
  next(type?: string, predicate?: FramePredicate<never>, timeoutMs = DEFAULT_WAIT_MS): Promise<Frame> {
    const pred = predicate as FramePredicate | undefined;
    const i = this.buffer.findIndex((f) => matches(f, type, pred));
    if (i !== -1) return Promise.resolve(this.buffer.splice(i, 1)[0] as Frame);
    return new Promise((resolve, reject) => {
      const shell = { type, predicate: pred };
      if (this.closeInfo !== undefined) {
        const { code, reason } = this.closeInfo;
        reject(this.failure('TESTKIT_CLOSED', `socket already closed (${code} ${reason})`, shell));
        return;
      }
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(this.failure('TESTKIT_TIMEOUT', `timed out after ${timeoutMs} ms`, shell));
      }, timeoutMs);
      const waiter: Waiter = { ...shell, resolve, reject, timer };
      this.waiters.push(waiter);
    });
  }

  /** Same as {@link next}; reads better when the predicate does the work. */
  waitFor<T extends string>(type: T, predicate?: FramePredicate<FrameOf<T>>, timeoutMs?: number): Promise<FrameOf<T>> {
    return this.next(type, predicate, timeoutMs);
  }

  /** The relay's ack naming envelope `id`. */
  ackFor(id: string, timeoutMs?: number) {
    return this.next('ack', (f) => f.re === id || f.payload.ids.includes(id), timeoutMs);
  }

  /** The relay's error about envelope `id`. */
  errorFor(id: string, timeoutMs?: number) {
    return this.next('error', (f) => f.re === id, timeoutMs);
  }

  /**
   * Resolves if no matching frame arrives within `ms`; rejects with the frame otherwise. A matching frame that
   * was already buffered fails at once.
   */
  async expectNone(type?: string, predicate?: FramePredicate, ms = 200): Promise<void> {
    let frame: Frame | undefined;
    try {
      frame = await (type === undefined ? this.next(undefined, predicate, ms) : this.next(type, predicate, ms));
    } catch (err) {
      if (err instanceof TestKitError && (err.code === 'TESTKIT_TIMEOUT' || err.code === 'TESTKIT_CLOSED')) return;
      throw err;
    }
    throw new Error(`expected no ${type ?? 'frame'} but received: ${describeFrame(frame)}`);
  }

  /** Returns and clears the frames received but not consumed. */
  drain(): Frame[] {
    return this.buffer.splice(0);
  }

  /** Closes the socket (terminating it if the close handshake stalls) and resolves with how it ended. */
  async close(code = 1000, reason = '', timeoutMs = 2_000): Promise<CloseInfo> {
    if (this.closeInfo !== undefined) return this.closeInfo;
    if (this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
    else this.ws.close(code, reason);
    const timer = setTimeout(() => this.ws.terminate(), timeoutMs);
    const info = await this.closed;
    clearTimeout(timer);
    return info;
  }

  private ownId(): string {
    if (this.deviceId === undefined) throw new Error('device id unknown: connect with waitForWelcome or pass deviceId');
    return this.deviceId;
  }

  private onMessage(received: Received): void {
    this.history.push(received);
    if (this.history.length > HISTORY) this.history.shift();
    const { frame } = received;
    if (this.autoAck && isRoutedType(frame.type) && typeof frame.id === 'string') this.ack([frame.id]);
    const i = this.waiters.findIndex((w) => matches(frame, w.type, w.predicate));
    if (i === -1) {
      this.buffer.push(frame);
      return;
    }
    const [w] = this.waiters.splice(i, 1) as [Waiter];
    clearTimeout(w.timer);
    w.resolve(frame);
  }

  private failure(
    code: 'TESTKIT_TIMEOUT' | 'TESTKIT_CLOSED',
    why: string,
    w: { type: string | undefined; predicate: FramePredicate | undefined },
  ): TestKitError {
    const wanted = `${w.type ?? 'any frame'}${w.predicate ? ' matching the predicate' : ''}`;
    const seen = this.history.map((r) => describeFrame(r.frame));
    const list = seen.length === 0 ? 'nothing' : seen.slice(-30).join('; ');
    const who = this.deviceId ?? 'unknown device';
    return new TestKitError(code, `${who}: waiting for ${wanted}: ${why}; received: ${list}`);
  }
}

function matches(f: Frame, type: string | undefined, predicate: FramePredicate | undefined): boolean {
  if (type !== undefined && f.type !== type) return false;
  if (predicate === undefined) return true;
  try {
    return predicate(f);
  } catch {
    // A predicate that trips over a frame of an unexpected shape simply does not match it.
    return false;
  }
}
