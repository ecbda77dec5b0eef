/**
 * Per-frame handling for a live connection: validate, authorise, rate-limit, deduplicate, enqueue, acknowledge.
 * A refused frame gets an `error` frame naming its id and code; the connection and its other traffic go on.
 */
import {
  type DeviceControlEnvelope,
  dialsDirectPath,
  ERROR_CODES,
  type ErrorCode,
  type FrameLimits,
  isRoutedType,
  parseDeviceFrame,
  RelayError,
  ROUTE_RULES,
  type RoleName,
  type RoutedEnvelope,
} from '@oppie/protocol';
import type { Audit } from '../audit.js';
import type { AuthService } from '../auth/types.js';
import type { Metrics, TrafficCounters } from '../metrics.js';
import type { DedupeStore } from '../queue/dedupe.js';
import type { QueueStore } from '../queue/queue-store.js';
import type { QueuedEnvelope } from '../queue/queued-envelope.js';
import type { Connection } from './connection.js';
import type { Delivery } from './delivery.js';
import type { Hub } from './hub.js';

export interface RouterOptions extends FrameLimits {
  readonly maxTtlMs: number;
  readonly clockSkewMs: number;
  readonly stepUpMaxAgeMs: number;
}

export class Router {
  constructor(
    private readonly hub: Hub,
    private readonly queues: QueueStore,
    private readonly dedupe: DedupeStore,
    private readonly delivery: Delivery,
    private readonly auth: AuthService,
    private readonly metrics: Metrics,
    private readonly traffic: TrafficCounters,
    private readonly audit: Audit,
    private readonly opts: RouterOptions,
    /** An envelope was queued for a device connected nowhere (the Web Push wake-up); must not block or throw. */
    private readonly queuedOffline: (entry: QueuedEnvelope, role: RoleName | undefined) => void = () => {},
    /** A transport report changed the path of the reporting device (`conn.path`); must not block or throw. */
    private readonly pathChanged: (conn: Connection) => void = () => {},
  ) {}

  /** Handles one WebSocket message. Never throws: failures become error frames with a code. */
  async handle(conn: Connection, data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary) return this.refuse(conn, 'RELAY_ERR_BINARY_UNSUPPORTED');
    // An oversize frame is refused on its length alone: do not decode it.
    const text = data.length > this.opts.maxFrameBytes ? '' : data.toString('utf8');
    const result = parseDeviceFrame(text, data.length, this.opts);
    if (!result.ok) return this.refuse(conn, result.code, result.message, result.id, result.type);
    const env = result.envelope;
    // Every frame but an ack spends a token: acks only shrink relay state, and a receiver batches them anyway.
    if (env.type !== 'ack' && !conn.bucket.take(Date.now())) {
      this.metrics.rateLimited.inc({ limit: 'envelopes' });
      return this.refuse(conn, 'RELAY_ERR_RATE_LIMITED', 'envelope rate limit exceeded', env.id, env.type);
    }
    try {
      if (isRoutedType(env.type)) await this.routed(conn, env as RoutedEnvelope, text, data.length);
      else await this.control(conn, env as DeviceControlEnvelope);
    } catch (err) {
      if (err instanceof RelayError) return this.refuse(conn, err.code, err.message, env.id, env.type);
      throw err;
    }
  }

  private refuse(conn: Connection, code: ErrorCode, message?: string, id?: string, type?: string): void {
    this.metrics.refused.inc({ code });
    conn.sendError(code, message ?? ERROR_CODES[code].message, id, type);
  }

  private async routed(conn: Connection, env: RoutedEnvelope, text: string, bytes: number): Promise<void> {
    const now = Date.now();
    if (env.metadata.deviceId !== conn.deviceId) throw new RelayError('RELAY_ERR_SENDER_MISMATCH');
    // Unknown devices and devices of other accounts get the same answer: existence is not disclosed.
    if (this.hub.directory(conn.accountId)?.has(env.to) !== true) throw new RelayError('RELAY_ERR_RECIPIENT_FORBIDDEN');
    if (env.type === 'approve') await this.checkStepUp(conn, env, now);
    if (await this.dedupe.seen(conn.deviceId, env.id)) {
      this.metrics.duplicates.inc();
      conn.ack(env.id, 'duplicate');
      return;
    }
    this.traffic.count(env.type, 'in', bytes);

    const rule = ROUTE_RULES[env.type];
    const ttl = Math.min(env.ttl ?? rule.defaultTtlMs, rule.maxTtlMs ?? this.opts.maxTtlMs, this.opts.maxTtlMs);
    // TTL runs from the sender's timestamp (allowing for clock skew) and never past the relay's own clock + ttl, so
    // a frame that sat in an offline sender's outbox for longer than its TTL is not delivered stale.
    const expiresAt = Math.min(now + ttl, env.timestamp + ttl + this.opts.clockSkewMs);
    const entry: QueuedEnvelope = {
      id: env.id,
      from: conn.deviceId,
      to: env.to,
      type: env.type,
      priority: env.metadata.priority ?? rule.priority,
      text,
      bytes,
      acceptedAt: now,
      expiresAt,
    };
    if (expiresAt <= now) {
      await this.delivery.expired([entry], 'enqueue'); // which forgets its id
      return;
    }
    let evicted: QueuedEnvelope[];
    try {
      evicted = await this.queues.enqueue(entry);
    } catch (err) {
      // Not accepted: the sender resends it after its reconnect, and that resend must not be taken as a duplicate.
      await this.dedupe.forget(conn.deviceId, env.id);
      throw new RelayError('RELAY_ERR_STORE_UNAVAILABLE', undefined, { cause: err });
    }
    const accepted = !evicted.includes(entry);
    const here = this.hub.get(env.to) !== undefined;
    if (accepted) {
      // Connected to another instance: that one is woken (one hop) and delivers from the shared queue.
      const elsewhere = !here && (await this.delivery.wakeElsewhere(env.to));
      conn.ack(env.id, here || elsewhere ? 'forwarded' : 'queued');
      if (!here && !elsewhere) this.queuedOffline(entry, this.hub.directory(conn.accountId)?.get(env.to)?.role);
      if (env.type === 'approve') {
        this.audit.log('approve.forwarded', { from: conn.deviceId, to: env.to, account: conn.accountId, id: env.id });
      }
    }
    // An evicted `entry` itself is reported too, and its id forgotten so a resend is taken as new.
    if (evicted.length > 0) await this.delivery.dropped(evicted, 'queue_full');
    if (here) this.delivery.pump(env.to);
  }

  private async checkStepUp(conn: Connection, env: RoutedEnvelope, now: number): Promise<void> {
    if (!(await this.auth.accountRequiresStepUp(conn.accountId))) return;
    if (conn.stepUpAt !== undefined && now - conn.stepUpAt <= this.opts.stepUpMaxAgeMs) return;
    this.audit.log('approve.refused', { from: conn.deviceId, to: env.to, account: conn.accountId, id: env.id });
    throw new RelayError('RELAY_ERR_STEP_UP_REQUIRED');
  }

  private async control(conn: Connection, env: DeviceControlEnvelope): Promise<void> {
    switch (env.type) {
      case 'ack':
        await this.delivery.acked(conn.deviceId, env.payload.ids, env.payload.from);
        return;
      case 'ping':
        conn.sendFrame(
          'pong',
          env.payload.t === undefined ? { serverTime: Date.now() } : { t: env.payload.t, serverTime: Date.now() },
          env.id,
        );
        return;
      case 'auth': {
        const claims = await this.auth.verifyToken(env.payload.token);
        if (claims.deviceId !== conn.deviceId) {
          throw new RelayError('RELAY_ERR_TOKEN_CLAIMS_INVALID', 'the token belongs to another device');
        }
        if (claims.stepUpAt !== undefined) conn.stepUpAt = Math.max(conn.stepUpAt ?? 0, claims.stepUpAt);
        conn.expiresAt = Math.max(conn.expiresAt, claims.expiresAt);
        conn.sendFrame('ack', { ids: [env.id], status: 'applied' }, env.id);
        return;
      }
      case 'transport': {
        const p = env.payload;
        if (p.peer === conn.deviceId || this.hub.directory(conn.accountId)?.has(p.peer) !== true) {
          throw new RelayError('RELAY_ERR_RECIPIENT_FORBIDDEN', 'transport report about a device outside your account');
        }
        if (conn.reported(p.peer, p.path)) this.pathChanged(conn);
        // The dialing side (the smaller id) alone speaks for an attempt, so each is counted once whatever the other
        // end sends; an upgrade is to a data channel, never to the relay.
        const outcome =
          dialsDirectPath(conn.deviceId, p.peer) && !(p.outcome === 'upgraded' && p.path === 'relay')
            ? p.outcome
            : undefined;
        this.metrics.transportReports.inc({ path: p.path, outcome: outcome ?? 'none' });
        if (outcome === 'upgraded' && p.setupMs !== undefined) {
          this.metrics.timeToDirect.observe({ path: p.path }, p.setupMs / 1000);
        }
        // Both ends report, each the bytes it sent and received: counting what each sent counts every byte once.
        if (p.bytesSent !== undefined && p.bytesSent > 0) this.metrics.pathBytes.inc({ path: p.path }, p.bytesSent);
        return;
      }
      case 'hello':
        // Informational: the SDK and version help operators read logs; nothing else depends on it.
        return;
    }
  }
}
