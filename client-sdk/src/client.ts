/**
 * OppieClient: the SDK a PWA or a sidecar embeds. It owns the device identity, tokens, paired peers, the end-to-end
 * sessions, the persisted outbox and inbox, and the relay connection.
 *
 * @example
 * const client = await OppieClient.create({ relayUrl: 'https://relay.example', role: 'pwa', name: 'phone' });
 * await client.pair(linkFromQrCode);
 * client.events.on('progress', (m) => console.log(m.payload));
 * await client.send('runPlan', { plan: 'refactor auth' }); // resolves when the sidecar received it
 */
import { type ApplicationType, isApplicationType, type PathName, type WelcomePayload } from '@oppie/protocol';
import mittModule from 'mitt';
import { deviceIdOf, generateIdentity, type Identity, parseIdentity, serializeIdentity } from './crypto/identity.js';
import { sodiumReady, toB64u } from './crypto/sodium.js';
import { Inbox } from './delivery/inbox.js';
import { Outbox } from './delivery/outbox.js';
import { type DirectOptions, DirectPaths } from './direct/direct-paths.js';
import { OppieError } from './errors.js';
import type { ClientEvents, ConnectionState, PeerInfo } from './events.js';
import {
  checkReceiptOptions,
  LOW_GAIN_COMPRESSION,
  type LowGainCompression,
  Messaging,
  type ReceiptOptions,
} from './messaging.js';
import { PairingFlow } from './pairing-flow.js';
import { Peers } from './peers.js';
import { defaultPlatform, type Platform } from './platform.js';
import { exponentialBackoff, type ReconnectPolicy } from './reconnect.js';
import { RelayApi } from './relay-api.js';
import { RelayConnection, type RelayFrameIn } from './transport/relay-connection.js';
import type { InboxValue } from './wire.js';

// mitt ships CommonJS typings; under NodeNext its default import is the module object.
const mitt = mittModule as unknown as typeof import('mitt').default;

export interface OppieClientOptions {
  /** The relay's base URL, `http(s)://host:port`. */
  readonly relayUrl: string;
  readonly role: 'sidecar' | 'pwa';
  /** Shown to the user's other devices. */
  readonly name: string;
  /** Injected environment; defaults from globalThis, in-memory storage. */
  readonly platform?: Partial<Platform>;
  readonly reconnect?: ReconnectPolicy;
  readonly outbox?: { maxEntries?: number; maxBytes?: number };
  /** How long pair() waits for the sidecar's confirmation. Default 60 s. */
  readonly pairingTimeoutMs?: number;
  /** The WebRTC direct path (on by default when the platform has WebRTC). */
  readonly direct?: DirectOptions;
  /**
   * Pacing of end-to-end receipts. Default: one round per turn, so `send()` settles one round trip after delivery.
   * `{ intervalMs: 10 }`: at most one round per 10 ms in a stream (the first after a pause at once, and at once when
   * `every`, default 16, frames wait), for fewer receipts in streams of large messages at up to 10 ms later settling
   * when sends follow each other one at a time. `intervalMs` at most 1000 (the sender resends after 3 s of silence).
   */
  readonly receipts?: ReceiptOptions;
  /**
   * When a large message that only Huffman coding would shrink (base64 of binary data: to ~75%) is deflated: `auto`
   * (default) everywhere but on a direct path within a local network, where its CPU at both ends costs more than its
   * bytes; `always`; `never`. Text is deflated whatever this says. See {@link LowGainCompression}.
   *
   * @example
   * // A phone that pays for every byte on its mobile link:
   * await OppieClient.create({ relayUrl, role: 'pwa', name: 'phone', lowGainCompression: 'always' });
   */
  readonly lowGainCompression?: LowGainCompression;
}

/** How long {@link OppieClient.stepUp} waits for the relay to acknowledge the step-up token on an open connection. */
export const STEP_UP_ACK_TIMEOUT_MS = 10_000;
/** How long {@link OppieClient.close} waits for store writes under way before it rejects with `OPPIE_ERR_TIMEOUT`. */
export const CLOSE_DRAIN_MS = 5_000;

interface Registration {
  readonly accountId: string;
  readonly role: 'sidecar' | 'pwa';
}

export class OppieClient {
  readonly events = mitt<ClientEvents>();
  readonly api: RelayApi;
  private readonly connection: RelayConnection;
  private readonly messaging: Messaging;
  private readonly pairing: PairingFlow;
  private readonly directPaths: DirectPaths;
  /** Presence of the account's other devices, as the relay last said (welcome, presence frames). */
  private readonly online = new Map<string, boolean>();
  private cachedToken: { token: string; expiresAt: number } | undefined;
  private refreshTimer: unknown;
  private welcome: WelcomePayload | undefined;
  private readonly openWaiters: Array<{ resolve: () => void; reject: (e: OppieError) => void }> = [];
  /** `auth` frames sent by stepUp(), by frame id, until the relay's ack or error. */
  private readonly authWaiters = new Map<string, { resolve: () => void; reject: (e: OppieError) => void }>();
  /** Set by a successful stepUp() (the account has OTP from then on); the next welcome says again. */
  private stepUpKnown: boolean | undefined;

  private constructor(
    readonly options: OppieClientOptions,
    readonly platform: Platform,
    readonly identity: Identity,
    /** This device's id, derived from its public key. */
    readonly deviceId: string,
    private registration: Registration | undefined,
    private readonly peerSet: Peers,
    outbox: Outbox,
    inbox: Inbox<InboxValue>,
  ) {
    this.api = new RelayApi(options.relayUrl.replace(/\/+$/, ''), platform.fetch);
    this.connection = new RelayConnection(
      { url: this.api.baseUrl, platform, policy: options.reconnect ?? exponentialBackoff() },
      {
        token: () => this.token(),
        onState: (from, to) => this.stateChanged(from, to),
        onWelcome: (w) => this.welcomed(w),
        onFrame: (f) => this.frame(f),
        onError: (e) => this.events.emit('error', e),
      },
    );
    this.messaging = new Messaging({
      deviceId,
      ...(options.receipts !== undefined && { receipts: options.receipts }),
      ...(options.lowGainCompression !== undefined && { lowGainCompression: options.lowGainCompression }),
      platform,
      peers: peerSet,
      outbox,
      inbox,
      events: this.events,
      send: (frame) => this.connection.send(frame),
      isOnline: (peer) => this.online.get(peer) !== false,
      direct: {
        isDirect: (peer) => this.directPaths.isDirect(peer),
        send: (peer, frame, urgent) => this.directPaths.send(peer, frame, urgent),
        reset: (peer) => this.directPaths.reset(peer),
        onLan: (peer) => this.directPaths.onLan(peer),
        messageBytes: (peer) => this.directPaths.messageBytes(peer),
        readsPacked: (peer) => this.directPaths.readsPacked(peer),
      },
    });
    this.directPaths = new DirectPaths({
      deviceId,
      platform,
      peers: peerSet,
      events: this.events,
      options: options.direct ?? {},
      relaySend: (frame) => this.connection.send(frame),
      iceServers: async () => this.api.turnCredentials(await this.token()),
      pathChanged: (peer) => this.messaging.pathChanged(peer),
      envelope: (f) => void this.messaging.received(f, false),
    });
    this.events.on('paired', (p) => this.directPaths.paired(p.deviceId));
    this.pairing = new PairingFlow({
      deviceId,
      identity,
      role: options.role,
      relayUrl: this.api.baseUrl,
      api: this.api,
      peers: peerSet,
      events: this.events,
      platform,
      token: () => this.token(),
      send: (frame) => this.connection.send(frame),
      timeoutMs: options.pairingTimeoutMs ?? 60_000,
    });
  }

  /** Loads this device's identity, registration, peers, outbox and inbox from storage (creating the identity once). */
  static async create(options: OppieClientOptions): Promise<OppieClient> {
    checkReceiptOptions(options.receipts);
    const lowGain = options.lowGainCompression;
    if (lowGain !== undefined && !LOW_GAIN_COMPRESSION.includes(lowGain))
      throw new RangeError(
        `lowGainCompression must be one of ${LOW_GAIN_COMPRESSION.join(', ')}, got ${String(lowGain)}`,
      );
    const platform = defaultPlatform(options.platform);
    await sodiumReady();
    const store = platform.storage;
    const saved = await store.get('identity');
    const identity = saved === undefined ? await generateIdentity() : parseIdentity(saved);
    if (saved === undefined) await store.set('identity', serializeIdentity(identity));
    const deviceId = await deviceIdOf(identity.publicKey);
    const reg = await store.get('registration');
    const registration = reg === undefined ? undefined : (JSON.parse(reg) as Registration);
    const peers = await Peers.open(store, identity, options.role, platform.frameCrypto);
    const outbox = await Outbox.open(store, options.outbox ?? {});
    const inbox = await Inbox.open<InboxValue>(store);
    return new OppieClient(options, platform, identity, deviceId, registration, peers, outbox, inbox);
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  get publicKey(): string {
    return toB64u(this.identity.publicKey);
  }

  /** Paired peers (their keys were proven at pairing). */
  peers(): PeerInfo[] {
    return this.peerSet.list();
  }

  /** Sidecar, first run: creates the account. A no-op once registered. */
  async register(opts: { enrollmentToken?: string } = {}): Promise<void> {
    if (this.registration !== undefined) return;
    if (this.options.role !== 'sidecar')
      throw new OppieError('OPPIE_ERR_AUTH', 'only a sidecar registers; a PWA pairs');
    const res = await this.api.register(this.identity, this.options.name, opts.enrollmentToken);
    await this.registered({ accountId: res.accountId, role: 'sidecar' });
    this.cachedToken = { token: res.token, expiresAt: res.expiresAt };
  }

  private async registered(r: Registration): Promise<void> {
    this.registration = r;
    await this.platform.storage.set('registration', JSON.stringify(r));
  }

  /** A valid access token, refreshed a minute before expiry (and presented on the live connection). */
  private async token(): Promise<string> {
    const now = this.platform.now();
    if (this.cachedToken !== undefined && this.cachedToken.expiresAt - now > 60_000) return this.cachedToken.token;
    if (this.registration === undefined) throw new OppieError('OPPIE_ERR_AUTH', 'not registered or paired yet');
    const res = await this.api.token(this.identity);
    this.cachedToken = { token: res.token, expiresAt: res.expiresAt };
    this.scheduleRefresh(res.expiresAt);
    return res.token;
  }

  private scheduleRefresh(expiresAt: number): void {
    if (this.refreshTimer !== undefined) this.platform.timers.clearTimeout(this.refreshTimer);
    const wait = Math.max(1_000, expiresAt - this.platform.now() - 60_000);
    this.refreshTimer = this.platform.timers.setTimeout(() => {
      this.refreshTimer = undefined;
      this.cachedToken = undefined;
      this.token()
        .then((token) =>
          this.connection.send({
            type: 'auth',
            id: `auth-${this.platform.now()}`,
            timestamp: this.platform.now(),
            payload: { token },
          }),
        )
        .catch((err: unknown) =>
          this.events.emit(
            'error',
            err instanceof OppieError ? err : new OppieError('OPPIE_ERR_AUTH', undefined, { cause: err }),
          ),
        );
    }, wait);
  }

  /** Connects to the relay; resolves on the first welcome, rejects if the relay refuses for good. */
  connect(): Promise<void> {
    if (this.connection.state === 'open') return Promise.resolve();
    const opened = new Promise<void>((resolve, reject) => this.openWaiters.push({ resolve, reject }));
    this.connection.start();
    return opened;
  }

  /** Reconnect at once after the network or the page came back (browser `online` / `visibilitychange`). */
  resume(): void {
    this.connection.resumeNow();
  }

  /**
   * The network changed (browser `online`, a new interface on the workstation): checks the relay connection at once
   * (a ping; nothing back within 2 s and it reconnects; a reconnect waiting or in flight starts at once) and starts
   * the direct path over, since the addresses ICE found may be gone.
   */
  networkChanged(): void {
    this.connection.checkNow();
    this.directPaths.networkChanged();
  }

  /**
   * The transport frames to `peer` use now: `direct`, `turn` (a data channel through TURN) or `relay`.
   *
   * @example
   * if (client.pathTo(sidecarId) === 'relay') showBadge('relayed');
   */
  pathTo(peer: string): PathName {
    return this.directPaths.pathTo(peer);
  }

  /**
   * Drops the data channel to `peer` as a failure would: frames go back to the relay at once, and a new attempt at
   * the direct path follows. For an app that saw the channel misbehave, and for tests of the handover.
   */
  resetPath(peer: string): void {
    this.directPaths.reset(peer);
  }

  private stateChanged(from: ConnectionState, to: ConnectionState): void {
    if (to !== 'open') this.directPaths.relayClosed();
    // Closed for good (this device revoked, replaced by a newer instance, or given up): its data channels go too, or
    // a replaced instance would go on taking its peers' messages and a revoked one sending them.
    if (to === 'closed') this.directPaths.stopAll();
    this.events.emit('state', { from, to });
    if (to === 'closed') {
      for (const w of this.openWaiters.splice(0)) w.reject(new OppieError('OPPIE_ERR_CLOSED'));
    }
  }

  private welcomed(w: WelcomePayload): void {
    this.welcome = w;
    this.stepUpKnown = undefined;
    for (const d of w.devices) this.online.set(d.deviceId, d.online);
    this.messaging.connected(w);
    this.directPaths.welcomed(w.iceServers, w.iceExpiresAt, w.devices);
    for (const d of w.devices)
      if (d.deviceId !== this.deviceId) this.events.emit('peer', { deviceId: d.deviceId, online: d.online });
    for (const waiter of this.openWaiters.splice(0)) waiter.resolve();
  }

  private frame(f: RelayFrameIn): void {
    const waiter = f.re === undefined ? undefined : this.authWaiters.get(f.re);
    if (waiter !== undefined && (f.type === 'ack' || f.type === 'error')) {
      this.authWaiters.delete(f.re as string);
      if (f.type === 'ack') waiter.resolve();
      else {
        const e = f.payload as { code?: string; message?: string };
        waiter.reject(
          new OppieError('OPPIE_ERR_AUTH', `${e.code}: ${e.message ?? ''}`, {
            ...(e.code !== undefined && { relayCode: e.code }),
          }),
        );
      }
      return;
    }
    if (f.type === 'pair') {
      this.messaging.ackToRelay(f);
      this.messaging.serially(() => this.pairing.received(f));
      return;
    }
    if (f.type === 'presence') {
      const p = f.payload as { deviceId: string; online: boolean; revoked?: boolean };
      this.online.set(p.deviceId, p.online);
      // The relay refuses a revoked device from now on; a data channel to it is the one path it cannot close.
      if (p.revoked === true) this.forgetRevoked(p.deviceId);
      else this.directPaths.presence(p.deviceId, p.online);
      this.events.emit('peer', {
        deviceId: p.deviceId,
        online: p.online,
        ...(p.revoked === true && { revoked: true }),
      });
      return;
    }
    if (f.type === 'signal') {
      this.messaging.ackToRelay(f);
      // In frame order: the first signals of a new peer come right after the pairing frame that makes it known.
      this.messaging.serially(async () => this.directPaths.signal(f));
      return;
    }
    void this.messaging.received(f);
  }

  /**
   * Sends an application message end to end. Resolves when the peer acknowledged it (an encrypted receipt), rejects
   * with a code when it cannot be delivered. Without `to`, a PWA sends to its sidecar and a sidecar to every PWA.
   */
  async send(
    type: ApplicationType,
    payload: unknown,
    opts: { to?: string; priority?: 'high' | 'normal' | 'low' } = {},
  ): Promise<void> {
    if (!isApplicationType(type)) throw new OppieError('OPPIE_ERR_PROTOCOL', `unknown message type ${String(type)}`);
    const targets = opts.to !== undefined ? [opts.to] : this.peerSet.list().map((p) => p.deviceId);
    if (targets.length === 0) throw new OppieError('OPPIE_ERR_NOT_PAIRED');
    await Promise.all(targets.map((to) => this.messaging.send(to, type, payload, opts.priority)));
  }

  /** Sidecar: a one-time pairing link (show it as a QR code); `completed` resolves when a PWA proved the secret. */
  async createPairing() {
    return this.pairing.create();
  }

  /** PWA: claims the link's code, joins the sidecar's account and runs the end-to-end pairing proof. */
  async pair(link: string): Promise<PeerInfo & { sas: string }> {
    const result = await this.pairing.claim(
      link,
      this.options.name,
      async (accountId: string, token: string, expiresAt: number) => {
        await this.registered({ accountId, role: 'pwa' });
        this.cachedToken = { token, expiresAt };
        await this.connect();
      },
    );
    return result;
  }

  async devices() {
    return this.api.devices(await this.token());
  }

  async revoke(deviceId: string): Promise<void> {
    await this.api.revoke(await this.token(), deviceId);
    this.forgetRevoked(deviceId);
    if (this.peerSet.get(deviceId) !== undefined) await this.peerSet.remove(deviceId);
  }

  /** A revoked peer: its data channel closes, and what messaging kept of an unfinished transfer of its goes. */
  private forgetRevoked(deviceId: string): void {
    this.directPaths.forget(deviceId);
    this.messaging.forgetPeer(deviceId);
  }

  /**
   * Starts TOTP enrollment for the account (RFC 6238: SHA-1, 6 digits, 30 s). Show `uri` as a QR code for an
   * authenticator app; the enrollment stays pending until the first {@link stepUp} with a code from it.
   * Rejects with an OppieError whose `relayCode` is `RELAY_ERR_OTP_ALREADY_ENROLLED` once the account has OTP.
   *
   * @example
   * const { uri } = await client.enrollOtp();
   * showQrCode(uri);
   * await client.stepUp(prompt('code from your authenticator'));
   */
  async enrollOtp(): Promise<{ secret: string; uri: string }> {
    return this.api.enrollOtp(await this.token());
  }

  /**
   * OTP step-up: verifies `code` with the relay and makes the token with the fresh step-up the one this device uses
   * from then on: every later connection opens with it, and the live connection gets it in an `auth` frame,
   * acknowledged before this resolves, so an `approve` sent next is forwarded. A connection that drops (or is still
   * opening with the old token) before the ack is waited out: the frame goes again on the next connection, and the
   * call resolves once that one acknowledged it. Not connected (idle, closed): resolves at once, the next connection
   * uses the token. The first successful call also confirms a pending enrollment.
   *
   * Rejects with `relayCode` `RELAY_ERR_OTP_INVALID` for a wrong or reused code; with `OPPIE_ERR_TIMEOUT` when an
   * open connection does not acknowledge within `timeoutMs` (default {@link STEP_UP_ACK_TIMEOUT_MS}, 10 s); with
   * `OPPIE_ERR_CLOSED` when the client closes (or gives up reconnecting) first. In those two cases the step-up is kept
   * for the next connection; do not ask for another code.
   *
   * @example
   * if (client.stepUpRequired) await client.stepUp(code);
   * await client.send('approve', { planId });
   */
  async stepUp(code: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? STEP_UP_ACK_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`stepUp: timeoutMs must be a positive number of ms, got ${timeoutMs}`);
    }
    const res = await this.api.verifyOtp(await this.token(), code);
    // The code is spent: from here on the upgrade of every new connection presents this token (token() returns it).
    this.cachedToken = { token: res.token, expiresAt: res.expiresAt };
    this.scheduleRefresh(res.expiresAt);
    this.stepUpKnown = true;
    const state = this.connection.state;
    if (state === 'idle' || state === 'closed') return;
    await this.presentToken(res.token, timeoutMs);
  }

  /**
   * Hands `token` to the session in an `auth` frame and waits for the relay's ack. A connection that is not open yet,
   * or drops before the ack, may have been opened with an older token: the frame is sent again when the next
   * connection opens (the relay accepts the same token twice), and the ack timer runs only while a frame is out.
   */
  private presentToken(token: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let frameId: string | undefined;
      let timer: unknown;
      /** Forgets the frame in flight: answered, timed out, or lost with its socket. */
      const forget = () => {
        if (timer !== undefined) this.platform.timers.clearTimeout(timer);
        timer = undefined;
        if (frameId !== undefined) this.authWaiters.delete(frameId);
        frameId = undefined;
      };
      const settle = (err?: OppieError) => {
        forget();
        this.events.off('state', onState);
        if (err === undefined) resolve();
        else reject(err);
      };
      const send = () => {
        forget();
        const id = `auth-${this.platform.now()}-${Math.random().toString(36).slice(2, 8)}`;
        frameId = id;
        this.authWaiters.set(id, { resolve: () => settle(), reject: (e) => settle(e) });
        timer = this.platform.timers.setTimeout(
          () => settle(new OppieError('OPPIE_ERR_TIMEOUT', 'the relay did not acknowledge the step-up token')),
          timeoutMs,
        );
        // Not handed over: the socket is already going, and the next `open` sends again.
        if (!this.connection.send({ type: 'auth', id, timestamp: this.platform.now(), payload: { token } })) forget();
      };
      const onState = ({ to }: ClientEvents['state']) => {
        if (to === 'open') send();
        else if (to === 'closed' || to === 'idle') {
          settle(new OppieError('OPPIE_ERR_CLOSED', 'the connection ended before the step-up reached it'));
        } else forget(); // reconnecting: a frame or ack in flight died with the old socket
      };
      this.events.on('state', onState);
      if (this.connection.state === 'open') send();
    });
  }

  /**
   * Whether this account has OTP, so that `approve` needs a recent {@link stepUp} (the relay's window is
   * STEP_UP_MAX_AGE_SECONDS). From the last welcome; true after a successful stepUp.
   *
   * @example
   * if (client.stepUpRequired) await client.stepUp(await askForCode());
   */
  get stepUpRequired(): boolean {
    return this.stepUpKnown ?? this.welcome?.stepUpRequired ?? false;
  }

  /**
   * The relay's VAPID public key, for `pushManager.subscribe({ applicationServerKey })` (base64url; decode it to
   * bytes for browsers that want a BufferSource). Rejects with `relayCode` `RELAY_ERR_PUSH_DISABLED` when the
   * relay has Web Push off.
   *
   * @example
   * const key = await client.pushPublicKey();
   * const sub = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
   * await client.subscribePush(sub.toJSON());
   */
  async pushPublicKey(): Promise<string> {
    return this.api.vapidPublicKey();
  }

  /**
   * PWA: registers this device's push subscription (`PushSubscription.toJSON()`, whose fields the DOM types leave
   * optional), replacing the previous one. The relay then sends a wake-up push when a high-priority message waits
   * for this device while it is offline; the push carries only opaque ids, `{ t: 'wake', ids, from }`. The relay
   * checks the subscription: rejects with `relayCode` `RELAY_ERR_BAD_REQUEST` (endpoint or keys missing),
   * `RELAY_ERR_PUSH_SUBSCRIPTION_INVALID` (unusable) or `RELAY_ERR_ROLE_FORBIDDEN` (a sidecar).
   *
   * @example
   * await client.subscribePush(subscription.toJSON());
   */
  async subscribePush(sub: { endpoint?: string; keys?: Record<string, string> }): Promise<void> {
    await this.api.putPushSubscription(await this.token(), {
      endpoint: sub.endpoint ?? '',
      keys: { p256dh: sub.keys?.p256dh ?? '', auth: sub.keys?.auth ?? '' },
    });
  }

  /**
   * PWA: removes this device's push subscription (resolves also when there was none).
   *
   * @example
   * await subscription.unsubscribe();
   * await client.unsubscribePush();
   */
  async unsubscribePush(): Promise<void> {
    await this.api.deletePushSubscription(await this.token());
  }

  /**
   * Messages (frames) kept in the outbox until the peer acknowledges them, e.g. to show "3 waiting". They survive a
   * restart and are sent again on the next connection.
   */
  get pending(): { entries: number; bytes: number } {
    return this.messaging.unacknowledged;
  }

  /** Relay limits from the last welcome (frame size, rates), once connected. */
  get limits(): WelcomePayload['limits'] | undefined {
    return this.welcome?.limits;
  }

  /**
   * Closes the client: waits for auth and sends reject with `OPPIE_ERR_CLOSED`, and the relay connection and data
   * channels stop. Resolves once the store writes already under way have landed (the frame being handled, a send's
   * outbox write), so another client may open the same stores right after. A store that takes longer than
   * {@link CLOSE_DRAIN_MS} makes it reject with `OPPIE_ERR_TIMEOUT`, and its writes may still land later.
   *
   * @example
   * process.on('SIGTERM', async () => {
   *   await client.close();
   *   process.exit(0);
   * });
   */
  async close(): Promise<void> {
    for (const w of this.authWaiters.values()) w.reject(new OppieError('OPPIE_ERR_CLOSED'));
    this.authWaiters.clear();
    if (this.refreshTimer !== undefined) this.platform.timers.clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    const settled = this.messaging.close();
    this.directPaths.close();
    this.pairing.close();
    this.connection.stop('closed');
    let timer: unknown;
    const late = new Promise<never>((_, reject) => {
      timer = this.platform.timers.setTimeout(
        () =>
          reject(
            new OppieError('OPPIE_ERR_TIMEOUT', `store writes still under way ${CLOSE_DRAIN_MS} ms after close()`),
          ),
        CLOSE_DRAIN_MS,
      );
    });
    try {
      await Promise.race([settled, late]);
    } finally {
      this.platform.timers.clearTimeout(timer);
    }
  }
}
