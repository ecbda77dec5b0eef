import type { AuthStores } from '../../auth/stores.js';
import type { Database } from './database.js';
import { SqliteEnrollmentStore } from './enrollments.js';
import { SqlitePairingStore } from './pairings.js';
import { SqliteRegistry } from './registry.js';
import { SqliteSigningKeyStore } from './signing-keys.js';

export { DATABASE_FILE, type Database, migrate, openDatabase } from './database.js';
export { SqliteEnrollmentStore, SqlitePairingStore, SqliteRegistry, SqliteSigningKeyStore };

/**
 * The persistent auth stores on one SQLite database (the replay cache lives in memory, see store/memory).
 *
 * @example
 * const stores = createSqliteStores(openDatabase(config.dataDir));
 */
export function createSqliteStores(db: Database): Omit<AuthStores, 'replay'> {
  return {
    registry: new SqliteRegistry(db),
    signingKeys: new SqliteSigningKeyStore(db),
    pairings: new SqlitePairingStore(db),
    enrollments: new SqliteEnrollmentStore(db),
  };
}
