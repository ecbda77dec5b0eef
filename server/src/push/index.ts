/**
 * Web Push wake-up: the relay's VAPID identity, one subscription per PWA device, and the trigger that wakes an
 * offline PWA when a high-priority envelope is queued for it. `createPush` builds it on the relay's stores.
 */

import { type PushSubscriptionRequest, RelayError } from '@oppie/protocol';
import type { Logger } from 'pino';
import type { DeviceClaims } from '../auth/types.js';
import type { RelayConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { MemoryPushCoalescer } from '../store/memory/push-coalescer.js';
import type { RedisPushStore } from '../store/redis/push.js';
import type { Database } from '../store/sqlite/database.js';
import { SqlitePushSubscriptionStore, SqliteVapidKeyStore } from '../store/sqlite/push.js';
import { pushAgent } from './agent.js';
import { webPushSender } from './sender.js';
import type { PushSubscriptionRecord, PushSubscriptionStore } from './stores.js';
import { validateSubscription } from './subscription.js';
import { loadVapid } from './vapid.js';
import { PushWake, type WakeRef } from './wake.js';

export { isPrivateAddress, isPrivateHost } from './address.js';
export { PushEndpointRefusedError, pushAgent } from './agent.js';
export type { PushSubscriptionRecord, PushSubscriptionStore, VapidKeys } from './stores.js';
export { validateSubscription } from './subscription.js';
export { checkVapidKeys, loadVapid, vapidSubject } from './vapid.js';
export { type WakeRef, wakes } from './wake.js';

export interface PushDeps {
  readonly config: RelayConfig;
  readonly db: Database;
  /** The shared store (REDIS_URL); default: relay.db and in-process coalescing. */
  readonly shared?: RedisPushStore | undefined;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** What the routes, the router and the revocation path need. */
export interface Push {
  readonly enabled: boolean;
  /** The applicationServerKey (base64url); throws RELAY_ERR_PUSH_DISABLED when off. */
  publicKey(): string;
  /** PUT /api/push/subscription: validates and stores the caller's subscription (PWA devices only). */
  subscribe(claims: DeviceClaims, body: PushSubscriptionRequest): Promise<void>;
  /** DELETE /api/push/subscription: removes the caller's subscription, if any. */
  unsubscribe(claims: DeviceClaims): Promise<void>;
  /** The stored subscription of a device (operators, tests). */
  subscription(deviceId: string): Promise<PushSubscriptionRecord | undefined>;
  /** The router queued `entry` for a device connected nowhere (fire and forget). */
  queued(entry: WakeRef, role: DeviceClaims['role'] | undefined): void;
  /**
   * A PWA's connection closed, it is connected nowhere, and these in-flight envelopes went back to its queue: the
   * high-priority ones wake it as if they had just been queued, all in one push (fire and forget).
   */
  released(entries: readonly WakeRef[]): void;
  /** A device connected: its next offline period starts a new coalescing interval. */
  online(deviceId: string): void;
  /** A device was revoked: forget its subscription. */
  revoked(deviceId: string): Promise<void>;
  close(): Promise<void>;
}

function disabled(): never {
  throw new RelayError('RELAY_ERR_PUSH_DISABLED');
}

const OFF: Push = {
  enabled: false,
  publicKey: disabled,
  subscribe: async () => disabled(),
  unsubscribe: async () => disabled(),
  subscription: async () => undefined,
  queued() {},
  released() {},
  online() {},
  revoked: async () => {},
  close: async () => {},
};

/** Only a PWA sleeps in a browser that a push can wake; a sidecar is a daemon that keeps its own connection. */
function pwaOnly(claims: DeviceClaims): void {
  if (claims.role !== 'pwa')
    throw new RelayError('RELAY_ERR_ROLE_FORBIDDEN', 'only a PWA device has a push subscription');
}

/**
 * Loads (or creates) the VAPID keys and builds the push service; a no-op service when PUSH_ENABLED is off.
 *
 * @example
 * const push = await createPush({ config, db, shared: engine?.push, metrics, logger });
 * registerPushRoutes(app, { auth, push });
 */
export async function createPush(deps: PushDeps): Promise<Push> {
  const { config, shared, metrics, logger } = deps;
  if (!config.pushEnabled) return OFF;
  const subscriptions: PushSubscriptionStore = shared ?? new SqlitePushSubscriptionStore(deps.db);
  const vapid = await loadVapid(config, shared ?? new SqliteVapidKeyStore(deps.db));
  const agent = pushAgent({ allowPrivate: config.pushAllowPrivateEndpoints, caFile: config.pushCaFile });
  const wake = new PushWake(
    {
      subscriptions,
      coalescer: shared ?? new MemoryPushCoalescer(),
      send: webPushSender({
        vapid,
        ttlSeconds: config.pushTtlSeconds,
        timeoutMs: config.pushTimeoutSeconds * 1000,
        agent,
      }),
      metrics,
      logger,
    },
    {
      coalesceMs: config.pushCoalesceSeconds * 1000,
      concurrency: config.pushConcurrency,
      queueMax: config.pushQueueMax,
    },
  );
  return {
    enabled: true,
    publicKey: () => vapid.publicKey,
    async subscribe(claims, body) {
      pwaOnly(claims);
      const sub = validateSubscription(body, { allowPrivate: config.pushAllowPrivateEndpoints });
      await subscriptions.put({ deviceId: claims.deviceId, ...sub, createdAt: Date.now() });
    },
    async unsubscribe(claims) {
      pwaOnly(claims);
      await subscriptions.delete(claims.deviceId);
    },
    subscription: (deviceId) => subscriptions.get(deviceId),
    queued: (entry, role) => wake.queued(entry, role),
    released: (entries) => wake.released(entries),
    online: (deviceId) => wake.online(deviceId),
    async revoked(deviceId) {
      await subscriptions.delete(deviceId);
    },
    async close() {
      await wake.close();
      agent.destroy();
    },
  };
}
