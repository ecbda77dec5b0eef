/**
 * The WebSocket side of the relay: upgrades (auth first), connection lifecycle, heartbeats, slow consumers,
 * revocation kicks and graceful drain. Frame handling lives in Router, delivery in Delivery.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CLOSE_CODES, RelayError } from '@oppie/protocol';
import type { Logger } from 'pino';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AuthService, DeviceClaims } from '../auth/types.js';
import type { Cluster, DeviceLocation } from '../cluster/cluster.js';
import type { RelayConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { QueueStore } from '../queue/queue-store.js';
import type { QueuedEnvelope } from '../queue/queued-envelope.js';
import { iceServersFor, type TurnOptions } from '../turn/credentials.js';
import { Connection, type ConnectionSettings } from './connection.js';
import type { Delivery } from './delivery.js';
import type { Hub } from './hub.js';
import type { Router } from './router.js';
import { clientIp, refuseUpgrade, selectProtocol, tokenFromRequest } from './upgrade.js';

let connectionCounter = 0;

export class Gateway {
  readonly wss: WebSocketServer;
  private readonly upgradeLimiter: RateLimiterMemory;
  private readonly settings: ConnectionSettings;
  private draining = false;

  constructor(
    private readonly config: RelayConfig,
    private readonly hub: Hub,
    private readonly router: Router,
    private readonly delivery: Delivery,
    private readonly queues: QueueStore,
    private readonly auth: AuthService,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly turn: TurnOptions,
    private readonly cluster: Cluster,
    /** A device's connection is attached (the Web Push wake-up starts a new coalescing interval); must not throw. */
    private readonly deviceOnline: (deviceId: string, role: DeviceClaims['role']) => void = () => {},
    /**
     * A device's last connection here closed and its in-flight envelopes went back to its queue (not replaced by a
     * newer connection here or elsewhere): the Web Push wake-up for what bounced off a dead socket; must not throw.
     */
    /**
     * A connection closed and these in-flight envelopes went back to its queue (not called when the device went on
     * to another instance, which delivers them). Must not throw.
     */
    private readonly deviceReleased: (
      deviceId: string,
      role: DeviceClaims['role'],
      released: readonly QueuedEnvelope[],
    ) => void = () => {},
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      // Frames between maxFrameBytes and this hard limit get RELAY_ERR_PAYLOAD_TOO_LARGE and the connection lives
      // on; only frames beyond it make the WebSocket layer close with 1009.
      maxPayload: config.maxFrameBytes * 2 + 64 * 1024,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: selectProtocol,
    });
    this.upgradeLimiter = new RateLimiterMemory({ points: config.upgradesPerIpPerSecond, duration: 1 });
    this.settings = {
      envelopesPerSecond: config.envelopesPerSecond,
      envelopeBurst: config.envelopeBurst,
      sendBufferMaxBytes: config.sendBufferMaxBytes,
      inboundMaxBytes: Math.max(4 * config.maxFrameBytes, 4 * 1024 * 1024),
    };
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Handler for the HTTP server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    this.authorise(req)
      .then(({ claims, ip }) => {
        if (this.draining) throw new RelayError('RELAY_ERR_SHUTTING_DOWN');
        this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, claims, ip));
      })
      .catch((err: unknown) => {
        const e = err instanceof RelayError ? err : new RelayError('RELAY_ERR_INTERNAL', undefined, { cause: err });
        if (!(err instanceof RelayError)) this.log.error({ err }, 'upgrade failed');
        this.metrics.upgradesRefused.inc({ code: e.code });
        if (e.code.startsWith('RELAY_ERR_TOKEN') || e.code === 'RELAY_ERR_DEVICE_REVOKED') {
          this.metrics.authFailures.inc({ reason: e.code });
        }
        refuseUpgrade(socket, e, e.status === 503 ? { 'Retry-After': '1' } : {});
      });
  }

  private async authorise(req: IncomingMessage): Promise<{ claims: DeviceClaims; ip: string }> {
    const path = req.url?.split('?')[0];
    if (path !== '/session') throw new RelayError('RELAY_ERR_NOT_FOUND', 'WebSocket endpoint is /session');
    if (this.draining) throw new RelayError('RELAY_ERR_SHUTTING_DOWN');
    // Without the shared store a connection could neither receive its queue nor be found by other instances.
    if (!this.cluster.available)
      throw new RelayError('RELAY_ERR_STORE_UNAVAILABLE', 'the shared store (Redis) is unreachable');
    const ip = clientIp(req, this.config.trustProxy);
    try {
      await this.upgradeLimiter.consume(ip);
    } catch {
      this.metrics.rateLimited.inc({ limit: 'upgrades' });
      throw new RelayError('RELAY_ERR_RATE_LIMITED', 'too many WebSocket upgrades from this address');
    }
    const token = tokenFromRequest(req);
    if (token === undefined || token === '') throw new RelayError('RELAY_ERR_TOKEN_MISSING');
    const claims = await this.auth.verifyToken(token);
    if (this.hub.ipCount(ip) >= this.config.maxConnectionsPerIp) {
      throw new RelayError('RELAY_ERR_CONNECTION_LIMIT', 'too many connections from this address');
    }
    // The device's own older connection does not count: newest wins and replaces it.
    const own = this.hub.get(claims.deviceId) === undefined ? 0 : 1;
    if (this.hub.accountConnections(claims.accountId).size - own >= this.config.maxConnectionsPerAccount) {
      throw new RelayError('RELAY_ERR_CONNECTION_LIMIT', 'too many connections for this account');
    }
    return { claims, ip };
  }

  private attach(ws: WebSocket, claims: DeviceClaims, ip: string): void {
    const conn = new Connection(
      ws,
      `c${(++connectionCounter).toString(36)}`,
      claims.deviceId,
      claims.accountId,
      claims.role,
      ip,
      claims,
      this.settings,
      Date.now(),
    );
    const old = this.hub.add(conn);
    old?.close(CLOSE_CODES.SESSION_REPLACED, 'replaced by a newer connection');
    this.metrics.connections.inc({ role: conn.role });
    this.metrics.connectionsOpened.inc({ role: conn.role });

    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.received(conn, data, isBinary));
    ws.on('error', (err) => this.log.debug({ err, connection: conn.id }, 'socket error'));
    ws.on('close', (code) => this.closed(conn, code));
    conn.tail = this.open(conn, old !== undefined).catch((err) => this.fail(conn, err));
  }

  /**
   * Queues a frame on the connection's chain. Frames from a connection the relay is closing (revoked, replaced,
   * draining) are ignored: whatever it had not acknowledged is delivered again to its next connection. Frames waiting
   * to be handled are bounded in bytes: above the bound the socket stops reading until the chain catches up (TCP
   * backpressure to the client).
   */
  private received(conn: Connection, data: Buffer, isBinary: boolean): void {
    if (conn.closing) return;
    conn.inboundBytes += data.length;
    if (conn.inboundBytes > this.settings.inboundMaxBytes && !conn.ws.isPaused) conn.ws.pause();
    conn.tail = conn.tail
      .then(() => this.router.handle(conn, data, isBinary))
      .catch((err) => this.fail(conn, err))
      .finally(() => {
        conn.inboundBytes -= data.length;
        if (conn.ws.isPaused && conn.inboundBytes <= this.settings.inboundMaxBytes / 2) conn.ws.resume();
      });
  }

  /** Welcome, presence and the first delivery; runs first on the connection's frame chain. */
  private async open(conn: Connection, replaced: boolean): Promise<void> {
    const current = () => !conn.closing && this.hub.get(conn.deviceId) === conn;
    // Newest connection wins on every instance: an older one elsewhere closes when this is announced.
    await this.cluster.attach(conn.deviceId, this.location(conn));
    if (!current()) return;
    this.deviceOnline(conn.deviceId, conn.role);
    // Envelopes in flight to an older connection (replaced, or closed while its own release was pending) go back to
    // the queue before this connection may receive anything: delivery waits for `ready`.
    await this.queues.release(conn.deviceId);
    if (!current()) return;
    if (!this.hub.hasDirectory(conn.accountId)) {
      this.hub.loadingDirectory(conn.accountId);
      const devices = await this.auth.listDevices(conn.accountId);
      if (!current()) return;
      this.hub.setDirectory(
        conn.accountId,
        devices.map((d) => [d.id, { role: d.role, name: d.name }]),
      );
    }
    const stepUpRequired = await this.auth.accountRequiresStepUp(conn.accountId);
    const notHere = this.hub.notHere(conn.accountId);
    const elsewhere = await this.cluster.locate(notHere);
    if (!current()) return;
    this.hub.located(conn.accountId, notHere, elsewhere, this.cluster.instanceId);
    conn.sendFrame('welcome', {
      deviceId: conn.deviceId,
      accountId: conn.accountId,
      role: conn.role,
      connectionId: conn.id,
      serverTime: Date.now(),
      heartbeatMs: this.config.heartbeatSeconds * 1000,
      stepUpRequired,
      limits: {
        maxFrameBytes: this.config.maxFrameBytes,
        maxJsonDepth: this.config.maxJsonDepth,
        envelopesPerSecond: this.config.envelopesPerSecond,
        queueMaxCount: this.config.queueMaxCount,
        queueMaxBytes: this.config.queueMaxBytes,
        maxTtlMs: this.config.maxTtlSeconds * 1000,
      },
      devices: this.hub.presence(conn.accountId, elsewhere),
      ...(({ iceServers, expiresAt }) => ({ iceServers, iceExpiresAt: expiresAt }))(
        iceServersFor(this.turn, conn.deviceId, Date.now()),
      ),
    });
    conn.ready = true;
    if (!replaced) this.announce(conn.accountId, conn.deviceId, true);
    this.auth.touchDevice(conn.deviceId, Date.now());
    this.delivery.pump(conn.deviceId);
  }

  private closed(conn: Connection, code: number): void {
    const recorded = conn.closedWith ?? code;
    if (conn.closedWith === undefined) conn.closedWith = code;
    this.metrics.connections.dec({ role: conn.role });
    this.metrics.closes.inc({ code: closeLabel(recorded) });
    if (!this.hub.remove(conn)) return; // replaced here: the newer connection owns the queue now
    this.auth.touchDevice(conn.deviceId, Date.now());
    if (conn.ready && !conn.replacedElsewhere) this.announce(conn.accountId, conn.deviceId, false);
    this.cluster.detach(conn.deviceId, this.location(conn).connectionId).catch((err: unknown) => {
      // The location expires by itself (a few heartbeats); until then other instances see the device online.
      this.metrics.storeErrors.inc({ op: 'detach' });
      this.log.warn({ err, deviceId: conn.deviceId }, 'cluster detach failed');
    });
    this.queues
      .release(conn.deviceId)
      // Replaced on another instance: what this connection had in flight is pending again, so wake the new one.
      .then(async (released) => {
        if (conn.replacedElsewhere) await this.cluster.wake(conn.deviceId);
        else if (released.length > 0) this.deviceReleased(conn.deviceId, conn.role, released);
      })
      .catch((err: unknown) => {
        // The next connection of this device releases again before anything is delivered to it.
        this.metrics.storeErrors.inc({ op: 'release' });
        this.log.error({ err, deviceId: conn.deviceId }, 'queue release failed');
      });
  }

  /**
   * The device reported a new path: other instances read it from the shared presence (`/api/sessions` answers the
   * same everywhere), so it is written now rather than at the next heartbeat sweep, up to a heartbeat later. Only the
   * location of this very connection is touched (the refresh script checks the connection id).
   */
  pathChanged(conn: Connection): void {
    if (!this.cluster.shared || !conn.ready || conn.closing) return;
    this.cluster.refresh([[conn.deviceId, this.location(conn)]]).catch((err: unknown) => {
      // The next heartbeat sweep writes it again.
      this.metrics.storeErrors.inc({ op: 'presence' });
      this.log.warn({ err, deviceId: conn.deviceId }, 'path update failed');
    });
  }

  /** Where a connection held here is, as the other instances see it (connection ids are unique per process only). */
  location(conn: Connection): DeviceLocation {
    return {
      instance: this.cluster.instanceId,
      connectionId: `${this.cluster.instanceId}/${conn.id}`,
      path: conn.path,
      connectedAt: conn.connectedAt,
    };
  }

  /** Tells the account's other devices, here and on every other instance, that `deviceId` came or went. */
  announce(accountId: string, deviceId: string, online: boolean): void {
    this.hub.broadcastPresence(accountId, deviceId, online);
    this.cluster.publish({ kind: 'presence', accountId, deviceId, online });
  }

  /** The device connected again on another instance: close its connection here without announcing it offline. */
  replacedElsewhere(deviceId: string, connectionId: string): void {
    const conn = this.hub.get(deviceId);
    if (conn === undefined || this.location(conn).connectionId === connectionId) return;
    conn.replacedElsewhere = true;
    // Online there now. Its welcome may announce nothing (it replaced a connection still closing on that instance), so
    // this is the only word that the device, which was here, is elsewhere.
    this.hub.remotePresence(conn.accountId, deviceId, true);
    conn.close(CLOSE_CODES.SESSION_REPLACED, 'replaced by a newer connection');
  }

  /**
   * The shared store is back after an outage, during which presence events from other instances may have been lost:
   * reads which devices of the accounts here are online elsewhere again, and tells the devices here of every change.
   * One lookup of every device of those accounts, once per outage.
   */
  async resyncRemote(): Promise<void> {
    const accounts = this.hub.accountsNotHere();
    const ids = accounts.flatMap(([, notHere]) => notHere);
    if (ids.length === 0) return;
    const found = await this.cluster.locate(ids);
    for (const [accountId, notHere] of accounts) {
      for (const [id, online] of this.hub.located(accountId, notHere, found, this.cluster.instanceId)) {
        this.hub.broadcastPresence(accountId, id, online);
      }
    }
  }

  /** The shared store is gone: every client is told to reconnect (with backoff) and refused until it returns. */
  storeLost(): void {
    for (const c of [...this.hub.connections()]) c.close(CLOSE_CODES.STORE_UNAVAILABLE, 'shared store unavailable');
  }

  private fail(conn: Connection, err: unknown): void {
    this.log.error({ err, connection: conn.id }, 'connection failed');
    conn.close(CLOSE_CODES.INTERNAL, 'internal error');
  }

  /**
   * One sweep for every connection: terminate those that missed a heartbeat, close those whose token expired
   * without a refresh, close slow consumers (full window, no ack for slowConsumerSeconds), and ping the rest.
   */
  async heartbeat(now: number): Promise<void> {
    const slowMs = this.config.slowConsumerSeconds * 1000;
    if (this.cluster.shared) {
      await this.cluster
        .refresh([...this.hub.connections()].filter((c) => c.ready).map((c) => [c.deviceId, this.location(c)] as const))
        .catch((err: unknown) => {
          this.metrics.storeErrors.inc({ op: 'presence' });
          this.log.warn({ err }, 'presence refresh failed');
        });
      // Devices of a crashed instance were never announced offline: their locations expire, and this notices.
      const remote = this.hub.remoteDevices();
      if (remote.length > 0) {
        await this.cluster
          .locate(remote.map(([, id]) => id))
          .then((found) => this.hub.reconcileRemote(remote, found, this.cluster.instanceId))
          .catch((err: unknown) => {
            this.metrics.storeErrors.inc({ op: 'presence' });
            this.log.warn({ err }, 'presence check of other instances failed');
          });
      }
    }
    for (const conn of [...this.hub.connections()]) {
      if (!conn.alive) {
        conn.terminate(CLOSE_CODES.HEARTBEAT_TIMEOUT);
        continue;
      }
      if (now >= conn.expiresAt) {
        this.metrics.authFailures.inc({ reason: 'RELAY_ERR_TOKEN_EXPIRED' });
        conn.close(CLOSE_CODES.TOKEN_EXPIRED, 'token expired: reconnect or send auth with a fresh token');
        continue;
      }
      if (conn.stalledSince !== undefined && now - conn.stalledSince > slowMs) {
        conn.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer: send buffer not draining');
        continue;
      }
      const stats = await this.queues.stats(conn.deviceId);
      if (stats.inflight >= this.config.inflightMaxCount) {
        const oldest = await this.queues.oldestInflightAt(conn.deviceId);
        if (oldest !== undefined && now - oldest > slowMs) {
          conn.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer: no acks');
          continue;
        }
      }
      // Safety net: a delivery held back by a full send buffer resumes here if no ack woke it.
      if (stats.depth > stats.inflight) this.delivery.pump(conn.deviceId);
      conn.alive = false;
      conn.ws.ping();
    }
  }

  /**
   * Closes a revoked device's connection with the do-not-reconnect code. From this moment its frames are ignored
   * (see received()), and the socket is dropped if the client does not complete the close handshake promptly.
   */
  kick(deviceId: string): void {
    const conn = this.hub.get(deviceId);
    if (conn === undefined) return;
    conn.close(CLOSE_CODES.DEVICE_REVOKED, 'device revoked');
    setTimeout(() => conn.ws.terminate(), 2000).unref();
  }

  /** Stops accepting, tells every client to reconnect elsewhere, and waits (bounded) for the sockets to close. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const all = [...this.hub.connections()];
    const closed = all.map((c) => new Promise<void>((resolve) => c.ws.once('close', () => resolve())));
    for (const c of all) c.close(CLOSE_CODES.SHUTTING_DOWN, 'relay shutting down');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const c of this.hub.connections()) c.terminate(CLOSE_CODES.SHUTTING_DOWN);
  }
}

/** Close codes the relay or the standard defines; anything else a client sends is counted as "other". */
const KNOWN_CLOSE_CODES = new Set([
  1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011, 4000, 4001, 4002, 4003, 4004, 4005, 4500, 4501,
]);

function closeLabel(code: number): string {
  return KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other';
}
