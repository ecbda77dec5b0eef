/**
 * The cluster on Redis: device locations in hashes with a lifetime, one pub/sub channel per held device (wake-ups
 * and replacement reach the one instance that holds it: one hop, no lookup), and one channel for account events.
 *
 * Keys and channels, for prefix `p` (default `oppie:`):
 * - `p{presence}:<deviceId>`: hash `instance`, `conn`, `path`, `at`; expires `ttlMs` after the last refresh, so an
 *   instance killed with -9 stops claiming its devices within that time (a reconnect elsewhere overwrites at once).
 * - channel `p dev:<deviceId>`: `w` (wake) or `r <connectionId>` (a newer connection opened); subscribed by the
 *   instance holding the device. A stale subscription (left by a detach that failed while Redis was away) is dropped
 *   at its first wake-up.
 * - channel `p events`: JSON `{ origin, event }`: presence, revocation, new devices, and ids to forget in every
 *   instance's de-duplication window (envelopes dropped or expired).
 *
 * Pub/sub needs a connection of its own (a subscribed connection runs no other command); ioredis resubscribes after
 * a reconnect. Messages published while an instance was cut off are lost, which is why the heartbeat sweep pumps
 * every held queue that has entries waiting, and why a lost Redis closes every socket (clients reconnect and resync).
 */
import { randomBytes } from 'node:crypto';
import type { PathName } from '@oppie/protocol';
import type { Redis } from 'ioredis';
import { attempt, defineScripts, RedisStoreError } from '../store/redis/client.js';
import type { Cluster, ClusterEvent, ClusterHandlers, DeviceLocation } from './cluster.js';

export interface RedisClusterOptions {
  /** Command connection (shared with the stores; not closed here). */
  readonly redis: Redis;
  /** Prefix of every key and channel; default `oppie:`. */
  readonly keyPrefix?: string;
  /** Lifetime of a location without refresh (ms); default 75 s (three heartbeats of 25 s). */
  readonly ttlMs?: number;
  /** Failures of background work (publish, subscribe), counted by the caller. */
  readonly onError?: (err: unknown, op: string) => void;
}

const DETACH = `#!lua
if redis.call('HGET', KEYS[1], 'conn') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const REFRESH = `#!lua
if redis.call('HGET', KEYS[1], 'conn') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'path', ARGV[2])
return redis.call('PEXPIRE', KEYS[1], ARGV[3])`;

interface Scripts {
  oppieClusterDetach(key: string, conn: string): Promise<number>;
  oppieClusterRefresh(key: string, conn: string, path: string, ttl: number): Promise<number>;
}

const PATHS: ReadonlySet<string> = new Set(['relay', 'turn', 'direct']);

/**
 * @example
 * const cluster = new RedisCluster({ redis: new Redis(config.redisUrl) });
 * await cluster.start({ wake: (id) => delivery.pumpHeld(id), replaced, event, availability });
 * await cluster.attach(deviceId, { instance: cluster.instanceId, connectionId, path: 'relay', connectedAt });
 */
export class RedisCluster implements Cluster {
  readonly instanceId = `i-${randomBytes(6).toString('hex')}`;
  readonly shared = true;
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #scripts: Scripts;
  readonly #onError: (err: unknown, op: string) => void;
  #handlers: ClusterHandlers | undefined;
  #up = false;

  constructor(opts: RedisClusterOptions) {
    this.#redis = opts.redis;
    // Same server and options; ioredis' duplicate() does not copy listeners, so errors are handled below.
    this.#sub = opts.redis.duplicate();
    this.#prefix = opts.keyPrefix ?? 'oppie:';
    this.#ttlMs = opts.ttlMs ?? 75_000;
    this.#onError = opts.onError ?? (() => {});
    this.#sub.on('error', (err) => this.#onError(err, 'subscribe'));
    if (this.#sub.status === 'wait') this.#sub.connect().catch(() => {}); // a lazy client: errors reach the listener
    this.#scripts = defineScripts<Scripts>(this.#redis, {
      oppieClusterDetach: { lua: DETACH, numberOfKeys: 1 },
      oppieClusterRefresh: { lua: REFRESH, numberOfKeys: 1 },
    });
  }

  /** The pub/sub connection (for waiting until it is ready). */
  get subscriber(): Redis {
    return this.#sub;
  }

  get available(): boolean {
    return this.#redis.status === 'ready' && this.#sub.status === 'ready';
  }

  #key(deviceId: string): string {
    return `${this.#prefix}{presence}:${deviceId}`;
  }

  #channel(deviceId: string): string {
    return `${this.#prefix}dev:${deviceId}`;
  }

  get #events(): string {
    return `${this.#prefix}events`;
  }

  async start(handlers: ClusterHandlers): Promise<void> {
    this.#handlers = handlers;
    const devPrefix = `${this.#prefix}dev:`;
    this.#sub.on('message', (channel: string, message: string) => {
      if (channel === this.#events) return this.#event(message);
      if (!channel.startsWith(devPrefix)) return;
      const deviceId = channel.slice(devPrefix.length);
      if (message === 'w') {
        // Not held here: a detach that failed while Redis was away left the subscription behind, and ioredis renewed
        // it when Redis came back. Dropped at its first wake-up (an attach after this subscribes again, in order).
        if (!handlers.wake(deviceId)) {
          this.#sub.unsubscribe(channel).catch((err: unknown) => this.#onError(err, 'unsubscribe'));
        }
      } else if (message.startsWith('r ')) handlers.replaced(deviceId, message.slice(2));
    });
    const changed = () => {
      const up = this.available;
      if (up === this.#up) return;
      this.#up = up;
      if (!up) return handlers.availability(false);
      // ioredis is 'ready' before it has resubscribed, and what comes back up makes up for the events it missed: an
      // event published in between would be missed too. SUBSCRIBE again (a no-op when already subscribed) and wait.
      const back = () => {
        if (this.#up) handlers.availability(true);
      };
      this.#sub.subscribe(this.#events).then(back, (err: unknown) => {
        this.#onError(err, 'subscribe');
        back();
      });
    };
    for (const client of [this.#redis, this.#sub]) {
      for (const e of ['ready', 'close', 'end', 'reconnecting']) client.on(e, changed);
    }
    await attempt('cluster subscribe', () => this.#sub.subscribe(this.#events));
    this.#up = this.available;
  }

  #event(message: string): void {
    let parsed: { origin?: unknown; event?: ClusterEvent };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch (err) {
      this.#onError(err, 'event');
      return;
    }
    if (parsed.origin === this.instanceId || parsed.event === undefined) return;
    this.#handlers?.event(parsed.event);
  }

  async attach(deviceId: string, location: DeviceLocation): Promise<void> {
    // Subscribe before announcing, so a wake published right after the announcement is not missed.
    await attempt('cluster attach', () => this.#sub.subscribe(this.#channel(deviceId)));
    await attempt('cluster attach', () =>
      this.#redis
        .multi()
        .hset(this.#key(deviceId), {
          instance: location.instance,
          conn: location.connectionId,
          path: location.path,
          at: String(location.connectedAt),
        })
        .pexpire(this.#key(deviceId), this.#ttlMs)
        .publish(this.#channel(deviceId), `r ${location.connectionId}`)
        .exec(),
    );
  }

  async detach(deviceId: string, connectionId: string): Promise<void> {
    await attempt('cluster detach', () => this.#sub.unsubscribe(this.#channel(deviceId)));
    await attempt('cluster detach', () => this.#scripts.oppieClusterDetach(this.#key(deviceId), connectionId));
  }

  async refresh(held: ReadonlyArray<readonly [string, DeviceLocation]>): Promise<void> {
    if (held.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const [deviceId, loc] of held) {
      (pipeline as unknown as Scripts).oppieClusterRefresh(
        this.#key(deviceId),
        loc.connectionId,
        loc.path,
        this.#ttlMs,
      );
    }
    await attempt('cluster refresh', () => pipeline.exec());
  }

  async locate(deviceIds: readonly string[]): Promise<Map<string, DeviceLocation>> {
    const found = new Map<string, DeviceLocation>();
    if (deviceIds.length === 0) return found;
    const pipeline = this.#redis.pipeline();
    for (const id of deviceIds) pipeline.hgetall(this.#key(id));
    const results = (await attempt('cluster locate', () => pipeline.exec())) ?? [];
    deviceIds.forEach((id, i) => {
      const [err, h] = results[i] ?? [];
      const v = h as Record<string, string> | undefined;
      // exec() resolves with each command's own error: an unreachable Redis is a failure, not "nobody online".
      if (err) throw new RedisStoreError('cluster locate', err);
      if (v?.instance === undefined || v.conn === undefined) return;
      const path = PATHS.has(v.path ?? '') ? (v.path as PathName) : 'relay';
      found.set(id, { instance: v.instance, connectionId: v.conn, path, connectedAt: Number(v.at) || 0 });
    });
    return found;
  }

  async wake(deviceId: string): Promise<boolean> {
    try {
      return (await this.#redis.publish(this.#channel(deviceId), 'w')) > 0;
    } catch (err) {
      this.#onError(err, 'wake');
      return false;
    }
  }

  publish(event: ClusterEvent): void {
    this.#redis
      .publish(this.#events, JSON.stringify({ origin: this.instanceId, event }))
      .catch((err: unknown) => this.#onError(err, 'publish'));
  }

  async ping(): Promise<void> {
    if (this.#sub.status !== 'ready') throw new Error(`redis subscriber ${this.#sub.status}`);
    await attempt('cluster ping', () => this.#redis.ping());
  }

  async close(): Promise<void> {
    try {
      await this.#sub.quit();
    } catch {
      this.#sub.disconnect();
    }
  }
}
