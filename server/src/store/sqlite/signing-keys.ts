import type { SigningKeyStore, StoredSigningKey } from '../../auth/stores.js';
import type { Database } from './database.js';

interface KeyRow {
  kid: string;
  private_pem: string | null;
  public_pem: string;
  created_at: number;
  active: number;
  verify_until: number | null;
}

/**
 * Token signing keys on SQLite (the embedded default: the key is generated on first start and kept in relay.db).
 *
 * @example
 * const keys = await new SqliteSigningKeyStore(db).list();
 */
export class SqliteSigningKeyStore implements SigningKeyStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async list(): Promise<StoredSigningKey[]> {
    const rows = this.#db.prepare<[], KeyRow>('SELECT * FROM signing_keys ORDER BY created_at, kid').all();
    return rows.map((r) => ({
      kid: r.kid,
      privatePem: r.private_pem,
      publicPem: r.public_pem,
      createdAt: r.created_at,
      active: r.active === 1,
      verifyUntil: r.verify_until,
    }));
  }

  async activate(key: StoredSigningKey, retireAt: number): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare('UPDATE signing_keys SET active = 0, verify_until = ? WHERE active = 1').run(retireAt);
      this.#db
        .prepare(
          `INSERT INTO signing_keys (kid, private_pem, public_pem, created_at, active, verify_until)
           VALUES (?, ?, ?, ?, 1, NULL)`,
        )
        .run(key.kid, key.privatePem, key.publicPem, key.createdAt);
    })();
  }

  async deleteExpired(now: number): Promise<string[]> {
    const rows = this.#db
      .prepare<[number], { kid: string }>(
        'DELETE FROM signing_keys WHERE active = 0 AND verify_until IS NOT NULL AND verify_until <= ? RETURNING kid',
      )
      .all(now);
    return rows.map((r) => r.kid);
  }
}
