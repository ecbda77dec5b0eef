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
import type { RelayConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { QueueStore } from '../queue/queue-store.js';
import { Connection } from './connection.js';
import type { Delivery } from './delivery.js';
import type { Hub } from './hub.js';
import type { Router } from './router.js';
import { clientIp, refuseUpgrade, selectProtocol, tokenFromRequest } from './upgrade.js';

let connectionCounter = 0;

export class Gateway {
  readonly wss: WebSocketServer;
  private readonly upgradeLimiter: RateLimiterMemory;
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
    const now = Date.now();
    const conn = new Connection(
      ws,
      `c${(++connectionCounter).toString(36)}`,
      claims.deviceId,
      claims.accountId,
      claims.role,
      ip,
      claims,
      { perSecond: this.config.envelopesPerSecond, burst: this.config.envelopeBurst },
      now,
    );
    const old = this.hub.add(conn);
    old?.close(CLOSE_CODES.SESSION_REPLACED, 'replaced by a newer connection');
    this.metrics.connections.inc({ role: conn.role });
    this.metrics.connectionsOpened.inc({ role: conn.role });

    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      conn.alive = true;
      conn.tail = conn.tail.then(() => this.router.handle(conn, data, isBinary)).catch((err) => this.fail(conn, err));
    });
    ws.on('error', (err) => this.log.debug({ err, connection: conn.id }, 'socket error'));
    ws.on('close', (code) => this.closed(conn, code));
    conn.tail = this.open(conn, old !== undefined).catch((err) => this.fail(conn, err));
  }

  /** Welcome, presence and the first delivery; runs first on the connection's frame chain. */
  private async open(conn: Connection, replaced: boolean): Promise<void> {
    if (!this.hub.hasDirectory(conn.accountId)) {
      const devices = await this.auth.listDevices(conn.accountId);
      this.hub.setDirectory(
        conn.accountId,
        devices.map((d) => [d.id, { role: d.role, name: d.name }]),
      );
    }
    const stepUpRequired = await this.auth.accountRequiresStepUp(conn.accountId);
    if (replaced) await this.queues.release(conn.deviceId);
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
      devices: this.hub.presence(conn.accountId),
    });
    if (!replaced) this.hub.broadcastPresence(conn.accountId, conn.deviceId, true);
    this.auth.touchDevice(conn.deviceId, Date.now());
    this.delivery.pump(conn.deviceId);
  }

  private closed(conn: Connection, code: number): void {
    const recorded = conn.closedWith ?? code;
    if (conn.closedWith === undefined) conn.closedWith = code;
    this.metrics.connections.dec({ role: conn.role });
    this.metrics.closes.inc({ code: String(recorded) });
    if (!this.hub.remove(conn)) return; // replaced: the newer connection owns the queue now
    this.auth.touchDevice(conn.deviceId, Date.now());
    this.hub.broadcastPresence(conn.accountId, conn.deviceId, false);
    this.queues.release(conn.deviceId).catch((err) => this.log.error({ err }, 'queue release failed'));
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
      const stats = await this.queues.stats(conn.deviceId);
      if (stats.inflight >= this.config.inflightMaxCount) {
        const oldest = await this.queues.oldestInflightAt(conn.deviceId);
        if (oldest !== undefined && now - oldest > slowMs) {
          conn.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer: no acks');
          continue;
        }
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  /** Closes a revoked device's connection with the do-not-reconnect code. */
  kick(deviceId: string): void {
    this.hub.get(deviceId)?.close(CLOSE_CODES.DEVICE_REVOKED, 'device revoked');
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
