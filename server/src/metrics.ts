/**
 * Prometheus metrics, all named `oppie_relay_*`. Labels are bounded enums (type, direction, reason, role, path):
 * never a device, account or user id, so cardinality stays fixed however many devices connect.
 */
import { isApplicationType, type Priority } from '@oppie/protocol';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'oppie_relay_' });
  const r = [registry];
  return {
    registry,
    connections: new Gauge({
      name: 'oppie_relay_connections',
      help: 'Live authenticated WebSocket connections by role.',
      labelNames: ['role'] as const,
      registers: r,
    }),
    connectionsOpened: new Counter({
      name: 'oppie_relay_connections_opened_total',
      help: 'WebSocket connections accepted, by role.',
      labelNames: ['role'] as const,
      registers: r,
    }),
    upgradesRefused: new Counter({
      name: 'oppie_relay_upgrades_refused_total',
      help: 'WebSocket upgrades refused before the socket opened, by error code.',
      labelNames: ['code'] as const,
      registers: r,
    }),
    closes: new Counter({
      name: 'oppie_relay_close_codes_total',
      help: 'Connections closed, by WebSocket close code.',
      labelNames: ['code'] as const,
      registers: r,
    }),
    envelopes: new Counter({
      name: 'oppie_relay_envelopes_total',
      help: 'Envelopes by type and direction (in: from a device; out: to a device).',
      labelNames: ['type', 'direction'] as const,
      registers: r,
    }),
    bytes: new Counter({
      name: 'oppie_relay_bytes_total',
      help: 'Envelope bytes by type and direction.',
      labelNames: ['type', 'direction'] as const,
      registers: r,
    }),
    refused: new Counter({
      name: 'oppie_relay_envelopes_refused_total',
      help: 'Envelopes refused with an error, by error code.',
      labelNames: ['code'] as const,
      registers: r,
    }),
    rateLimited: new Counter({
      name: 'oppie_relay_rate_limited_total',
      help: 'Requests refused by a rate limit, by limit.',
      labelNames: ['limit'] as const,
      registers: r,
    }),
    deliveryLatency: new Histogram({
      name: 'oppie_relay_delivery_latency_seconds',
      help: 'From the relay accepting an envelope to the recipient acknowledging it.',
      labelNames: ['priority'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30, 300, 3600],
      registers: r,
    }),
    queueDepth: new Gauge({
      name: 'oppie_relay_queue_depth',
      help: 'Envelopes held for recipients (queued plus in flight), all devices.',
      registers: r,
    }),
    queueBytes: new Gauge({
      name: 'oppie_relay_queue_bytes',
      help: 'Bytes held for recipients (queued plus in flight), all devices.',
      registers: r,
    }),
    queueDrops: new Counter({
      name: 'oppie_relay_queue_drops_total',
      help: 'Envelopes dropped before delivery, by reason.',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    queueExpired: new Counter({
      name: 'oppie_relay_queue_expired_total',
      help: 'Envelopes that expired (TTL) before delivery, by where the expiry was seen.',
      labelNames: ['stage'] as const,
      registers: r,
    }),
    duplicates: new Counter({
      name: 'oppie_relay_duplicates_total',
      help: 'Envelopes whose id was already seen from the sender; acknowledged, not forwarded again.',
      registers: r,
    }),
    authFailures: new Counter({
      name: 'oppie_relay_auth_failures_total',
      help: 'Authentication failures, by error code.',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    tokensIssued: new Counter({
      name: 'oppie_relay_tokens_issued_total',
      help: 'Access tokens issued, by how (register, token, pair, otp).',
      labelNames: ['via'] as const,
      registers: r,
    }),
    pairing: new Counter({
      name: 'oppie_relay_pairing_total',
      help: 'Pairing events by outcome (created, claimed, wrong_code, expired, burnt).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    otp: new Counter({
      name: 'oppie_relay_otp_total',
      help: 'OTP events by outcome (enrolled, verified, failed).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    storeErrors: new Counter({
      name: 'oppie_relay_store_errors_total',
      help: 'Failed store operations on the delivery path, by operation; the affected connection is closed with 4003.',
      labelNames: ['op'] as const,
      registers: r,
    }),
    replayCacheEvictions: new Counter({
      name: 'oppie_relay_replay_cache_evictions_total',
      help: 'Challenges and proof nonces dropped from the replay cache, by reason (expired, capacity).',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    transportPaths: new Gauge({
      name: 'oppie_relay_sessions_by_path',
      help: 'Live sessions (a PWA and a sidecar of one account, both connected) by their path, as the dialing device last reported it; each counted by the instance holding the dialing device.',
      labelNames: ['path'] as const,
      registers: r,
    }),
    timeToDirect: new Histogram({
      name: 'oppie_relay_upgrade_setup_seconds',
      help: 'Time from the start of an upgrade attempt to a working data channel, by the path it reached.',
      labelNames: ['path'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: r,
    }),
    pathBytes: new Counter({
      name: 'oppie_relay_path_bytes_total',
      help: 'Application bytes by path: direct and turn as the SDKs report sending them on a data channel, relay as the relay took them in (application frames and receipts).',
      labelNames: ['path'] as const,
      registers: r,
    }),
    fallbackRatio: new Gauge({
      name: 'oppie_relay_fallback_ratio',
      help: 'Share of the live sessions counted here that are on the relay (0 when there are none).',
      registers: r,
    }),
    push: new Counter({
      name: 'oppie_relay_push_total',
      help: 'Web Push wake-ups by outcome (sent, gone: subscription deleted after 404/410, failed, dropped: queue full, coalesced).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    transportReports: new Counter({
      name: 'oppie_relay_transport_reports_total',
      help: 'Transport reports from SDKs, by path and upgrade outcome.',
      labelNames: ['path', 'outcome'] as const,
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Per-envelope counters on the hot path. prom-client hashes the label set on every `inc({...})`; the label values here
 * are a handful of message types and directions, so their children are looked up once and kept.
 */
interface TypeCounters {
  readonly envelopes: Counter.Internal;
  readonly bytes: Counter.Internal;
  readonly relayPath: Counter.Internal | undefined;
}

export class TrafficCounters {
  private readonly children = {
    in: new Map<string, TypeCounters>(),
    out: new Map<string, TypeCounters>(),
  };
  private readonly latency = new Map<Priority, Histogram.Internal<'priority'>>();

  constructor(private readonly metrics: Metrics) {}

  count(type: string, direction: 'in' | 'out', bytes: number): void {
    const byType = this.children[direction];
    let c = byType.get(type);
    if (c === undefined) {
      c = {
        envelopes: this.metrics.envelopes.labels({ type, direction }),
        bytes: this.metrics.bytes.labels({ type, direction }),
        // What devices send each other through the relay, counted once on the way in: the relay's own row of the
        // bytes by path, beside what SDKs report for their data channels.
        relayPath:
          direction === 'in' && (type === 'receipt' || isApplicationType(type))
            ? this.metrics.pathBytes.labels({ path: 'relay' })
            : undefined,
      };
      byType.set(type, c);
    }
    c.envelopes.inc();
    c.bytes.inc(bytes);
    c.relayPath?.inc(bytes);
  }

  delivered(priority: Priority, seconds: number): void {
    let h = this.latency.get(priority);
    if (h === undefined) {
      h = this.metrics.deliveryLatency.labels({ priority });
      this.latency.set(priority, h);
    }
    h.observe(seconds);
  }
}
