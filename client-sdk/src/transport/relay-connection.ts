/**
 * The relay WebSocket: one state field changed in one place, reconnect by policy and close code, an application
 * heartbeat (browsers cannot see the relay's pings), and a sequence of attempts where a late callback from a dead
 * attempt is ignored. It carries frames; what they mean is the client's business.
 */
import { shouldReconnect, TOKEN_SUBPROTOCOL_PREFIX, type WelcomePayload, WS_SUBPROTOCOL } from '@oppie/protocol';
import { OppieError } from '../errors.js';
import type { ConnectionState } from '../events.js';
import type { Platform, WebSocketLike } from '../platform.js';
import type { ReconnectPolicy } from '../reconnect.js';
import { encodeFrame } from '../wire.js';

export interface RelayFrameIn {
  type: string;
  id: string;
  re?: string;
  to?: string;
  seq?: number;
  metadata?: { deviceId: string; priority?: string };
  payload: unknown;
}

export interface RelayConnectionHooks {
  token(): Promise<string>;
  onState(from: ConnectionState, to: ConnectionState): void;
  onWelcome(welcome: WelcomePayload): void;
  onFrame(frame: RelayFrameIn): void;
  onError(err: OppieError): void;
}

export interface RelayConnectionOptions {
  readonly url: string;
  readonly platform: Platform;
  readonly policy: ReconnectPolicy;
  /** Application ping interval; the connection is recycled when a pong is this late. Default 15 s. */
  readonly heartbeatMs?: number;
}

let pingCounter = 0;
const WELCOME_TIMEOUT_MS = 10_000;
/** After a network change, how long the relay has to answer a ping before the connection is recycled. */
export const NETWORK_CHECK_MS = 2_000;

export class RelayConnection {
  private stateValue: ConnectionState = 'idle';
  private ws: WebSocketLike | undefined;
  private attempt = 0;
  private attemptId = 0;
  private timer: unknown;
  private heartbeat: unknown;
  private heartbeatEveryMs = 15_000;
  private awaitingPong = false;
  private welcomeTimer: unknown;

  constructor(
    private readonly opts: RelayConnectionOptions,
    private readonly hooks: RelayConnectionHooks,
  ) {}

  get state(): ConnectionState {
    return this.stateValue;
  }

  private setState(to: ConnectionState): void {
    const from = this.stateValue;
    if (from === to) return;
    this.stateValue = to;
    this.hooks.onState(from, to);
  }

  /** Opens the connection (or, while waiting to reconnect, reconnects now); the state tells how it goes. */
  start(): void {
    if (this.stateValue === 'open' || this.stateValue === 'connecting') return;
    if (this.stateValue === 'reconnecting') {
      this.resumeNow();
      return;
    }
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    void this.open();
  }

  private async open(): Promise<void> {
    const id = ++this.attemptId;
    let token: string;
    try {
      token = await this.hooks.token();
    } catch (err) {
      if (id !== this.attemptId) return;
      const e = err instanceof OppieError ? err : new OppieError('OPPIE_ERR_RELAY', undefined, { cause: err });
      this.hooks.onError(e);
      if (isPermanentAuthFailure(e)) return this.stop('closed');
      return this.retry();
    }
    if (id !== this.attemptId || this.stateValue === 'closed') return;
    const wsUrl = `${this.opts.url.replace(/^http/, 'ws')}/session`;
    let ws: WebSocketLike;
    try {
      ws = new this.opts.platform.WebSocket(wsUrl, [WS_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + token]);
    } catch (err) {
      this.hooks.onError(new OppieError('OPPIE_ERR_RELAY', `cannot open ${wsUrl}`, { cause: err }));
      return this.retry();
    }
    this.ws = ws;
    // A socket that opens but never gets its welcome (a proxy that accepted and stalled) is recycled.
    this.welcomeTimer = this.opts.platform.timers.setTimeout(() => {
      if (id === this.attemptId && this.stateValue !== 'open') this.recycle('no welcome');
    }, WELCOME_TIMEOUT_MS);
    ws.onmessage = (ev) => {
      if (id !== this.attemptId) return;
      this.received(ev.data);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (id !== this.attemptId) return;
      this.closed(ev.code, ev.reason);
    };
  }

  private received(data: unknown): void {
    // Any frame shows the connection alive: a pong queued behind a backlog must not get a busy socket recycled.
    this.awaitingPong = false;
    let frame: RelayFrameIn;
    try {
      frame = JSON.parse(String(data)) as RelayFrameIn;
    } catch {
      this.hooks.onError(new OppieError('OPPIE_ERR_PROTOCOL', 'the relay sent a frame that is not JSON'));
      return;
    }
    if (frame.type === 'welcome') {
      if (this.welcomeTimer !== undefined) this.opts.platform.timers.clearTimeout(this.welcomeTimer);
      this.welcomeTimer = undefined;
      this.attempt = 0;
      this.setState('open');
      this.startHeartbeat((frame.payload as WelcomePayload).heartbeatMs);
      this.hooks.onWelcome(frame.payload as WelcomePayload);
      return;
    }
    if (frame.type === 'pong') return;
    this.hooks.onFrame(frame);
  }

  private startHeartbeat(relayHeartbeatMs: number): void {
    this.stopHeartbeat();
    this.heartbeatEveryMs = this.opts.heartbeatMs ?? Math.min(15_000, relayHeartbeatMs);
    this.awaitingPong = false;
    this.heartbeat = this.opts.platform.timers.setTimeout(() => this.beat(), this.heartbeatEveryMs);
  }

  /** Pings the relay; a ping still unanswered at the next beat, `nextMs` later, recycles the connection. */
  private beat(nextMs = this.heartbeatEveryMs): void {
    this.heartbeat = undefined;
    if (this.stateValue !== 'open') return;
    if (this.awaitingPong) {
      // The relay (or the path to it) went quiet: recycle the connection instead of waiting for TCP to notice.
      this.recycle('heartbeat timeout');
      return;
    }
    this.awaitingPong = true;
    this.send({ type: 'ping', id: `ping-${++pingCounter}`, timestamp: this.opts.platform.now(), payload: {} });
    this.heartbeat = this.opts.platform.timers.setTimeout(() => this.beat(), nextMs);
  }

  /**
   * The network changed: a socket that looks open may be dead (its route is gone, and TCP will not say so for
   * minutes). A ping now, and the connection is recycled unless a frame comes within {@link NETWORK_CHECK_MS};
   * while reconnecting, the next attempt starts at once, and an attempt in flight starts over.
   */
  checkNow(): void {
    if (this.stateValue === 'open') {
      this.stopHeartbeat();
      this.awaitingPong = false;
      this.beat(NETWORK_CHECK_MS);
      return;
    }
    if (this.stateValue === 'reconnecting' && this.timer !== undefined) {
      this.resumeNow();
      return;
    }
    if (this.stateValue !== 'connecting' && this.stateValue !== 'reconnecting') return;
    // An attempt in flight (its token request or socket) may be stuck on the old route: start it over.
    this.dropSocket('network changed');
    void this.open();
  }

  /**
   * Gives up the socket and reconnects at once, without waiting for its close handshake: over a dead route that
   * never completes, and `ws` would hold the connection 30 s before it gives up on it.
   */
  private recycle(reason: string): void {
    this.attemptId++; // its late events belong to no attempt
    this.dropSocket(reason);
    this.closed(3000, reason);
  }

  /** Lets go of the socket (and its wait for a welcome) without a close handshake where the implementation can. */
  private dropSocket(reason: string): void {
    if (this.welcomeTimer !== undefined) this.opts.platform.timers.clearTimeout(this.welcomeTimer);
    this.welcomeTimer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    try {
      if (typeof ws?.terminate === 'function') ws.terminate();
      else ws?.close(3000, reason);
    } catch {
      // already closing: it is dropped either way
    }
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) this.opts.platform.timers.clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
  }

  private closed(code: number, reason: string): void {
    this.stopHeartbeat();
    if (this.welcomeTimer !== undefined) this.opts.platform.timers.clearTimeout(this.welcomeTimer);
    this.welcomeTimer = undefined;
    this.ws = undefined;
    if (this.stateValue === 'closed') return;
    if (code !== 3000 && !shouldReconnect(code)) {
      this.hooks.onError(
        new OppieError('OPPIE_ERR_CLOSED', `the relay closed the session for good (${code} ${reason})`),
      );
      this.stop('closed');
      return;
    }
    this.retry();
  }

  private retry(): void {
    const delay = this.opts.policy.nextDelayMs(this.attempt++);
    if (delay === null) {
      this.hooks.onError(new OppieError('OPPIE_ERR_CLOSED', 'gave up reconnecting'));
      this.stop('closed');
      return;
    }
    this.setState('reconnecting');
    this.timer = this.opts.platform.timers.setTimeout(() => {
      this.timer = undefined;
      void this.open();
    }, delay);
  }

  /** Reconnects now (browser `online`, `visibilitychange`), skipping the backoff wait. */
  resumeNow(): void {
    if (this.stateValue !== 'reconnecting' || this.timer === undefined) return;
    this.opts.platform.timers.clearTimeout(this.timer);
    this.timer = undefined;
    void this.open();
  }

  /** Sends a frame if the socket is open; returns whether it was handed to the socket. */
  send(frame: object): boolean {
    if (this.stateValue !== 'open' || this.ws === undefined || this.ws.readyState !== 1) return false;
    this.ws.send(encodeFrame(frame));
    return true;
  }

  stop(final: ConnectionState = 'closed'): void {
    this.attemptId++;
    this.stopHeartbeat();
    if (this.welcomeTimer !== undefined) this.opts.platform.timers.clearTimeout(this.welcomeTimer);
    this.welcomeTimer = undefined;
    if (this.timer !== undefined) this.opts.platform.timers.clearTimeout(this.timer);
    this.timer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000, 'client closing');
    this.setState(final);
  }
}

/** Refusals that no retry can fix: the device is gone or its key is not the registered one. */
const PERMANENT = new Set(['RELAY_ERR_DEVICE_REVOKED', 'RELAY_ERR_DEVICE_UNKNOWN', 'RELAY_ERR_SIGNATURE_INVALID']);

function isPermanentAuthFailure(e: OppieError): boolean {
  return e.code === 'OPPIE_ERR_AUTH' && (e.relayCode === undefined || PERMANENT.has(e.relayCode));
}
