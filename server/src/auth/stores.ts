/**
 * Storage seams of the auth service. The embedded relay implements them on SQLite (store/sqlite) and in memory
 * (store/memory); a Redis implementation can take their place for scale-out without touching the auth logic.
 * Every method is async so a networked store fits the same shape.
 */
import type { DeviceRecord } from './types.js';

/** A device about to be stored: a record before it was ever seen or revoked. */
export type NewDevice = Omit<DeviceRecord, 'lastSeenAt' | 'revokedAt'>;

/** TOTP state of an account. `confirmedAt` stays null until the first successful verify. */
export interface OtpState {
  readonly secret: string;
  readonly confirmedAt: number | null;
  /** The last accepted TOTP time step; a code of this step or an earlier one is a replay. */
  readonly lastCounter: number | null;
}

/** Accounts, their devices, their OTP state and device revocation. */
export interface Registry {
  /** Creates an account whose first device is `device`; rejects with RELAY_ERR_DEVICE_EXISTS on a known key. */
  createAccount(accountId: string, device: NewDevice): Promise<void>;
  /** Adds a device to an existing account; rejects with RELAY_ERR_DEVICE_EXISTS on a known key. */
  addDevice(device: NewDevice): Promise<void>;
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  /** Devices of an account, revoked ones excluded, oldest first. */
  listDevices(accountId: string): Promise<DeviceRecord[]>;
  /** Marks a device revoked; false when it does not exist or was revoked already. */
  revokeDevice(deviceId: string, at: number): Promise<boolean>;
  /** Ids of devices revoked at or after `since` (ms), to keep revocation caches of every instance current. */
  revokedSince(since: number): Promise<Array<{ deviceId: string; revokedAt: number }>>;
  touchDevice(deviceId: string, at: number): Promise<void>;
  getOtp(accountId: string): Promise<OtpState | undefined>;
  /** Stores a new unconfirmed secret, replacing a pending one; false when a confirmed secret exists. */
  setPendingOtp(accountId: string, secret: string): Promise<boolean>;
  /**
   * Accepts a TOTP time step once: succeeds only if `counter` is newer than the last accepted one (atomic, so two
   * racing requests with the same code cannot both pass). Confirms a pending enrollment.
   */
  acceptOtpCounter(accountId: string, counter: number, at: number): Promise<boolean>;
  /** Throws when the store is not usable. */
  ping(): Promise<void>;
}

/** A token signing key as stored. `privatePem` is null for verify-only keys. */
export interface StoredSigningKey {
  readonly kid: string;
  readonly privatePem: string | null;
  readonly publicPem: string;
  readonly createdAt: number;
  /** Signs new tokens; exactly one stored key is active. */
  readonly active: boolean;
  /** After this instant (ms) the key no longer verifies and is dropped; null while active. */
  readonly verifyUntil: number | null;
}

export interface SigningKeyStore {
  list(): Promise<StoredSigningKey[]>;
  /** Makes `key` the active key; the previously active key keeps verifying until `retireAt`. One transaction. */
  activate(key: StoredSigningKey, retireAt: number): Promise<void>;
  /** Drops keys whose verification window ended before `now`; returns their kids. */
  deleteExpired(now: number): Promise<string[]>;
}

export interface PairingRecord {
  readonly lookupId: string;
  /** sha256 of the secret part of the code; the plaintext is shown once and never stored. */
  readonly secretHash: Buffer;
  readonly accountId: string;
  readonly sidecarDeviceId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly maxAttempts: number;
  readonly attempts: number;
  readonly usedAt: number | null;
}

export interface PairingStore {
  create(record: PairingRecord): Promise<void>;
  get(lookupId: string): Promise<PairingRecord | undefined>;
  /** Counts a wrong secret; returns the attempts so far. */
  recordFailedAttempt(lookupId: string): Promise<number>;
  /** Marks the code used; false if it was used already (a racing claim won). */
  markUsed(lookupId: string, at: number): Promise<boolean>;
  /** Forgets codes that expired before `before`. */
  deleteExpired(before: number): Promise<number>;
}

/** Values kept by the replay cache: challenges and nonces, each usable once within its lifetime. */
export interface ReplayCache {
  /** Remembers `key` until `expiresAt` (ms); false when it is already known (a replay). */
  add(key: string, expiresAt: number): Promise<boolean>;
  /** Removes `key`; true if it was present and not expired (the single use of a challenge). */
  take(key: string): Promise<boolean>;
}

export interface EnrollmentRecord {
  /** sha256 of the token (base64url); the plaintext is shown once. */
  readonly tokenHash: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly uses: number;
}

export interface EnrollmentStore {
  create(record: EnrollmentRecord): Promise<void>;
  /** Uses the token once if it exists, is unexpired and has uses left (atomic); false otherwise. */
  consume(tokenHash: string, now: number): Promise<boolean>;
  deleteExpired(before: number): Promise<number>;
}

/** Everything the auth service stores. */
export interface AuthStores {
  readonly registry: Registry;
  readonly signingKeys: SigningKeyStore;
  readonly pairings: PairingStore;
  readonly replay: ReplayCache;
  readonly enrollments: EnrollmentStore;
}
