/**
 * Schema migrations of relay.db, applied in order. `PRAGMA user_version` records how many ran, so a migration is
 * never edited once released: a change is a new entry appended to the list.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    otp_secret TEXT,
    otp_confirmed_at INTEGER,
    otp_last_counter INTEGER
  ) STRICT;
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    role TEXT NOT NULL CHECK (role IN ('sidecar', 'pwa')),
    name TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at INTEGER
  ) STRICT;
  CREATE INDEX devices_account ON devices(account_id);
  CREATE INDEX devices_revoked ON devices(revoked_at) WHERE revoked_at IS NOT NULL;
  CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    private_pem TEXT,
    public_pem TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    active INTEGER NOT NULL,
    verify_until INTEGER
  ) STRICT;
  CREATE TABLE pairings (
    lookup_id TEXT PRIMARY KEY,
    secret_hash BLOB NOT NULL,
    account_id TEXT NOT NULL,
    sidecar_device_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    used_at INTEGER
  ) STRICT;
  CREATE TABLE enrollment_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    uses_left INTEGER NOT NULL
  ) STRICT;
  `,
  `
  CREATE TABLE push_subscriptions (
    device_id TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE vapid_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    public_key TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  `,
];
