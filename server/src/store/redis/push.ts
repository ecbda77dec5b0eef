/**
 * Web Push state in Redis, shared by every relay instance: subscriptions, the VAPID key pair and the coalescing
 * marks (so two instances queueing for the same device within the interval send one push between them).
 *
 * Keys, for prefix `p` (default `oppie:`); the `{push}` hash tag keeps them in one cluster slot:
 * - `p {push}:sub:<deviceId>` hash: endpoint, p256dh, auth, createdAt.
 * - `p {push}:vapid`          string: JSON `{ publicKey, privateKey }`, written once (SET NX).
 * - `p {push}:co:<deviceId>`  string with a TTL: a push went to the device within the interval.
 */
import type { Redis } from 'ioredis';
import type {
  PushCoalescer,
  PushSubscriptionRecord,
  PushSubscriptionStore,
  VapidKeyStore,
  VapidKeys,
} from '../../push/stores.js';
import { attempt, defineScripts, RedisStoreError, type RedisStoreOptions, redisClient } from './client.js';

// KEYS: sub. ARGV: endpoint. Deletes only while the stored subscription is still that endpoint.
const DELETE_IF = `#!lua
if redis.call('HGET', KEYS[1], 'endpoint') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface Scripts {
  oppiePushDeleteIf: (...args: string[]) => Promise<unknown>;
}

/**
 * @example
 * const push = new RedisPushStore({ redis });
 * await push.put({ deviceId, endpoint, p256dh, auth, createdAt: Date.now() });
 */
export class RedisPushStore implements PushSubscriptionStore, VapidKeyStore, PushCoalescer {
  readonly #redis: Redis;
  readonly #scripts: Scripts;
  readonly #prefix: string;

  constructor(opts: RedisStoreOptions) {
    ({ redis: this.#redis } = redisClient(opts));
    this.#prefix = `${opts.keyPrefix ?? 'oppie:'}{push}:`;
    this.#scripts = defineScripts<Scripts>(this.#redis, { oppiePushDeleteIf: { lua: DELETE_IF, numberOfKeys: 1 } });
  }

  async put(r: PushSubscriptionRecord): Promise<void> {
    const key = `${this.#prefix}sub:${r.deviceId}`;
    await attempt('push subscription put', () =>
      this.#redis
        .multi()
        .del(key)
        .hset(key, 'endpoint', r.endpoint, 'p256dh', r.p256dh, 'auth', r.auth, 'createdAt', String(r.createdAt))
        .exec(),
    );
  }

  async get(deviceId: string): Promise<PushSubscriptionRecord | undefined> {
    const h = await attempt('push subscription get', () => this.#redis.hgetall(`${this.#prefix}sub:${deviceId}`));
    if (h.endpoint === undefined || h.p256dh === undefined || h.auth === undefined) return undefined;
    return { deviceId, endpoint: h.endpoint, p256dh: h.p256dh, auth: h.auth, createdAt: Number(h.createdAt) };
  }

  async delete(deviceId: string, endpoint?: string): Promise<boolean> {
    const key = `${this.#prefix}sub:${deviceId}`;
    const n = await attempt('push subscription delete', () =>
      endpoint === undefined ? this.#redis.del(key) : this.#scripts.oppiePushDeleteIf(key, endpoint),
    );
    return Number(n) > 0;
  }

  async getOrCreate(candidate: VapidKeys): Promise<VapidKeys> {
    const key = `${this.#prefix}vapid`;
    const json = await attempt('vapid keys getOrCreate', async () => {
      await this.#redis.set(key, JSON.stringify(candidate), 'NX');
      return this.#redis.get(key);
    });
    const stored = json === null ? undefined : (JSON.parse(json) as Partial<VapidKeys>);
    if (typeof stored?.publicKey !== 'string' || typeof stored.privateKey !== 'string') {
      throw new RedisStoreError('vapid keys getOrCreate', new Error(`${key} does not hold a key pair`));
    }
    return { publicKey: stored.publicKey, privateKey: stored.privateKey };
  }

  async claim(deviceId: string, intervalMs: number): Promise<boolean> {
    const set = await attempt('push coalesce claim', () =>
      this.#redis.set(`${this.#prefix}co:${deviceId}`, '1', 'PX', Math.max(1, Math.round(intervalMs)), 'NX'),
    );
    return set === 'OK';
  }

  async release(deviceId: string): Promise<void> {
    await attempt('push coalesce release', () => this.#redis.del(`${this.#prefix}co:${deviceId}`));
  }
}
