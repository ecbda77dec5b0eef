/**
 * Bench clients. Both targets get the same client code: the same envelope text, one JSON.parse per received frame.
 * The relay protocol adds what a real client must do there: the token on the upgrade, waiting for the welcome, and
 * acknowledging routed envelopes (batched per event-loop turn, at most 512 ids per ack, like an SDK).
 */
import { TOKEN_SUBPROTOCOL_PREFIX, WS_SUBPROTOCOL } from '@oppie/protocol';
import { sessionUrl } from '@oppie/test-kit';
import WebSocket, { type RawData } from 'ws';
import type { ServerKind } from './child.js';

/** A device as the bench knows it; `token` only for the relay. */
export interface BenchDevice {
  readonly deviceId: string;
  readonly token?: string;
}

export interface Target {
  readonly kind: ServerKind;
  readonly url: string;
}

/** A routed envelope as received: only what the bench reads. */
export interface Routed {
  readonly id: string;
  readonly payload: string;
}

/** The envelope text every target receives: a valid relay `chat` envelope. */
export function envelopeText(id: string, from: string, to: string, payload: string): string {
  return JSON.stringify({ type: 'chat', id, timestamp: Date.now(), to, metadata: { deviceId: from }, payload });
}

/**
 * Opens a device's socket and resolves once it is usable: on `open` for the baseline, on the welcome frame for the
 * relay. Rejects on an error, a close, or after `timeoutMs`.
 */
export function openSocket(
  target: Target,
  device: BenchDevice,
  localAddress?: string,
  timeoutMs = 10_000,
): Promise<WebSocket> {
  const relay = target.kind === 'relay';
  const url = relay ? sessionUrl(target.url) : sessionUrl(target.url, '/session', { id: device.deviceId });
  const protocols = relay ? [WS_SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${device.token ?? ''}`] : [];
  const ws = new WebSocket(url, protocols, {
    handshakeTimeout: timeoutMs,
    ...(localAddress !== undefined && { localAddress }),
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`connect ${device.deviceId}: no session within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const done = () => {
      clearTimeout(timer);
      ws.off('open', onOpen);
      ws.off('message', onFirst);
      ws.off('close', onClose);
      ws.off('error', fail);
    };
    function fail(err: Error) {
      done();
      ws.on('error', () => {});
      ws.terminate();
      reject(err);
    }
    const onOpen = () => {
      if (relay) return;
      done();
      resolve(ws);
    };
    const onFirst = (data: RawData) => {
      const text = data.toString();
      if (text.includes('"type":"welcome"')) {
        done();
        resolve(ws);
      } else fail(new Error(`connect ${device.deviceId}: first frame was not a welcome: ${text.slice(0, 200)}`));
    };
    const onClose = (code: number, reason: Buffer) =>
      fail(new Error(`connect ${device.deviceId}: closed ${code} ${reason.toString()}`));
    ws.on('open', onOpen);
    ws.on('message', onFirst);
    ws.on('close', onClose);
    ws.on('error', fail);
  });
}

/** One side of a measured conversation. */
export class BenchPeer {
  /** Called for every routed envelope received. */
  onRouted: (env: Routed) => void = () => {};
  /** Called for an error frame or a socket close; a bench phase fails on it. */
  onFailure: (message: string) => void = () => {};
  private readonly pendingAcks: string[] = [];
  private flushScheduled = false;
  private counter = 0;

  constructor(
    readonly ws: WebSocket,
    readonly deviceId: string,
    /** Whether the protocol needs device acks (the relay does, the baseline does not). */
    readonly acks: boolean,
  ) {
    ws.on('message', (data: RawData) => this.onMessage(data.toString()));
    ws.on('close', (code: number, reason: Buffer) => this.onFailure(`${deviceId} closed ${code} ${reason.toString()}`));
    ws.on('error', (err: Error) => this.onFailure(`${deviceId}: ${err.message}`));
  }

  /** Sends one envelope to `to`; returns its size in bytes (ASCII JSON, so length is bytes). */
  send(id: string, to: string, payload: string): number {
    const text = envelopeText(id, this.deviceId, to, payload);
    this.ws.send(text);
    return text.length;
  }

  close(): void {
    this.ws.removeAllListeners('close');
    this.ws.on('error', () => {});
    this.ws.terminate();
  }

  private onMessage(text: string): void {
    const f = JSON.parse(text) as { type: string; id?: string; to?: string; payload?: unknown; re?: string };
    if (f.to !== undefined && typeof f.id === 'string') {
      if (this.acks) this.queueAck(f.id);
      this.onRouted({ id: f.id, payload: f.payload as string });
    } else if (f.type === 'error' || f.type === 'dropped' || f.type === 'expired') {
      this.onFailure(`${this.deviceId} received ${text.slice(0, 300)}`);
    }
  }

  private queueAck(id: string): void {
    this.pendingAcks.push(id);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      while (this.pendingAcks.length > 0) {
        const ids = this.pendingAcks.splice(0, 512);
        this.counter += 1;
        this.ws.send(JSON.stringify({ type: 'ack', id: `k-${this.counter}`, timestamp: Date.now(), payload: { ids } }));
      }
    });
  }
}
