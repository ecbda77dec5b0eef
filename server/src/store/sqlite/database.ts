/**
 * The embedded store: one SQLite file, DATA_DIR/relay.db, shared by the registry, signing keys, pairing codes and
 * enrollment tokens.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

/** An open relay.db handle. */
export type Database = BetterSqlite3.Database;

/** Name of the database file inside DATA_DIR. */
export const DATABASE_FILE = 'relay.db';

/**
 * Opens (creating if needed) DATA_DIR/relay.db and brings its schema up to date.
 *
 * The file holds private signing keys and OTP secrets, so it is created with mode 0600 before SQLite touches it
 * (SQLite gives the -wal and -shm files the same mode). WAL lets readers run beside the writer; busy_timeout makes
 * a second process (the `oppie-relay keys rotate` CLI) wait for the lock instead of failing at once.
 *
 * @example
 * const db = openDatabase(config.dataDir);
 * const auth = await createAuth({ config, db, audit, metrics, logger });
 */
export function openDatabase(dataDir: string): Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, DATABASE_FILE);
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  migrate(db);
  return db;
}

/** Applies the migrations the file has not seen yet, each in its own transaction. */
export function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`${DATABASE_FILE} has schema version ${current}, newer than this relay (${MIGRATIONS.length})`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
