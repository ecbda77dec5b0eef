/**
 * The auth service object: wires stores, key ring, revocation cache and limits into the operations, and implements
 * the AuthService interface the WebSocket layer depends on.
 */
import type { DeviceInfo, PairingClaimRequest, RegisterRequest, TokenRequest, TokenResponse } from '@oppie/protocol';
import { isRelayError, RelayError } from '@oppie/protocol';
import type { JWK } from 'jose';
import mittModule from 'mitt';
import type { Logger } from 'pino';
import type { Audit } from '../audit.js';
import type { RelayConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { MemoryReplayCache } from '../store/memory/replay-cache.js';
import type { Database } from '../store/sqlite/database.js';
import { createSqliteStores } from '../store/sqlite/index.js';
import type { AuthContext, CallContext } from './context.js';
import { listAccountDevices, revokeDevice } from './devices.js';
import { verifyAccessToken } from './jwt.js';
import { KeyRing, type RotationResult, rotateSigningKey } from './key-ring.js';
import { enrollOtp, verifyOtp } from './otp.js';
import { claimPairing, createPairing } from './pairing.js';
import { issueChallenge } from './proof.js';
import { type AuthLimiters, type AuthLimitOptions, consumeLimit, createAuthLimiters } from './rate-limits.js';
import { createEnrollmentToken, refreshToken, register } from './registration.js';
import { RevocationCache } from './revocations.js';
import type { AuthStores } from './stores.js';
import type { AuthEvents, AuthService, DeviceClaims } from './types.js';

// mitt's typings are CommonJS-shaped under NodeNext, while the ESM build Node loads exports the factory as default.
const mitt = mittModule as unknown as typeof mittModule.default;

/** How often keys and revocations made elsewhere are pulled in; below the skew so a rotation lands in time. */
const REFRESH_MS = 15_000;
/** A token with an unknown kid triggers a key reload at most this often (unknown kids are also an attack). */
const KID_REFRESH_MIN_MS = 1_000;
/** Used pairing codes are kept this long past expiry, so a late retry still reads "used", not "unknown". */
const PAIRING_RETENTION_MS = 24 * 3600 * 1000;

export interface CreateAuthDeps {
  readonly config: RelayConfig;
  readonly db: Database;
  readonly audit: Audit;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Clock in ms; tests move it to expire tokens, codes and keys. */
  readonly now?: () => number;
  /** Replaces individual stores (a Redis registry, a shared replay cache). */
  readonly stores?: Partial<AuthStores>;
  /** Replaces the in-memory rate limiters (Redis ones, shared by every instance). */
  readonly limiters?: AuthLimiters;
  readonly limits?: Partial<AuthLimitOptions>;
}

/** The auth service with the operations behind its REST routes. */
export interface Auth extends AuthService {
  challenge(): Promise<{ challenge: string; expiresAt: number }>;
  register(body: RegisterRequest, call: CallContext): Promise<TokenResponse>;
  refreshToken(body: TokenRequest, call: CallContext): Promise<TokenResponse>;
  createPairing(
    claims: DeviceClaims,
    call: CallContext,
  ): Promise<{ code: string; expiresAt: number; maxAttempts: number }>;
  claimPairing(body: PairingClaimRequest, call: CallContext): Promise<TokenResponse & { sidecarDeviceId: string }>;
  listAccountDevices(
    claims: DeviceClaims,
    online: (deviceIds: readonly string[]) => Promise<ReadonlySet<string>>,
  ): Promise<{ devices: DeviceInfo[] }>;
  revokeDevice(claims: DeviceClaims, deviceId: string, call: CallContext): Promise<void>;
  enrollOtp(claims: DeviceClaims, call: CallContext): Promise<{ secret: string; uri: string }>;
  verifyOtp(claims: DeviceClaims, code: string, call: CallContext): Promise<TokenResponse>;
  /** Public keys that verify tokens now (GET /.well-known/jwks.json). */
  jwks(): { keys: JWK[] };
  /** Rotates the signing key in the store and starts signing with the new key at once. */
  rotateSigningKey(): Promise<RotationResult>;
  /** Operator enrollment token, plaintext returned once. */
  createEnrollmentToken(opts: {
    uses: number;
    ttlSeconds: number;
  }): Promise<{ token: string; expiresAt: number; uses: number }>;
  /** Spends one point of the per-address auth limit; throws RELAY_ERR_RATE_LIMITED (429) when none is left. */
  limitAuthRequest(ip: string): Promise<void>;
  /** Pulls keys and revocations changed by other processes, and forgets expired codes (also runs on a timer). */
  refresh(): Promise<void>;
  /** Another instance revoked `deviceId`: refuse its tokens here at once, without waiting for the next refresh. */
  revokedElsewhere(deviceId: string): void;
}

/**
 * Creates the auth service on the embedded store (relay.db), loading or creating the signing key.
 *
 * @example
 * const auth = await createAuth({ config, db: openDatabase(config.dataDir), audit, metrics, logger });
 * registerAuthRoutes(app, { auth, config, online: (ids) => presence.online(ids) });
 */
export async function createAuth(deps: CreateAuthDeps): Promise<Auth> {
  const { config, audit, metrics, logger } = deps;
  const now = deps.now ?? Date.now;
  const evictions = metrics.replayCacheEvictions;
  const stores: AuthStores = {
    ...createSqliteStores(deps.db),
    replay: new MemoryReplayCache({ now, onEvict: (reason) => evictions.inc({ reason }) }),
    ...deps.stores,
  };
  const keys = await KeyRing.load({ store: stores.signingKeys, config, now });
  const revocations = await RevocationCache.load(stores.registry);
  let lastKidRefresh = 0;
  const jwt = {
    keys,
    issuer: config.issuer,
    ttlSeconds: config.tokenTtlSeconds,
    clockSkewSeconds: config.clockSkewSeconds,
    now,
    refreshKeys: async () => {
      if (now() - lastKidRefresh < KID_REFRESH_MIN_MS) return;
      lastKidRefresh = now();
      await keys.refresh();
    },
  };
  const ctx: AuthContext = {
    config,
    stores,
    jwt,
    proof: {
      replay: stores.replay,
      now,
      clockSkewMs: config.clockSkewSeconds * 1000,
      onFailure: (code) => metrics.authFailures.inc({ reason: code }),
    },
    revocations,
    limiters: deps.limiters ?? createAuthLimiters(config, deps.limits),
    events: mitt<AuthEvents>(),
    audit,
    metrics,
    logger,
    now,
  };

  const refresh = async (): Promise<void> => {
    await keys.refresh();
    await revocations.refresh();
    await stores.pairings.deleteExpired(now() - PAIRING_RETENTION_MS);
    await stores.enrollments.deleteExpired(now());
  };
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => logger.error({ err }, 'auth state refresh failed'));
  }, REFRESH_MS);
  timer.unref();

  return {
    events: ctx.events,
    async verifyToken(token) {
      try {
        const claims = await verifyAccessToken(jwt, token);
        if (revocations.has(claims.deviceId)) throw new RelayError('RELAY_ERR_DEVICE_REVOKED');
        return claims;
      } catch (err) {
        if (!isRelayError(err)) throw err;
        metrics.authFailures.inc({ reason: err.code });
        audit.log('token.refused', { stage: 'verify', code: err.code });
        throw err;
      }
    },
    getDevice: (deviceId) => stores.registry.getDevice(deviceId),
    listDevices: (accountId) => stores.registry.listDevices(accountId),
    async accountRequiresStepUp(accountId) {
      const otp = await stores.registry.getOtp(accountId);
      return otp !== undefined && otp.confirmedAt !== null;
    },
    touchDevice(deviceId, at) {
      stores.registry.touchDevice(deviceId, at).catch((err: unknown) => {
        logger.warn({ err, deviceId }, 'could not record device activity');
      });
    },
    checkHealth: () => stores.registry.ping(),
    async close() {
      // The database belongs to the caller, which closes it after every user of it has stopped.
      clearInterval(timer);
    },
    challenge: () => issueChallenge(ctx.proof),
    register: (body, call) => register(ctx, body, call),
    refreshToken: (body, call) => refreshToken(ctx, body, call),
    createPairing: (claims, call) => createPairing(ctx, claims, call),
    claimPairing: (body, call) => claimPairing(ctx, body, call),
    listAccountDevices: (claims, online) => listAccountDevices(ctx, claims, online),
    revokeDevice: (claims, deviceId, call) => revokeDevice(ctx, claims, deviceId, call),
    enrollOtp: (claims, call) => enrollOtp(ctx, claims, call),
    verifyOtp: (claims, code, call) => verifyOtp(ctx, claims, code, call),
    jwks: () => keys.jwks(),
    async rotateSigningKey() {
      if (keys.fromFiles) {
        throw new Error(
          'JWT_SIGNING_KEY_FILE is set: rotate by installing a new key file and listing the old public key in JWT_VERIFY_KEY_FILES',
        );
      }
      const result = await rotateSigningKey(stores.signingKeys, {
        clockSkewSeconds: config.clockSkewSeconds,
        now,
        audit,
      });
      await keys.refresh();
      return result;
    },
    createEnrollmentToken: (opts) => createEnrollmentToken(stores.enrollments, { ...opts, now, audit }),
    limitAuthRequest: (ip) => consumeLimit(ctx.limiters, 'auth', ip, metrics),
    refresh,
    revokedElsewhere: (deviceId) => revocations.add(deviceId),
  };
}
