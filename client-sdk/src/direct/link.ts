/**
 * One attempt at a data channel to one peer, from the first signal to its close: a simple-peer connection, the
 * encrypted ping/pong that must pass before a frame is trusted to it, heartbeats that notice a quiet channel, the
 * application-level flow-control window, and the attempt's own timer (ICE does not report failure when TURN is
 * unreachable, so the link gives up by itself). A link is never reused: a new attempt is a new link.
 */
import type { UpgradeOutcome } from '@oppie/protocol';
import SimplePeer, { type SimplePeerInstance } from 'simple-peer';
import type { Base64url } from '../crypto/aead.js';
import type { FrameHeader, PeerSession } from '../crypto/session.js';
import { FEATURE_PACKED } from '../delivery/packed-strings.js';
import type { RtcImplementation, Timers } from '../platform.js';
import type { RelayFrameIn } from '../transport/relay-connection.js';
import {
  BATCH,
  BATCH_BYTES,
  Batcher,
  DEFAULT_PEER_MESSAGE_BYTES,
  decodeBatch,
  FEATURE_BATCH,
  peerMessageBytes,
} from './channel-batch.js';
import {
  type ChannelFrame,
  decodeChannelFrame,
  encodeChannelFrame,
  encodeCreditBinary,
  encodeEnvelopeBinary,
  FEATURE_CREDIT,
} from './channel-frames.js';
import { CreditCounter, FlowWindow } from './flow-window.js';
import { type SelectedPath, selectedPath } from './selected-path.js';

/** What this SDK reads beyond the first SDKs, as feature bits in its pings and pongs. */
const FEATURES = FEATURE_BATCH | FEATURE_PACKED | FEATURE_CREDIT;

/** Data-channel messages above this never go on the channel (wrtc closes it on a message over 256 KiB). */
export const MAX_CHANNEL_MESSAGE = 200 * 1024;

export type LinkState = 'connecting' | 'open' | 'closed';

/** Why a link ended: an upgrade outcome while connecting, `quiet` or `closed` once it had been open. */
export type LinkEnd = Exclude<UpgradeOutcome, 'upgraded'> | 'quiet' | 'replaced' | 'stopped';

export interface LinkOptions {
  readonly initiator: boolean;
  /** Chosen by the initiator; binds signals and probes to this attempt. */
  readonly attempt: string;
  readonly selfId: string;
  readonly peerId: string;
  readonly session: PeerSession;
  readonly rtc: RtcImplementation;
  readonly iceServers: readonly unknown[];
  readonly iceTransportPolicy: 'all' | 'relay';
  readonly timers: Timers;
  readonly now: () => number;
  readonly upgradeTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly quietMs: number;
  readonly windowBytes: number;
  /** Turns a sealed payload into the bytes a binary channel message carries. */
  readonly base64url: Base64url;
}

export interface LinkHooks {
  /** A signal (SDP or candidate) to seal and route to the peer through the relay. */
  signal(data: unknown): void;
  /** The probe passed: frames may use the channel. */
  open(path: SelectedPath): void;
  /** Called once, whatever ended it. */
  closed(end: LinkEnd, wasOpen: boolean): void;
  /** A routed envelope from the channel. A payload of bytes is a view of the message, handed over once: decrypted over. */
  envelope(frame: RelayFrameIn): void;
  /** A message on the channel that could not be parsed or verified (counted, then ignored). */
  bad(err: unknown): void;
}

const PROBE = new Uint8Array([0x70]);
/** How long to wait for the peer's view of the path after our probe passed, before opening on our view alone. */
const PEER_PATH_WAIT_MS = 1_500;
/** Our view of the path when our stats fail or come too late: direct (the peer's `path` still marks a relayed end). */
const UNKNOWN_VIEW: SelectedPath = { path: 'direct', localRelay: false };
/**
 * How old the link's reading of whether it stays within a local network may be when it is asked again: ICE can move
 * an open channel to another candidate pair (a network change with continual gathering, a pair that failed).
 */
export const LAN_RECHECK_MS = 1_000;

export class DirectLink {
  private stateValue: LinkState = 'connecting';
  private readonly peer: SimplePeerInstance;
  private readonly window: FlowWindow;
  private readonly batcher: Batcher;
  private readonly credits: CreditCounter;
  private readonly startedAt: number;
  private pingCounter = 0;
  private lastHeard: number;
  private upgradeTimer: unknown;
  private heartbeatTimer: unknown;
  private localCandidates = 0;
  /** Gathering was seen running; implementations may report `complete` before it ever started. */
  private gathering = false;
  private turnAuthFailed = false;
  private probePassed = false;
  /** This side's view of the selected pair, once the probe passed; the peer's word on its own end. */
  private localView: SelectedPath | undefined;
  /** Whether the open path stays within a local network, as last read; when, and whether a reading is under way. */
  private lanValue = false;
  private lanReadAt = 0;
  private lanReading = false;
  private messageLimit = DEFAULT_PEER_MESSAGE_BYTES;
  private peerReadsPacked = false;
  private peerView: { relay: boolean; rp?: SelectedPath['relayProtocol'] } | undefined;
  private peerWaitTimer: unknown;
  private candidateTimer: unknown;
  /** Bytes of envelopes carried each way, for transport reports. */
  bytesSent = 0;
  bytesReceived = 0;

  constructor(
    private readonly o: LinkOptions,
    private readonly hooks: LinkHooks,
  ) {
    this.startedAt = o.now();
    this.lastHeard = this.startedAt;
    this.batcher = new Batcher(
      (data) => this.write(data),
      (err) => this.hooks.bad(err),
    );
    this.window = new FlowWindow(o.windowBytes, (data) => this.batcher.write(data));
    this.credits = new CreditCounter(o.windowBytes);
    this.peer = new SimplePeer({
      initiator: o.initiator,
      trickle: true,
      objectMode: true,
      wrtc: o.rtc,
      channelConfig: { ordered: true },
      config: { iceServers: [...o.iceServers], iceTransportPolicy: o.iceTransportPolicy },
    });
    this.peer.on('signal', (data) => {
      if (data.type === 'candidate') this.localCandidates += 1;
      if (this.stateValue !== 'closed') this.hooks.signal(data);
    });
    this.peer.on('connect', () => this.probe());
    this.peer.on('data', (data) => this.received(data));
    this.peer.on('close', () => this.end('closed'));
    this.peer.on('error', (err) =>
      this.end(
        err.code === 'ERR_CONNECTION_FAILURE' || err.code === 'ERR_ICE_CONNECTION_FAILURE' ? 'ice_failed' : 'closed',
      ),
    );
    this.peer.on('iceStateChange', (_ice, gathering) => {
      if (gathering === 'gathering') this.gathering = true;
      // Gathering done without a single candidate of ours (TURN refused us under policy `relay`, or nothing at
      // all is reachable): ICE would sit in `new` for minutes without saying so.
      if (this.gathering && gathering === 'complete') this.checkCandidates();
    });
    this.watchIceErrors();
    this.upgradeTimer = o.timers.setTimeout(() => {
      this.upgradeTimer = undefined;
      if (this.stateValue === 'connecting') this.end(this.turnAuthFailed ? 'turn_auth' : 'timeout');
    }, o.upgradeTimeoutMs);
  }

  get state(): LinkState {
    return this.stateValue;
  }

  get attempt(): string {
    return this.o.attempt;
  }

  /** Milliseconds from the start of the attempt to now. */
  get ageMs(): number {
    return this.o.now() - this.startedAt;
  }

  /**
   * Candidates can be reported after the gathering state says `complete`, so look again a moment later, and at the
   * local description too, before calling the attempt failed.
   */
  private checkCandidates(): void {
    if (this.candidateTimer !== undefined) return;
    this.candidateTimer = this.o.timers.setTimeout(() => {
      this.candidateTimer = undefined;
      if (this.stateValue !== 'connecting' || this.localCandidates > 0) return;
      const sdp = (this.peer._pc as { localDescription?: { sdp?: string } | null } | null)?.localDescription?.sdp;
      if (typeof sdp === 'string' && sdp.includes('a=candidate')) return;
      this.end(this.turnAuthFailed ? 'turn_auth' : 'ice_failed');
    }, 250);
  }

  /** A TURN 401 is the one ICE error worth telling apart: wrong or expired credentials, the app's to fix. */
  private watchIceErrors(): void {
    const pc = this.peer._pc as {
      addEventListener?: (type: string, fn: (ev: { errorCode?: number }) => void) => void;
    } | null;
    const onError = (ev: { errorCode?: number }) => {
      if (ev.errorCode === 401) this.turnAuthFailed = true;
    };
    if (pc === null || pc === undefined) return;
    if (typeof pc.addEventListener === 'function') pc.addEventListener('icecandidateerror', onError);
    else (pc as { onicecandidateerror?: unknown }).onicecandidateerror = onError;
  }

  /** A signal from the peer (already opened and checked to belong to this attempt). */
  signal(data: unknown): void {
    if (this.stateValue === 'closed' || this.peer.destroyed) return;
    try {
      this.peer.signal(data);
    } catch (err) {
      this.hooks.bad(err);
    }
  }

  /**
   * Queues a routed envelope on the channel; `urgent` (a receipt) goes ahead of frames the window holds. False when
   * the link cannot take it (the caller uses the relay).
   */
  send(envelope: object, urgent = false): boolean {
    if (this.stateValue !== 'open') return false;
    const data =
      encodeEnvelopeBinary(envelope, this.o.base64url.decode) ??
      encodeChannelFrame({ k: 'e', e: envelope as RelayFrameIn });
    if (data.length > this.messageLimit) return false;
    this.bytesSent += data.length;
    if (urgent) this.window.pushUrgent(data);
    else this.window.push(data);
    return true;
  }

  /**
   * Largest data-channel message the link sends: what the peer reads (its SCTP transport's `maxMessageSize`, else its
   * `a=max-message-size`, else 64 KiB), at most {@link MAX_CHANNEL_MESSAGE}. Read when the link opens; a larger
   * envelope goes by the relay.
   */
  get messageBytes(): number {
    return this.messageLimit;
  }

  /** Whether the peer's ping or pong said it reads packed chunks (feature bit {@link FEATURE_PACKED}). */
  get readsPacked(): boolean {
    return this.peerReadsPacked;
  }

  /** Ends the link; `stopped` and `replaced` are decisions of this side, everything else is a failure. */
  close(end: LinkEnd = 'stopped'): void {
    this.end(end);
  }

  private write(data: string | Uint8Array): void {
    if (this.peer.destroyed) return;
    try {
      this.peer.send(data);
    } catch {
      // Chromium throws when its send queue is full or the channel is closing: the link is finished either way.
      this.end('closed');
    }
  }

  /** A text message, after any batch still pending (the channel keeps the order things were written in). */
  private control(frame: ChannelFrame): void {
    this.batcher.write(encodeChannelFrame(frame));
  }

  /** The peer's ping or pong says which message kinds it reads beyond the first SDKs'. */
  private features(f: number | undefined): void {
    if (f === undefined) return;
    if ((f & FEATURE_PACKED) !== 0) this.peerReadsPacked = true;
    if ((f & FEATURE_BATCH) === 0 || this.batcher.limitBytes > 0) return;
    this.batcher.limitBytes = Math.min(peerMessageBytes(this.peer._pc), BATCH_BYTES);
    // Credits ride in batches, so only with them: each batch (and each receipt) takes what is unreported along.
    if ((f & FEATURE_CREDIT) === 0) return;
    this.batcher.trailer = () => (this.credits.unreported > 0 ? encodeCreditBinary(this.credits.take()) : undefined);
  }

  /**
   * A credit now: binary (joined with whatever else goes this turn) for a peer that reads it (the batcher has the
   * credit trailer then), else a text message.
   */
  private credit(): void {
    if (this.batcher.trailer !== undefined) this.batcher.write(encodeCreditBinary(this.credits.take()));
    else this.control({ k: 'credit', r: this.credits.take() });
  }

  private header(kind: 'ping' | 'pong', n: number, from: string, to: string): FrameHeader {
    return { from, to, type: 'signal', id: `${kind}-${this.o.attempt}-${n}`, seq: 0 };
  }

  private ping(): void {
    const n = ++this.pingCounter;
    const p = this.o.session.seal(this.header('ping', n, this.o.selfId, this.o.peerId), PROBE);
    this.control({ k: 'ping', n, p, r: this.credits.take(), f: FEATURES, w: this.o.windowBytes });
  }

  /** The channel is up: prove the peer holds the session key before any frame uses it. */
  private probe(): void {
    if (this.stateValue !== 'connecting') return;
    this.ping();
    this.heartbeatTimer = this.o.timers.setTimeout(() => this.beat(), this.o.heartbeatMs);
  }

  private beat(): void {
    this.heartbeatTimer = undefined;
    if (this.stateValue === 'closed') return;
    if (this.stateValue === 'open' && this.o.now() - this.lastHeard > this.o.quietMs) {
      this.end('quiet');
      return;
    }
    this.ping();
    this.heartbeatTimer = this.o.timers.setTimeout(() => this.beat(), this.o.heartbeatMs);
  }

  private received(data: unknown): void {
    if (this.stateValue === 'closed') return;
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    if (bytes instanceof Uint8Array && bytes[0] === BATCH) {
      let items: Uint8Array[];
      try {
        items = decodeBatch(bytes);
      } catch (err) {
        this.hooks.bad(err);
        return;
      }
      for (const item of items) this.receivedOne(item);
      return;
    }
    this.receivedOne(data);
  }

  private receivedOne(data: unknown): void {
    if (this.stateValue === 'closed') return;
    let frame: ChannelFrame;
    try {
      frame = decodeChannelFrame(data);
    } catch (err) {
      this.hooks.bad(err);
      return;
    }
    switch (frame.k) {
      case 'e': {
        this.lastHeard = this.o.now();
        const size = typeof data === 'string' ? data.length : (data as Uint8Array).byteLength;
        this.bytesReceived += size;
        if (this.credits.add(size)) this.credit();
        this.hooks.envelope(frame.e);
        return;
      }
      case 'credit':
        this.window.credit(frame.r);
        return;
      case 'path':
        this.peerView = frame.rp === undefined ? { relay: frame.relay } : { relay: frame.relay, rp: frame.rp };
        this.tryOpen(false);
        return;
      case 'ping':
        if (!this.verified('ping', frame.n, frame.p)) return;
        this.lastHeard = this.o.now();
        this.window.credit(frame.r);
        this.features(frame.f);
        this.credits.peerWindow(frame.w);
        this.control({
          k: 'pong',
          n: frame.n,
          p: this.o.session.seal(this.header('pong', frame.n, this.o.selfId, this.o.peerId), PROBE),
          r: this.credits.take(),
          f: FEATURES,
          w: this.o.windowBytes,
        });
        return;
      case 'pong':
        if (!this.verified('pong', frame.n, frame.p)) return;
        this.lastHeard = this.o.now();
        this.window.credit(frame.r);
        this.features(frame.f);
        this.credits.peerWindow(frame.w);
        if (!this.probePassed) this.probeDone();
        return;
    }
  }

  private verified(kind: 'ping' | 'pong', n: number, p: string): boolean {
    try {
      this.o.session.open(this.header(kind, n, this.o.peerId, this.o.selfId), p);
      return true;
    } catch (err) {
      this.hooks.bad(err);
      return false;
    }
  }

  /**
   * The channel carried the probe both ways, which is all the upgrade timer waits for: from here the attempt opens
   * within {@link PEER_PATH_WAIT_MS}, on the peer's view of the path and ours, or on what is known by then (our own
   * stats read late, or never: then it is taken as direct, as when stats fail).
   */
  private probeDone(): void {
    this.probePassed = true;
    if (this.upgradeTimer !== undefined) this.o.timers.clearTimeout(this.upgradeTimer);
    this.upgradeTimer = undefined;
    this.peerWaitTimer = this.o.timers.setTimeout(() => {
      this.peerWaitTimer = undefined;
      this.localView ??= UNKNOWN_VIEW;
      this.tryOpen(true);
    }, PEER_PATH_WAIT_MS);
    void this.opened();
  }

  /**
   * Read our end of the selected pair and tell the peer. A TURN check can reach the other side
   * before the relay candidate was signalled, so there it shows as peer-reflexive; only the relayed side knows.
   */
  private async opened(): Promise<void> {
    let view: SelectedPath | undefined;
    try {
      view = await selectedPath(this.peer._pc);
    } catch (err) {
      this.hooks.bad(err);
      view = undefined;
    }
    if (this.stateValue === 'closed') return;
    const own = view ?? UNKNOWN_VIEW;
    // Opened meanwhile on the fallback view (our stats came after the wait): the peer may still wait for our word.
    if (this.stateValue === 'connecting') this.localView = own;
    const rp = own.localRelay === true ? own.relayProtocol : undefined;
    this.control(rp === undefined ? { k: 'path', relay: own.localRelay === true } : { k: 'path', relay: true, rp });
    this.tryOpen(false);
  }

  /** Opens once both views are known (or the peer's is late): `turn` when either end is relayed. */
  private tryOpen(late: boolean): void {
    const local = this.localView;
    if (this.stateValue !== 'connecting' || local === undefined || (this.peerView === undefined && !late)) return;
    if (this.peerWaitTimer !== undefined) this.o.timers.clearTimeout(this.peerWaitTimer);
    this.peerWaitTimer = undefined;
    if (this.upgradeTimer !== undefined) this.o.timers.clearTimeout(this.upgradeTimer);
    this.upgradeTimer = undefined;
    const peerRelay = this.peerView?.relay === true;
    const relayProtocol = local.localRelay === true ? local.relayProtocol : this.peerView?.rp;
    const path: SelectedPath =
      local.path === 'turn' || peerRelay
        ? relayProtocol === undefined
          ? { path: 'turn' }
          : { path: 'turn', relayProtocol }
        : // Only with the peer's word too: a relayed peer whose view is late shows here as peer-reflexive, on the TURN
          // server's address, private when coturn runs inside the same network.
          { path: 'direct', lan: local.lan === true && this.peerView !== undefined };
    this.stateValue = 'open';
    this.messageLimit = Math.min(peerMessageBytes(this.peer._pc), MAX_CHANNEL_MESSAGE);
    this.lastHeard = this.o.now();
    this.lanValue = path.lan === true;
    this.lanReadAt = this.o.now();
    this.hooks.open(path);
  }

  /**
   * Whether the open path stays within a local network: the last reading, read again from the stats in the
   * background when it is older than {@link LAN_RECHECK_MS}, so a pair that moved off the local network is seen at
   * the next question after that. Always false unless open.
   */
  lanNow(): boolean {
    if (this.stateValue !== 'open') return false;
    if (!this.lanReading && this.lanValue && this.o.now() - this.lanReadAt >= LAN_RECHECK_MS) {
      this.lanReading = true;
      selectedPath(this.peer._pc).then(
        (view) => this.readLan(view),
        () => this.readLan(undefined),
      );
    }
    return this.lanValue;
  }

  private readLan(view: SelectedPath | undefined): void {
    this.lanReading = false;
    this.lanReadAt = this.o.now();
    // Only ever from local to not: a pair that comes back to the local network is taken up by the next attempt.
    if (view?.path !== 'direct' || view.lan !== true) this.lanValue = false;
  }

  private end(end: LinkEnd): void {
    if (this.stateValue === 'closed') return;
    const wasOpen = this.stateValue === 'open';
    this.stateValue = 'closed';
    for (const t of [this.upgradeTimer, this.heartbeatTimer, this.peerWaitTimer, this.candidateTimer])
      if (t !== undefined) this.o.timers.clearTimeout(t);
    this.candidateTimer = undefined;
    this.upgradeTimer = undefined;
    this.heartbeatTimer = undefined;
    this.peerWaitTimer = undefined;
    this.window.clear();
    this.batcher.stop();
    try {
      this.peer.destroy();
    } catch {
      // already torn down by the implementation
    }
    // simple-peer 9 leaves its 5 s "ICE complete" timer running on destroy, which holds a closing process open.
    const peer = this.peer;
    const clearIceTimer = () => clearTimeout(peer._iceCompleteTimer as Parameters<typeof clearTimeout>[0]);
    clearIceTimer();
    queueMicrotask(clearIceTimer); // destroy() finishes in a microtask, where a late candidate could start it again
    this.hooks.closed(end, wasOpen);
  }
}
