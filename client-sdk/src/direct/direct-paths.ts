/**
 * The transport ladder per paired peer: frames start on the relay at once, and a WebRTC data channel is tried in
 * parallel; once its encrypted probe passes, frames move to it, and they move back to the relay the moment it closes
 * or goes quiet. Signals (SDP, candidates) travel through the relay sealed end to end, so the relay learns no
 * addresses. Of a pair, the device with the smaller id dials; it also retries failed attempts with backoff and
 * reports their outcome, so the relay's metrics count each attempt once.
 */
import { dialsDirectPath, type PathName, type UpgradeOutcome } from '@oppie/protocol';
import type { Emitter } from 'mitt';
import { defaultBase64url } from '../crypto/aead.js';
import { toB64u } from '../crypto/sodium.js';
import { OppieError } from '../errors.js';
import type { ClientEvents } from '../events.js';
import type { Peers } from '../peers.js';
import type { Platform, RtcImplementation } from '../platform.js';
import { exponentialBackoff, type ReconnectPolicy } from '../reconnect.js';
import type { RelayFrameIn } from '../transport/relay-connection.js';
import { DirectLink, type LinkEnd } from './link.js';
import type { SelectedPath } from './selected-path.js';

/**
 * How the SDK tries the direct path. Every field has a default; `enabled: false` keeps all traffic on the relay.
 *
 * @example
 * const client = await OppieClient.create({ relayUrl, role: 'pwa', name: 'phone', direct: { upgradeTimeoutMs: 8_000 } });
 * client.events.on('path', ({ peer, path }) => console.log(peer, 'now over', path));
 */
export interface DirectOptions {
  /** Default: true when the platform has WebRTC (`platform.rtc`). */
  readonly enabled?: boolean;
  /** An attempt whose encrypted probe has not passed by then ends as `timeout`. Default 10 s. */
  readonly upgradeTimeoutMs?: number;
  /** `relay` forces TURN (no host or server-reflexive candidates). Default `all`. */
  readonly iceTransportPolicy?: 'all' | 'relay';
  /** Encrypted ping interval on an open channel. Default 1 s. */
  readonly heartbeatMs?: number;
  /** Nothing heard on the channel for this long: frames go back to the relay and the channel is closed. Default 4 s. */
  readonly quietMs?: number;
  /** Wait before the next attempt after a failed one. Default: full jitter from 2 s, doubling, capped at 60 s. */
  readonly retry?: ReconnectPolicy;
  /** Application-level flow-control window per channel. Default 1 MiB. */
  readonly windowBytes?: number;
}

/** What the ladder needs from the rest of the client. */
export interface DirectPathsDeps {
  readonly deviceId: string;
  readonly platform: Platform;
  readonly peers: Peers;
  readonly events: Emitter<ClientEvents>;
  readonly options: DirectOptions;
  /** Sends a control or signal frame on the relay connection; false when it is not open. */
  readonly relaySend: (frame: object) => boolean;
  /** Fresh ICE servers (TURN credentials are short-lived). */
  readonly iceServers: () => Promise<{ iceServers: readonly unknown[]; expiresAt: number }>;
  /** Frames for `peer` move to (true) or off (false) the data channel. */
  readonly pathChanged: (peer: string, direct: boolean) => void;
  /** A routed envelope that arrived on a data channel. */
  readonly envelope: (frame: RelayFrameIn) => void;
}

interface PeerPath {
  link: DirectLink | undefined;
  path: PathName;
  relayProtocol: SelectedPath['relayProtocol'];
  online: boolean;
  failures: number;
  retryTimer: unknown;
  /** Recent attempt ids this side saw end: a late signal for one of them must not start a stale link. */
  readonly ended: string[];
  /** The peer's attempt we are about to answer, and its signals that came while the ICE servers were fetched. */
  answering: { readonly attempt: string; readonly signals: unknown[] } | undefined;
  reportedSent: number;
  reportedReceived: number;
  /** Forgotten (revoked, or this session ended for good): no more reports about it, the relay would refuse them. */
  forgotten: boolean;
}

const REPORT_EVERY_MS = 30_000;
const REOPEN_DELAY_MS = 250;
const MAX_SIGNAL_BYTES = 16 * 1024;
const ENDED_MEMORY = 8;
/** Signals of one attempt held while its answer waits for ICE servers (an offer and its trickled candidates). */
const MAX_HELD_SIGNALS = 64;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

let signalCounter = 0;

export class DirectPaths {
  private readonly byPeer = new Map<string, PeerPath>();
  private readonly rtc: RtcImplementation | undefined;
  private ice: { iceServers: readonly unknown[]; expiresAt: number } | undefined;
  private iceFetch: Promise<void> | undefined;
  private relayOpen = false;
  private closed = false;
  private reportTimer: unknown;
  private readonly retry: ReconnectPolicy;

  constructor(private readonly d: DirectPathsDeps) {
    this.rtc = d.options.enabled === false ? undefined : d.platform.rtc;
    this.retry = d.options.retry ?? exponentialBackoff({ baseMs: 2_000, maxMs: 60_000 });
  }

  /** Whether this client tries direct paths at all. */
  get enabled(): boolean {
    return this.rtc !== undefined;
  }

  pathTo(peer: string): PathName {
    return this.byPeer.get(peer)?.path ?? 'relay';
  }

  /** Hands an envelope to the open data channel to `peer` (`urgent`: see DirectLink.send); false means: use the relay. */
  send(peer: string, envelope: object, urgent = false): boolean {
    return this.byPeer.get(peer)?.link?.send(envelope, urgent) === true;
  }

  /** Whether frames to `peer` take a direct path within a local network now (see DirectLink.lanNow). */
  onLan(peer: string): boolean {
    const s = this.byPeer.get(peer);
    return s?.path === 'direct' && s.link?.lanNow() === true;
  }

  /** Whether the open channel to `peer` said the peer reads packed chunks (see DirectLink.readsPacked). */
  readsPacked(peer: string): boolean {
    const link = this.byPeer.get(peer)?.link;
    return link?.state === 'open' && link.readsPacked;
  }

  /** Largest data-channel message the open channel to `peer` takes (see DirectLink.messageBytes); undefined without one. */
  messageBytes(peer: string): number | undefined {
    const link = this.byPeer.get(peer)?.link;
    return link?.state === 'open' ? link.messageBytes : undefined;
  }

  isDirect(peer: string): boolean {
    return this.byPeer.get(peer)?.link?.state === 'open';
  }

  private state(peer: string): PeerPath {
    let s = this.byPeer.get(peer);
    if (s === undefined) {
      s = {
        link: undefined,
        path: 'relay',
        relayProtocol: undefined,
        online: false,
        failures: 0,
        retryTimer: undefined,
        ended: [],
        answering: undefined,
        reportedSent: 0,
        reportedReceived: 0,
        forgotten: false,
      };
      this.byPeer.set(peer, s);
    }
    return s;
  }

  private initiates(peer: string): boolean {
    return dialsDirectPath(this.d.deviceId, peer);
  }

  /** A (re)opened relay session: its ICE servers and who is online. */
  welcomed(
    iceServers: readonly unknown[],
    expiresAt: number,
    online: ReadonlyArray<{ deviceId: string; online: boolean }>,
  ) {
    this.relayOpen = true;
    this.ice = { iceServers, expiresAt };
    for (const p of online) if (p.deviceId !== this.d.deviceId) this.presence(p.deviceId, p.online);
    // A new relay connection knows no path yet (it counts the session as relayed): channels that outlived the old
    // one say theirs at once rather than at the next periodic report.
    this.reportOpen();
    if (this.reportTimer === undefined && this.enabled) this.scheduleReports();
  }

  relayClosed(): void {
    this.relayOpen = false;
  }

  presence(peer: string, online: boolean): void {
    if (!this.enabled || peer === this.d.deviceId) return;
    const s = this.state(peer);
    s.online = online;
    if (online && s.link === undefined && s.retryTimer === undefined) this.dial(peer);
  }

  /** A pairing just completed: the peer is online (it proved itself over the relay a moment ago). */
  paired(peer: string): void {
    this.presence(peer, true);
  }

  /** The network changed (browser `online`, a new interface): what ICE found before may be gone, so start over. */
  networkChanged(): void {
    for (const [peer, s] of this.byPeer) {
      s.failures = 0;
      if (s.retryTimer !== undefined) this.d.platform.timers.clearTimeout(s.retryTimer);
      s.retryTimer = undefined;
      s.link?.close('closed');
      if (s.link === undefined) this.dial(peer);
    }
  }

  /** Drops the data channel to `peer` as a failure would; frames go back to the relay, a new attempt follows. */
  reset(peer: string): void {
    this.byPeer.get(peer)?.link?.close('closed');
  }

  /** A peer was revoked or unpaired: nothing more to try with it. */
  forget(peer: string): void {
    const s = this.byPeer.get(peer);
    if (s === undefined) return;
    if (s.retryTimer !== undefined) this.d.platform.timers.clearTimeout(s.retryTimer);
    s.retryTimer = undefined;
    s.forgotten = true;
    s.link?.close('stopped');
    this.byPeer.delete(peer);
  }

  private dial(peer: string): void {
    if (this.closed || !this.enabled || !this.relayOpen || !this.initiates(peer)) return;
    const s = this.state(peer);
    if (!s.online || s.link !== undefined || this.d.peers.session(peer) === undefined) return;
    const attempt = `${toB64u(globalThis.crypto.getRandomValues(new Uint8Array(9)))}${(++signalCounter).toString(36)}`;
    void this.freshIce().then((ice) => {
      if (this.closed || s.link !== undefined || !s.online || this.byPeer.get(peer) !== s) return;
      this.startLink(peer, s, attempt, true, ice);
    });
  }

  /** ICE servers with at least a minute of validity left; refreshed from the relay when they are about to expire. */
  private async freshIce(): Promise<readonly unknown[]> {
    const now = this.d.platform.now();
    if (this.ice !== undefined && (this.ice.iceServers.length === 0 || this.ice.expiresAt - now > 60_000))
      return this.ice.iceServers;
    // One request at a time, whoever asks (an offer and its candidates, several peers dialing at once).
    this.iceFetch ??= this.d
      .iceServers()
      .then(
        (ice) => {
          this.ice = ice;
        },
        (err: unknown) => this.report(err),
      )
      .finally(() => {
        this.iceFetch = undefined;
      });
    await this.iceFetch;
    return this.ice?.iceServers ?? [];
  }

  private startLink(peer: string, s: PeerPath, attempt: string, initiator: boolean, iceServers: readonly unknown[]) {
    const session = this.d.peers.session(peer);
    const rtc = this.rtc;
    if (session === undefined || rtc === undefined) return;
    const o = this.d.options;
    const link: DirectLink = new DirectLink(
      {
        initiator,
        attempt,
        selfId: this.d.deviceId,
        peerId: peer,
        session,
        rtc,
        iceServers,
        iceTransportPolicy: o.iceTransportPolicy ?? 'all',
        timers: this.d.platform.timers,
        now: this.d.platform.now,
        upgradeTimeoutMs: o.upgradeTimeoutMs ?? 10_000,
        heartbeatMs: o.heartbeatMs ?? 1_000,
        quietMs: o.quietMs ?? 4_000,
        windowBytes: o.windowBytes ?? 1024 * 1024,
        base64url: this.d.platform.frameCrypto?.base64url ?? defaultBase64url(),
      },
      {
        signal: (data) => this.sendSignal(peer, attempt, data),
        open: (path) => this.opened(peer, link, path),
        closed: (end, wasOpen) => this.linkClosed(peer, link, end, wasOpen),
        envelope: (f) => {
          // A channel speaks for its peer only (the frame would not open under another sender's key anyway).
          if (f.metadata?.deviceId === peer) this.d.envelope(f);
          else
            this.report(new OppieError('OPPIE_ERR_PROTOCOL', `a frame on the channel to ${peer} named another sender`));
        },
        bad: (err) => this.report(err),
      },
    );
    s.link = link;
  }

  private sendSignal(peer: string, attempt: string, data: unknown): void {
    const session = this.d.peers.session(peer);
    if (session === undefined) return;
    const id = `sig-${attempt}-${++signalCounter}`;
    const payload = session.seal(
      { from: this.d.deviceId, to: peer, type: 'signal', id, seq: 0 },
      textEncoder.encode(JSON.stringify({ a: attempt, d: data })),
    );
    // Not sent (the relay is down): the attempt times out and the next one starts once the relay is back.
    this.d.relaySend({
      type: 'signal',
      id,
      timestamp: this.d.platform.now(),
      to: peer,
      metadata: { deviceId: this.d.deviceId },
      payload,
    });
  }

  /** A `signal` envelope from the relay: opened, checked to be for a current attempt, handed to its link. */
  signal(f: RelayFrameIn): void {
    if (!this.enabled || this.closed) return;
    const from = f.metadata?.deviceId;
    const session = from === undefined ? undefined : this.d.peers.session(from);
    if (from === undefined || session === undefined || typeof f.payload !== 'string') return;
    if (f.payload.length > MAX_SIGNAL_BYTES * 2) {
      this.report(new OppieError('OPPIE_ERR_PROTOCOL', `an oversized signal from ${from} was ignored`));
      return;
    }
    let msg: { a?: unknown; d?: unknown };
    try {
      const plain = session.open({ from, to: this.d.deviceId, type: 'signal', id: f.id, seq: 0 }, f.payload);
      if (plain.length > MAX_SIGNAL_BYTES)
        throw new OppieError('OPPIE_ERR_PROTOCOL', `a signal of ${plain.length} bytes from ${from} was ignored`);
      msg = JSON.parse(textDecoder.decode(plain)) as { a?: unknown; d?: unknown };
    } catch (err) {
      this.report(err);
      return;
    }
    if (typeof msg.a !== 'string' || msg.d === null || typeof msg.d !== 'object') {
      this.report(new OppieError('OPPIE_ERR_PROTOCOL', `a signal from ${from} has an unknown shape`));
      return;
    }
    const s = this.state(from);
    s.online = true;
    if (s.link?.attempt === msg.a) {
      s.link.signal(msg.d);
      return;
    }
    // Only the dialing side starts attempts; a signal for an attempt we do not hold is either the start of the
    // peer's new attempt (we answer) or a late one for an attempt that already ended (ignored).
    if (s.answering?.attempt === msg.a) {
      // The answer waits for ICE servers: the offer's candidates wait with it, in order.
      if (s.answering.signals.length < MAX_HELD_SIGNALS) s.answering.signals.push(msg.d);
      else
        this.report(new OppieError('OPPIE_ERR_PROTOCOL', `too many signals from ${from} before the answer; dropped`));
      return;
    }
    if (this.initiates(from) || s.ended.includes(msg.a)) return;
    s.link?.close('replaced');
    const answering = { attempt: msg.a, signals: [msg.d] };
    s.answering = answering;
    void this.freshIce().then((ice) => {
      if (s.answering !== answering) return; // a newer attempt of the peer took its place
      s.answering = undefined;
      if (this.closed || this.byPeer.get(from) !== s || s.ended.includes(answering.attempt)) return;
      s.link?.close('replaced');
      this.startLink(from, s, answering.attempt, false, ice);
      for (const data of answering.signals) s.link?.signal(data);
    });
  }

  private opened(peer: string, link: DirectLink, path: SelectedPath): void {
    const s = this.byPeer.get(peer);
    if (s?.link !== link) return;
    s.failures = 0;
    s.path = path.path;
    s.relayProtocol = path.relayProtocol;
    this.d.pathChanged(peer, true);
    this.emit('path', {
      peer,
      path: path.path,
      ...(path.relayProtocol && { relayProtocol: path.relayProtocol }),
      ...(path.path === 'direct' && { lan: path.lan === true }),
    });
    this.emit('upgrade', { peer, outcome: 'upgraded', setupMs: link.ageMs });
    this.sendReport(peer, s, this.initiates(peer) ? 'upgraded' : undefined, link.ageMs);
  }

  private linkClosed(peer: string, link: DirectLink, end: LinkEnd, wasOpen: boolean): void {
    const s = this.byPeer.get(peer);
    if (s === undefined) return;
    s.ended.push(link.attempt);
    if (s.ended.length > ENDED_MEMORY) s.ended.shift();
    if (s.link !== link) return;
    s.link = undefined;
    if (wasOpen) {
      // Bytes carried on the channel are reported under its path before the path becomes the relay.
      this.sendReport(peer, s, undefined, undefined, link);
      s.path = 'relay';
      s.relayProtocol = undefined;
      this.d.pathChanged(peer, false);
      this.emit('path', { peer, path: 'relay' });
      // A path change, not an upgrade outcome: this attempt already counted as `upgraded`.
      this.sendReport(peer, s);
      if (end !== 'stopped') this.scheduleDial(peer, s, REOPEN_DELAY_MS);
      return;
    }
    if (end === 'stopped' || end === 'replaced') return;
    const outcome: UpgradeOutcome = end === 'quiet' ? 'closed' : end;
    // TURN refused our credentials: whatever we hold is stale or wrong, so the next attempt asks the relay again.
    if (outcome === 'turn_auth' && this.ice !== undefined) this.ice = { ...this.ice, expiresAt: 0 };
    this.emit('upgrade', { peer, outcome, setupMs: link.ageMs });
    if (this.initiates(peer)) {
      this.sendReport(peer, s, outcome, link.ageMs);
      const delay = this.retry.nextDelayMs(s.failures++);
      if (delay !== null) this.scheduleDial(peer, s, delay);
    }
  }

  private scheduleDial(peer: string, s: PeerPath, delay: number): void {
    if (this.closed || !this.initiates(peer) || s.retryTimer !== undefined) return;
    s.retryTimer = this.d.platform.timers.setTimeout(() => {
      s.retryTimer = undefined;
      this.dial(peer);
    }, delay);
  }

  private sendReport(peer: string, s: PeerPath, outcome?: UpgradeOutcome, setupMs?: number, link = s.link): void {
    if (s.forgotten) return;
    const sent = link?.bytesSent ?? 0;
    const received = link?.bytesReceived ?? 0;
    const payload: Record<string, unknown> = { peer, path: s.path };
    if (outcome !== undefined) payload.outcome = outcome;
    if (setupMs !== undefined) payload.setupMs = Math.round(setupMs);
    if (link !== undefined) {
      payload.bytesSent = Math.max(0, sent - s.reportedSent);
      payload.bytesReceived = Math.max(0, received - s.reportedReceived);
      s.reportedSent = sent;
      s.reportedReceived = received;
    }
    if (link !== undefined && link !== s.link) {
      // The link is gone: the next link counts from zero.
      s.reportedSent = 0;
      s.reportedReceived = 0;
    }
    this.d.relaySend({
      type: 'transport',
      id: `tr-${this.d.platform.now()}-${++signalCounter}`,
      timestamp: this.d.platform.now(),
      payload,
    });
  }

  /** Every open channel reports its path and the bytes since its last report. */
  private reportOpen(): void {
    for (const [peer, s] of this.byPeer) if (s.link?.state === 'open') this.sendReport(peer, s);
  }

  /** Open channels report their byte counts now and then, so the relay's bytes-by-path metric moves. */
  private scheduleReports(): void {
    this.reportTimer = this.d.platform.timers.setTimeout(() => {
      this.reportTimer = undefined;
      if (this.closed) return;
      this.reportOpen();
      this.scheduleReports();
    }, REPORT_EVERY_MS);
  }

  private emit<K extends 'path' | 'upgrade'>(type: K, event: ClientEvents[K]): void {
    try {
      this.d.events.emit(type, event);
    } catch (err) {
      this.report(new OppieError('OPPIE_ERR_PROTOCOL', `an application ${type} listener threw`, { cause: err }));
    }
  }

  private report(err: unknown): void {
    try {
      this.d.events.emit(
        'error',
        err instanceof OppieError ? err : new OppieError('OPPIE_ERR_PROTOCOL', 'direct path', { cause: err }),
      );
    } catch {
      // the app's error listener threw: nothing left to tell
    }
  }

  /** Ends every link and pending retry; the next welcome starts over. */
  stopAll(): void {
    if (this.reportTimer !== undefined) this.d.platform.timers.clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
    for (const peer of [...this.byPeer.keys()]) this.forget(peer);
  }

  close(): void {
    this.closed = true;
    this.stopAll();
  }
}
