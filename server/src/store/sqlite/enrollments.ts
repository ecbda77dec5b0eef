import type { EnrollmentRecord, EnrollmentStore } from '../../auth/stores.js';
import type { Database } from './database.js';

/**
 * Operator-issued enrollment tokens on SQLite, stored by hash.
 *
 * @example
 * const ok = await new SqliteEnrollmentStore(db).consume(hash, Date.now());
 */
export class SqliteEnrollmentStore implements EnrollmentStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(r: EnrollmentRecord): Promise<void> {
    this.#db
      .prepare('INSERT INTO enrollment_tokens (token_hash, created_at, expires_at, uses_left) VALUES (?, ?, ?, ?)')
      .run(r.tokenHash, r.createdAt, r.expiresAt, r.uses);
  }

  async consume(tokenHash: string, now: number): Promise<boolean> {
    // One statement checks and spends a use, so concurrent registrations cannot overspend a token.
    const res = this.#db
      .prepare(
        `UPDATE enrollment_tokens SET uses_left = uses_left - 1
         WHERE token_hash = ? AND uses_left > 0 AND expires_at > ?`,
      )
      .run(tokenHash, now);
    return res.changes === 1;
  }

  async deleteExpired(before: number): Promise<number> {
    return this.#db.prepare('DELETE FROM enrollment_tokens WHERE expires_at < ? OR uses_left <= 0').run(before).changes;
  }
}
