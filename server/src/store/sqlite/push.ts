import type { PushSubscriptionRecord, PushSubscriptionStore, VapidKeyStore, VapidKeys } from '../../push/stores.js';
import type { Database } from './database.js';

interface SubscriptionRow {
  device_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  created_at: number;
}

/**
 * Push subscriptions on SQLite (the embedded default), one row per device.
 *
 * @example
 * await new SqlitePushSubscriptionStore(db).put({ deviceId, endpoint, p256dh, auth, createdAt: Date.now() });
 */
export class SqlitePushSubscriptionStore implements PushSubscriptionStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async put(r: PushSubscriptionRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (device_id) DO UPDATE SET endpoint = excluded.endpoint, p256dh = excluded.p256dh,
           auth = excluded.auth, created_at = excluded.created_at`,
      )
      .run(r.deviceId, r.endpoint, r.p256dh, r.auth, r.createdAt);
  }

  async get(deviceId: string): Promise<PushSubscriptionRecord | undefined> {
    const row = this.#db
      .prepare<[string], SubscriptionRow>('SELECT * FROM push_subscriptions WHERE device_id = ?')
      .get(deviceId);
    return row === undefined
      ? undefined
      : {
          deviceId: row.device_id,
          endpoint: row.endpoint,
          p256dh: row.p256dh,
          auth: row.auth,
          createdAt: row.created_at,
        };
  }

  async delete(deviceId: string, endpoint?: string): Promise<boolean> {
    const res =
      endpoint === undefined
        ? this.#db.prepare('DELETE FROM push_subscriptions WHERE device_id = ?').run(deviceId)
        : this.#db
            .prepare('DELETE FROM push_subscriptions WHERE device_id = ? AND endpoint = ?')
            .run(deviceId, endpoint);
    return res.changes > 0;
  }
}

/**
 * The VAPID key pair in relay.db: a single row, written once by the first start.
 *
 * @example
 * const keys = await new SqliteVapidKeyStore(db).getOrCreate(webpush.generateVAPIDKeys());
 */
export class SqliteVapidKeyStore implements VapidKeyStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async getOrCreate(candidate: VapidKeys): Promise<VapidKeys> {
    this.#db
      .prepare('INSERT OR IGNORE INTO vapid_keys (id, public_key, private_key, created_at) VALUES (1, ?, ?, ?)')
      .run(candidate.publicKey, candidate.privateKey, Date.now());
    const row = this.#db
      .prepare<[], { public_key: string; private_key: string }>('SELECT public_key, private_key FROM vapid_keys')
      .get() as { public_key: string; private_key: string };
    return { publicKey: row.public_key, privateKey: row.private_key };
  }
}
