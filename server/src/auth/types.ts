/**
 * What the rest of the relay needs from the auth service. Routing and the WebSocket layer depend on this interface
 * only, so the embedded (SQLite) and the Redis implementations are interchangeable.
 */
import type { RoleName } from '@oppie/protocol';
import type { Emitter } from 'mitt';

/** Claims of a verified access token. */
export interface DeviceClaims {
  readonly deviceId: string;
  readonly accountId: string;
  readonly role: RoleName;
  readonly jti: string;
  /** Expiry, milliseconds since the epoch. */
  readonly expiresAt: number;
  /** When the device last passed an OTP step-up (ms since epoch), if the token carries one. */
  readonly stepUpAt: number | undefined;
}

export interface DeviceRecord {
  readonly id: string;
  readonly accountId: string;
  readonly role: RoleName;
  readonly name: string;
  /** Ed25519 public key, base64url. */
  readonly publicKey: string;
  readonly createdAt: number;
  readonly lastSeenAt: number | null;
  readonly revokedAt: number | null;
}

export type AuthEvents = {
  /** A device joined an account (registration or pairing). */
  deviceAdded: DeviceRecord;
  /** A device was revoked: its connections must be closed with 4500 and its queue purged. */
  deviceRevoked: { deviceId: string; accountId: string };
};

export interface AuthService {
  /** Verifies an access token (signature, claims, revocation); throws RelayError with a RELAY_ERR_TOKEN_* code. */
  verifyToken(token: string): Promise<DeviceClaims>;
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  /** Devices of an account, revoked ones excluded. */
  listDevices(accountId: string): Promise<DeviceRecord[]>;
  /** Whether approve envelopes of this account need a recent OTP step-up. */
  accountRequiresStepUp(accountId: string): Promise<boolean>;
  /** Records activity; best effort, never throws. */
  touchDevice(deviceId: string, at: number): void;
  readonly events: Emitter<AuthEvents>;
  /** Throws when the backing store is not usable (readiness). */
  checkHealth(): Promise<void>;
  close(): Promise<void>;
}
