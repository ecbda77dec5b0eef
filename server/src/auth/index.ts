/**
 * The auth service: device identity by Ed25519 proof of possession, RS256 access tokens, pairing, revocation and
 * TOTP step-up. `createAuth` builds it on the embedded store; `registerAuthRoutes` mounts its REST API.
 */
import type { App } from '../http/app.js';
import { registerProofRoutes } from '../http/routes/auth.js';
import type { AuthRouteDeps } from '../http/routes/deps.js';
import { registerDeviceRoutes } from '../http/routes/devices.js';
import { registerJwksRoute } from '../http/routes/jwks.js';
import { registerOtpRoutes } from '../http/routes/otp.js';
import { registerPairingRoutes } from '../http/routes/pairing.js';

export type { AuthRouteDeps } from '../http/routes/deps.js';
export { deriveDeviceId } from './device-id.js';
export { TOKEN_AUDIENCE } from './jwt.js';
export { KeyRing, MAX_TOKEN_TTL_SECONDS, type RotationResult, rotateSigningKey } from './key-ring.js';
export { CHALLENGE_TTL_MS } from './proof.js';
export { type AuthLimitOptions, DEFAULT_LIMITS } from './rate-limits.js';
export { createEnrollmentToken } from './registration.js';
export { type Auth, type CreateAuthDeps, createAuth } from './service.js';
export type * from './stores.js';
export type { AuthEvents, AuthService, DeviceClaims, DeviceRecord } from './types.js';

/**
 * Mounts the auth REST API: challenge, register, token, pairing, devices, OTP and the JWKS.
 *
 * @example
 * const auth = await createAuth({ config, db, audit, metrics, logger });
 * registerAuthRoutes(app, { auth, config, online: (ids) => presence.online(ids) });
 */
export function registerAuthRoutes(app: App, deps: AuthRouteDeps): void {
  registerProofRoutes(app, deps);
  registerPairingRoutes(app, deps);
  registerDeviceRoutes(app, deps);
  registerOtpRoutes(app, deps);
  registerJwksRoute(app, deps);
}
