import type { AckStatus, PathName, RelayFrame, RoleName } from '@oppie/protocol';
import { CLOSE_CODES, ERROR_CODES, type ErrorCode } from '@oppie/protocol';
import type { WebSocket } from 'ws';
import type { DeviceClaims } from '../auth/types.js';
import { TokenBucket } from './token-bucket.js';

let frameCounter = 0;
/** Ids of relay-originated frames: unique per process, cheap, never confused with client ids (prefix "r"). */
export function relayFrameId(): string {
  frameCounter = (frameCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `r${frameCounter.toString(36)}`;
}

/** Settings shared by every connection (one object, referenced, not copied per connection). */
export interface ConnectionSettings {
  readonly envelopesPerSecond: number;
  readonly envelopeBurst: number;
  /** Hard bound of the socket's send buffer: above it the connection is closed with 4001. */
  readonly sendBufferMaxBytes: number;
  /** Bytes of received frames waiting to be handled before the socket stops reading (backpressure). */
  readonly inboundMaxBytes: number;
}

/**
 * One live, authenticated WebSocket of a device. Kept small: the relay holds tens of thousands of these, so no
 * per-connection timers or closures beyond the socket's own listeners (the hub runs one heartbeat sweep for all).
 */
export class Connection {
  readonly connectedAt: number;
  readonly bucket: TokenBucket;
  /** Cleared by each heartbeat sweep, set by the pong that answers the relay's ping. */
  alive = true;
  /** Set once the welcome is sent and in-flight envelopes of an older connection were handed back: delivery waits. */
  ready = false;
  /**
   * The last path reported about each peer (sessions by path, counted for the peers this device dials); created by
   * the first report, so idle connections carry nothing. Holds only devices of the account directory: a revoked
   * peer's entry goes with it.
   */
  peerPaths: Map<string, PathName> | undefined;
  /** The peer the device's last transport report was about. */
  private lastReported: string | undefined;
  /** Closed because the device connected again on another instance (which now owns its presence). */
  replacedElsewhere = false;
  stepUpAt: number | undefined;
  /** Expiry of the token that authenticates this connection (ms); an `auth` frame moves it. */
  expiresAt: number;
  /** Serialises frame handling so envelopes are processed in arrival order across async store calls. */
  tail: Promise<void> = Promise.resolve();
  /** Bytes received and not yet handled; the socket is paused above settings.inboundMaxBytes. */
  inboundBytes = 0;
  /** Since when delivery has been held back by a full send buffer (slow-consumer detection). */
  stalledSince: number | undefined;
  /** Pending acks by status; undefined when none are waiting (most of the time, so idle connections carry nothing). */
  acks: Map<AckStatus, string[]> | undefined;
  /** The close code the relay sent, once it decided to end the connection; undefined while open. */
  closedWith: number | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly id: string,
    readonly deviceId: string,
    readonly accountId: string,
    readonly role: RoleName,
    readonly ip: string,
    claims: DeviceClaims,
    readonly settings: ConnectionSettings,
    now: number,
  ) {
    this.connectedAt = now;
    this.stepUpAt = claims.stepUpAt;
    this.expiresAt = claims.expiresAt;
    this.bucket = new TokenBucket(settings.envelopesPerSecond, settings.envelopeBurst, now);
  }

  /** A transport report: the path to `peer` is `path` now. Returns whether the device's own {@link path} changed. */
  reported(peer: string, path: PathName): boolean {
    const before = this.path;
    this.peerPaths ??= new Map();
    this.peerPaths.set(peer, path);
    this.lastReported = peer;
    return this.path !== before;
  }

  /** `peer` left the account: what was reported about it is forgotten. Returns whether {@link path} changed. */
  forgetPeer(peer: string): boolean {
    const before = this.path;
    this.peerPaths?.delete(peer);
    return this.path !== before;
  }

  /** The path of the device's last report (`/api/sessions`, presence); the relay until it reports, or once that peer is gone. */
  get path(): PathName {
    return (this.lastReported === undefined ? undefined : this.peerPaths?.get(this.lastReported)) ?? 'relay';
  }

  get closing(): boolean {
    return this.closedWith !== undefined;
  }

  /** Sends a raw frame; a send buffer over its hard bound closes the connection (4001) instead of growing. */
  sendText(text: string): void {
    if (this.closing) return;
    this.ws.send(text);
    if (this.ws.bufferedAmount > this.settings.sendBufferMaxBytes) {
      this.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer: send buffer full');
    }
  }

  /** Sends a relay control frame. */
  sendFrame<T extends RelayFrame['type']>(type: T, payload: RelayFrame<T>['payload'], re?: string): void {
    if (this.closing) return;
    const frame: RelayFrame<T> = { type, id: relayFrameId(), timestamp: Date.now(), payload };
    if (re !== undefined) frame.re = re;
    this.sendText(JSON.stringify(frame));
  }

  sendError(code: ErrorCode, message: string | undefined, re?: string, type?: string): void {
    const payload: RelayFrame<'error'>['payload'] = { code, message: message ?? ERROR_CODES[code].message };
    if (type !== undefined) payload.type = type;
    this.sendFrame('error', payload, re);
  }

  /**
   * Acknowledges an accepted envelope. Acks are batched per event-loop turn (one frame per status, up to 512 ids):
   * a burst of envelopes read in one go costs one ack write instead of one each.
   */
  ack(id: string, status: AckStatus): void {
    if (this.acks === undefined) {
      this.acks = new Map();
      setImmediate(flushAcks, this);
    }
    const ids = this.acks.get(status);
    if (ids === undefined) this.acks.set(status, [id]);
    else ids.push(id);
  }

  /** Closes with a registry close code; the hub's close handler does the bookkeeping. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closedWith = code;
    this.ws.close(code, reason.slice(0, 120));
  }

  /** Drops the socket without a closing handshake (dead peer); `code` is what metrics record. */
  terminate(code: number): void {
    if (this.closedWith === undefined) this.closedWith = code;
    this.ws.terminate();
  }
}

const MAX_ACK_IDS = 512;

function flushAcks(conn: Connection): void {
  const batches = conn.acks;
  conn.acks = undefined;
  if (batches === undefined) return;
  for (const [status, ids] of batches) {
    for (let i = 0; i < ids.length; i += MAX_ACK_IDS) {
      const chunk = ids.slice(i, i + MAX_ACK_IDS);
      conn.sendFrame('ack', { ids: chunk, status }, chunk.length === 1 ? chunk[0] : undefined);
    }
  }
}
