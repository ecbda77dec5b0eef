import type { PairingRecord, PairingStore } from '../../auth/stores.js';
import type { Database } from './database.js';

interface PairingRow {
  lookup_id: string;
  secret_hash: Buffer;
  account_id: string;
  sidecar_device_id: string;
  created_at: number;
  expires_at: number;
  max_attempts: number;
  attempts: number;
  used_at: number | null;
}

/**
 * Pairing codes on SQLite; only the lookup id and a hash of the secret are stored.
 *
 * @example
 * const record = await new SqlitePairingStore(db).get(lookupId);
 */
export class SqlitePairingStore implements PairingStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(r: PairingRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO pairings
         (lookup_id, secret_hash, account_id, sidecar_device_id, created_at, expires_at, max_attempts, attempts, used_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.lookupId,
        r.secretHash,
        r.accountId,
        r.sidecarDeviceId,
        r.createdAt,
        r.expiresAt,
        r.maxAttempts,
        r.attempts,
        r.usedAt,
      );
  }

  async get(lookupId: string): Promise<PairingRecord | undefined> {
    const r = this.#db.prepare<[string], PairingRow>('SELECT * FROM pairings WHERE lookup_id = ?').get(lookupId);
    if (!r) return undefined;
    return {
      lookupId: r.lookup_id,
      secretHash: r.secret_hash,
      accountId: r.account_id,
      sidecarDeviceId: r.sidecar_device_id,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      maxAttempts: r.max_attempts,
      attempts: r.attempts,
      usedAt: r.used_at,
    };
  }

  async recordFailedAttempt(lookupId: string): Promise<number> {
    const row = this.#db
      .prepare<[string], { attempts: number }>(
        'UPDATE pairings SET attempts = attempts + 1 WHERE lookup_id = ? RETURNING attempts',
      )
      .get(lookupId);
    return row?.attempts ?? 0;
  }

  async markUsed(lookupId: string, at: number): Promise<boolean> {
    const res = this.#db
      .prepare('UPDATE pairings SET used_at = ? WHERE lookup_id = ? AND used_at IS NULL')
      .run(at, lookupId);
    return res.changes === 1;
  }

  async deleteExpired(before: number): Promise<number> {
    return this.#db.prepare('DELETE FROM pairings WHERE expires_at < ?').run(before).changes;
  }
}
