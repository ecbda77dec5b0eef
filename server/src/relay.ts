/**
 * Composition of the relay: store, auth, HTTP routes, WebSocket gateway, timers, and an orderly shutdown.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CLOSE_CODES } from '@oppie/protocol';
import pino, { type Logger } from 'pino';
import { type Audit, createAudit } from './audit.js';
import { createAuth, registerAuthRoutes } from './auth/index.js';
import type { AuthService } from './auth/types.js';
import { type Cluster, type DeviceLocation, SingleInstance } from './cluster/cluster.js';
import { openRedisEngine } from './cluster/redis-engine.js';
import type { RelayConfig } from './config.js';
import { type App, createApp } from './http/app.js';
import { registerHealthRoute } from './http/routes/health.js';
import { registerMetricsRoute } from './http/routes/metrics.js';
import { registerPushRoutes } from './http/routes/push.js';
import { registerSchemaRoute } from './http/routes/schema.js';
import { registerSessionsRoute } from './http/routes/sessions.js';
import { registerTurnRoute } from './http/routes/turn.js';
import { createMetrics, type Metrics, TrafficCounters } from './metrics.js';
import { createPush, type Push, wakes } from './push/index.js';
import { MemoryDedupeStore } from './queue/dedupe.js';
import { MemoryQueueStore, type QueueStore } from './queue/queue-store.js';
import { openDatabase } from './store/sqlite/database.js';
import { turnOptions } from './turn/credentials.js';
import { VERSION } from './version.js';
import { Delivery } from './ws/delivery.js';
import { Gateway } from './ws/gateway.js';
import { type DirectoryEntry, Hub } from './ws/hub.js';
import { Router } from './ws/router.js';

export interface RelayOptions {
  readonly config: RelayConfig;
  /** Service logger; default: pino to stdout at config.logLevel. */
  readonly logger?: Logger;
  /** Audit log; default: config.auditLog or DATA_DIR/audit.jsonl. */
  readonly audit?: Audit;
}

export interface Relay {
  /** Listens on config.host:config.port; resolves with the base URL (http or https). */
  start(): Promise<{ url: string; port: number }>;
  /** Graceful shutdown: refuse new work, close sockets with 4000 (reconnect), flush, release the store. */
  close(): Promise<void>;
  readonly app: App;
  readonly auth: AuthService;
  readonly metrics: Metrics;
  readonly queues: QueueStore;
  readonly hub: Hub;
  /** Web Push wake-up: subscriptions and the trigger (a no-op service when PUSH_ENABLED is off). */
  readonly push: Push;
}

const NOTICE_TTL_MS = 24 * 3600 * 1000;
const SWEEP_MS = 1000;
/** A Redis blip shorter than this keeps the sockets; a longer outage closes them with 4003 (reconnect). */
const STORE_LOSS_GRACE_MS = 2000;

/**
 * Creates a relay from a validated configuration.
 *
 * @example
 * const relay = await createRelay({ config: loadConfig(process.env) });
 * const { url } = await relay.start();
 * process.on('SIGTERM', () => relay.close());
 */
export async function createRelay(options: RelayOptions): Promise<Relay> {
  const { config } = options;
  const logger =
    options.logger ??
    pino({
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]'], censor: '[redacted]' },
    });
  const audit = options.audit ?? createAudit(config.auditLog ?? join(config.dataDir, 'audit.jsonl'));
  const metrics = createMetrics();
  const traffic = new TrafficCounters(metrics);
  const redisUrl = config.redisUrl;
  const shared =
    redisUrl === undefined
      ? undefined
      : await openRedisEngine({ ...config, redisUrl }, logger, (err, op) => {
          metrics.storeErrors.inc({ op: `cluster_${op}` });
          logger.debug({ err, op }, 'cluster operation failed');
        });
  const cluster: Cluster = shared?.cluster ?? new SingleInstance();
  const db = openDatabase(config.dataDir);
  const auth = await createAuth({
    config,
    db,
    audit,
    metrics,
    logger,
    stores: shared?.stores,
    limiters: shared?.limiters,
  });

  const push = await createPush({ config, db, shared: shared?.push, metrics, logger });
  const hub = new Hub();
  const queues: QueueStore =
    shared?.queues ?? new MemoryQueueStore({ maxCount: config.queueMaxCount, maxBytes: config.queueMaxBytes });
  const dedupe = new MemoryDedupeStore(config.dedupeWindow);
  const delivery = new Delivery(
    hub,
    queues,
    dedupe,
    metrics,
    traffic,
    {
      inflightMaxCount: config.inflightMaxCount,
      sendWatermarkBytes: Math.min(1024 * 1024, config.sendBufferMaxBytes / 2),
      noticeTtlMs: Math.min(NOTICE_TTL_MS, config.maxTtlSeconds * 1000),
    },
    (err, deviceId) => {
      // The store failed mid-delivery: close so the device reconnects, which releases its in-flight entries.
      metrics.storeErrors.inc({ op: 'deliver' });
      logger.error({ err, deviceId }, 'delivery failed');
      hub.get(deviceId)?.close(CLOSE_CODES.STORE_UNAVAILABLE, 'store unavailable');
    },
    cluster,
  );
  const router = new Router(
    hub,
    queues,
    dedupe,
    delivery,
    auth,
    metrics,
    traffic,
    audit,
    {
      maxFrameBytes: config.maxFrameBytes,
      maxJsonDepth: config.maxJsonDepth,
      maxTtlMs: config.maxTtlSeconds * 1000,
      clockSkewMs: config.clockSkewSeconds * 1000,
      stepUpMaxAgeMs: config.stepUpMaxAgeSeconds * 1000,
    },
    push.queued,
    (conn) => gateway.pathChanged(conn),
  );
  const turn = turnOptions(config);
  const gateway = new Gateway(
    config,
    hub,
    router,
    delivery,
    queues,
    auth,
    metrics,
    logger,
    turn,
    cluster,
    (id, role) => {
      if (role === 'pwa') push.online(id);
    },
    (id, role, released) => {
      // Reconnected here meanwhile: the new connection takes the released envelopes, nothing to wake.
      if (role !== 'pwa' || hub.get(id) !== undefined) return;
      const wakeFor = released.filter(wakes);
      if (wakeFor.length === 0) return;
      // Connected on another instance: that one delivers them, nothing to wake.
      cluster.locate([id]).then(
        (found) => {
          if (!found.has(id)) push.released(wakeFor);
        },
        (err: unknown) => {
          // Unknown whether it is connected elsewhere: wake it (a spare notification beats a missed approval).
          metrics.storeErrors.inc({ op: 'push_locate' });
          logger.warn({ err, deviceId: id }, 'device location unknown after release; waking it');
          push.released(wakeFor);
        },
      );
    },
  );

  /** What every instance does about a revocation, wherever it was made. */
  const revokedHere = (accountId: string, deviceId: string) => {
    gateway.kick(deviceId);
    for (const conn of hub.revoke(accountId, deviceId)) gateway.pathChanged(conn);
  };
  const deviceAddedHere = (accountId: string, deviceId: string, entry: DirectoryEntry) => {
    hub.addToDirectory(accountId, deviceId, entry);
    hub.broadcastPresence(accountId, deviceId, false);
  };
  auth.events.on('deviceRevoked', ({ deviceId, accountId }) => {
    revokedHere(accountId, deviceId);
    cluster.publish({ kind: 'revoked', accountId, deviceId });
    push.revoked(deviceId).catch((err) => {
      metrics.storeErrors.inc({ op: 'push_revoke' });
      logger.error({ err, deviceId }, 'push subscription removal after revoke failed');
    });
    queues
      .purge(deviceId)
      .then((entries) => delivery.dropped(entries, 'recipient_revoked'))
      .catch((err) => {
        metrics.storeErrors.inc({ op: 'purge' });
        logger.error({ err, deviceId }, 'purge after revoke failed');
      });
  });
  auth.events.on('deviceAdded', (d) => {
    deviceAddedHere(d.accountId, d.id, { role: d.role, name: d.name });
    cluster.publish({ kind: 'deviceAdded', accountId: d.accountId, deviceId: d.id, role: d.role, name: d.name });
  });
  let storeLoss: NodeJS.Timeout | undefined;
  await cluster.start({
    wake: (deviceId) => delivery.pumpHeld(deviceId),
    replaced: (deviceId, connectionId) => gateway.replacedElsewhere(deviceId, connectionId),
    event(e) {
      if (e.kind === 'presence') {
        hub.remotePresence(e.accountId, e.deviceId, e.online);
        hub.broadcastPresence(e.accountId, e.deviceId, e.online);
      } else if (e.kind === 'revoked') {
        auth.revokedElsewhere(e.deviceId);
        revokedHere(e.accountId, e.deviceId);
      } else if (e.kind === 'forget') {
        // Checked although it comes from another instance: a malformed event must not throw in the subscriber.
        const { senderId, ids } = e as { senderId: unknown; ids: unknown };
        if (typeof senderId === 'string' && Array.isArray(ids)) {
          for (const id of ids) if (typeof id === 'string') void dedupe.forget(senderId, id);
        }
      } else if (e.kind === 'deviceAdded') {
        deviceAddedHere(e.accountId, e.deviceId, { role: e.role, name: e.name });
      }
      // Any other kind comes from a newer instance during a rolling upgrade: ignored here.
    },
    availability(up) {
      clearTimeout(storeLoss);
      storeLoss = undefined;
      if (up) {
        logger.warn('shared store (Redis) reachable again: accepting connections');
        // Wake-ups published while this instance was cut off are lost: deliver every held queue now.
        for (const c of hub.connections()) delivery.pump(c.deviceId);
        // So are other instances' forgets: an id remembered here whose envelope was dropped there would refuse the
        // sender's resend as a duplicate for good. Forgetting every id instead lets resends of envelopes still queued
        // (a reconnecting SDK resends its unacknowledged window) be queued again; the recipient's SDK drops them.
        void dedupe.clear();
        // So are presence events: who is online on the other instances is read again.
        gateway.resyncRemote().catch((err: unknown) => {
          metrics.storeErrors.inc({ op: 'presence' });
          logger.warn({ err }, 'presence of other instances not read again after the outage');
        });
        return;
      }
      logger.error('shared store (Redis) unreachable: refusing new connections');
      storeLoss = setTimeout(() => {
        if (!cluster.available) gateway.storeLost();
      }, STORE_LOSS_GRACE_MS);
      storeLoss.unref();
    },
  });
  /** Where devices are connected: here (from the hub) or on another instance (from the shared store). */
  const locate = async (ids: readonly string[]): Promise<Map<string, DeviceLocation>> => {
    const found = new Map<string, DeviceLocation>();
    const rest: string[] = [];
    for (const id of ids) {
      const c = hub.get(id);
      if (c === undefined) rest.push(id);
      else found.set(id, gateway.location(c));
    }
    for (const [id, loc] of await cluster.locate(rest)) found.set(id, loc);
    return found;
  };

  const https =
    config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
      ? { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) }
      : undefined;
  const app = await createApp({
    logger,
    trustProxy: config.trustProxy,
    https,
    publicUrl: config.issuer,
    version: VERSION,
    corsOrigins:
      config.corsOrigins === undefined
        ? undefined
        : config.corsOrigins.trim() === '*'
          ? '*'
          : config.corsOrigins
              .split(',')
              .map((o) => o.trim())
              .filter(Boolean),
  });
  const startedAt = Date.now();
  const updateGauges = () => {
    const t = queues.totals();
    metrics.queueDepth.set(t.depth);
    metrics.queueBytes.set(t.bytes);
    const paths = hub.sessionPaths();
    for (const [path, n] of Object.entries(paths)) metrics.transportPaths.set({ path }, n);
    const all = paths.relay + paths.turn + paths.direct;
    metrics.fallbackRatio.set(all === 0 ? 0 : paths.relay / all);
  };
  registerAuthRoutes(app, { auth, config, online: async (ids) => new Set((await locate(ids)).keys()) });
  registerSessionsRoute(app, { auth, locate, queues });
  registerTurnRoute(app, { auth, turn });
  registerPushRoutes(app, { auth, push });
  registerHealthRoute(app, {
    startedAt,
    draining: () => gateway.isDraining,
    connections: () => hub.size,
    checks: { store: () => auth.checkHealth(), ...(cluster.shared && { redis: () => cluster.ping() }) },
  });
  registerMetricsRoute(app, metrics.registry, updateGauges);
  registerSchemaRoute(app);
  app.server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));

  const timers: NodeJS.Timeout[] = [];
  let closing: Promise<void> | undefined;

  return {
    app,
    auth,
    metrics,
    queues,
    hub,
    push,
    async start() {
      await app.listen({ host: config.host, port: config.port });
      const port = (app.server.address() as AddressInfo).port;
      timers.push(
        setInterval(() => {
          gateway.heartbeat(Date.now()).catch((err) => logger.error({ err }, 'heartbeat sweep failed'));
        }, config.heartbeatSeconds * 1000),
        setInterval(() => {
          queues
            .sweep(Date.now())
            .then((expired) => (expired.length > 0 ? delivery.expired(expired, 'sweep') : undefined))
            .catch((err) => {
              metrics.storeErrors.inc({ op: 'sweep' });
              logger.error({ err }, 'expiry sweep failed');
            });
          updateGauges();
        }, SWEEP_MS),
      );
      for (const t of timers) t.unref();
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const url = `${https ? 'https' : 'http'}://${host}:${port}`;
      logger.info({ url, registration: config.registration, dataDir: config.dataDir }, 'relay listening');
      return { url, port };
    },
    close() {
      closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        await gateway.drain(config.shutdownGraceSeconds * 1000);
        await app.close();
        await push.close();
        clearTimeout(storeLoss);
        await queues.close();
        await auth.close();
        await shared?.close();
        db.close();
        await audit.flush();
        logger.info('relay stopped');
      })();
      return closing;
    },
  };
}
