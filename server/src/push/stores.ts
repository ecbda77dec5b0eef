/**
 * Storage seams of Web Push: one subscription per device, the relay's VAPID key pair, and the coalescing marks.
 * The embedded relay keeps them in relay.db (store/sqlite) and in memory, `REDIS_URL` moves them to Redis
 * (store/redis) so every instance signs with the same key and coalesces across instances.
 */

/** A validated push subscription of one PWA device (keys base64url, no padding). */
export interface PushSubscriptionRecord {
  readonly deviceId: string;
  readonly endpoint: string;
  /** The browser's P-256 public key, uncompressed point (65 bytes). */
  readonly p256dh: string;
  /** The browser's auth secret (16 bytes). */
  readonly auth: string;
  readonly createdAt: number;
}

export interface PushSubscriptionStore {
  /** Stores the device's subscription, replacing the one it had. */
  put(record: PushSubscriptionRecord): Promise<void>;
  get(deviceId: string): Promise<PushSubscriptionRecord | undefined>;
  /**
   * Removes the device's subscription; with `endpoint`, only if it is still that one (a push answered 410 for an old
   * subscription must not delete the new one the PWA registered meanwhile). True when something was removed.
   */
  delete(deviceId: string, endpoint?: string): Promise<boolean>;
}

/** A VAPID key pair as web-push uses it: the raw P-256 public point (65 bytes) and private scalar (32), base64url. */
export interface VapidKeys {
  readonly publicKey: string;
  readonly privateKey: string;
}

export interface VapidKeyStore {
  /**
   * Stores `candidate` unless a key pair is stored already, atomically, and returns the stored one: instances that
   * start together all end up with the first writer's key.
   */
  getOrCreate(candidate: VapidKeys): Promise<VapidKeys>;
}

/** "Was a push sent to this device recently?", shared by every instance in Redis mode. */
export interface PushCoalescer {
  /** True (and the device is marked for `intervalMs`) when no push went to the device within the interval. */
  claim(deviceId: string, intervalMs: number): Promise<boolean>;
  /** Forgets the mark: the device came online, so its next offline period gets a push at once. */
  release(deviceId: string): Promise<void>;
}
