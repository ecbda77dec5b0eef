/**
 * `REDIS_URL` set: every store the relay shares between instances, on one Redis. Queues (Streams), the auth stores
 * (registry, signing keys, pairing codes, enrollment tokens, replay cache), rate limits and the cluster (presence,
 * wake-ups, account events). One command connection for all of them, plus the cluster's subscriber connection.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuthLimiters } from '../auth/rate-limits.js';
import type { AuthStores } from '../auth/stores.js';
import type { RelayConfig } from '../config.js';
import type { QueueStore } from '../queue/queue-store.js';
import { RedisQueueStore } from '../queue/redis-queue-store.js';
import { RedisEnrollmentStore } from '../store/redis/enrollments.js';
import { RedisPairingStore } from '../store/redis/pairings.js';
import { RedisPushStore } from '../store/redis/push.js';
import { createRedisAuthLimiters } from '../store/redis/rate-limits.js';
import { RedisRegistry } from '../store/redis/registry.js';
import { RedisReplayCache } from '../store/redis/replay-cache.js';
import { RedisSigningKeyStore } from '../store/redis/signing-keys.js';
import type { Cluster } from './cluster.js';
import { RedisCluster } from './redis-cluster.js';

/** How long the relay waits for Redis at start before it gives up with a clear error. */
const CONNECT_WAIT_MS = 10_000;

export interface SharedEngine {
  readonly queues: QueueStore;
  readonly cluster: Cluster;
  readonly stores: AuthStores;
  readonly limiters: AuthLimiters;
  /** Push subscriptions, the VAPID key pair and coalescing marks. */
  readonly push: RedisPushStore;
  close(): Promise<void>;
}

/** The Redis client as the relay uses it: fail fast while disconnected (callers see errors, not a hang). */
function connect(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    // Commands issued while the connection is down fail at once instead of waiting in a queue: a relay that cannot
    // reach Redis refuses work with a reconnect code and clients retry; nothing waits unbounded in memory.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A command in flight when the connection dropped may have run: sending it again after the reconnect would run a
    // queue script twice (a take whose first result was lost leaves entries in flight that no socket ever saw). It
    // fails instead; the caller's error path (close with 4003, release on reconnect) puts things right.
    autoResendUnfulfilledCommands: false,
    connectTimeout: 5_000,
    commandTimeout: 5_000,
    lazyConnect: true,
    // Reconnect for ever, backing off to 2 s between attempts: service resumes by itself when Redis returns.
    retryStrategy: (times) => Math.min(100 * times, 2_000),
  });
  let reported = false;
  redis.on('error', (err) => {
    if (!reported) log.error({ err: err.message }, 'redis connection error');
    reported = true;
  });
  redis.on('ready', () => {
    if (reported) log.warn('redis connection restored');
    reported = false;
  });
  return redis;
}

async function ready(redis: Redis, what: string, url: string): Promise<void> {
  const shown = url.replace(/\/\/[^@/]*@/, '//***@'); // never print a password
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => redis.once('ready', resolve)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`REDIS_URL: ${what} could not connect to ${shown} within ${CONNECT_WAIT_MS} ms`)),
          CONNECT_WAIT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Opens the shared engine on `config.redisUrl` and waits until Redis answers.
 *
 * @example
 * const engine = await openRedisEngine(config, logger, (err, op) => metrics.storeErrors.inc({ op }));
 * const auth = await createAuth({ config, db, audit, metrics, logger, stores: engine.stores, limiters: engine.limiters });
 */
export async function openRedisEngine(
  config: RelayConfig & { readonly redisUrl: string },
  log: Logger,
  onError: (err: unknown, op: string) => void,
): Promise<SharedEngine> {
  const redis = connect(config.redisUrl, log);
  redis.connect().catch(() => {}); // failures surface through `ready` below and the error listener
  try {
    await ready(redis, 'the relay', config.redisUrl);
    const cluster = new RedisCluster({ redis, ttlMs: config.heartbeatSeconds * 3000, onError });
    await ready(cluster.subscriber, 'the subscriber', config.redisUrl);
    const queues = new RedisQueueStore({
      redis,
      bounds: { maxCount: config.queueMaxCount, maxBytes: config.queueMaxBytes },
    });
    return {
      queues,
      cluster,
      stores: {
        registry: new RedisRegistry({ redis }),
        signingKeys: new RedisSigningKeyStore({ redis }),
        pairings: new RedisPairingStore({ redis }),
        enrollments: new RedisEnrollmentStore({ redis }),
        replay: new RedisReplayCache({ redis }),
      },
      limiters: createRedisAuthLimiters(redis, config),
      push: new RedisPushStore({ redis }),
      async close() {
        await cluster.close();
        try {
          await redis.quit();
        } catch {
          redis.disconnect();
        }
      },
    };
  } catch (err) {
    redis.disconnect();
    throw err;
  }
}
