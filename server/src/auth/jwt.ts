/**
 * Access tokens: RS256 JWTs signed with the key ring's active key. Verification pins the algorithm, the issuer, the
 * audience and the key id before trusting any claim, and turns every failure into one RELAY_ERR_TOKEN_* code.
 */
import { type ErrorCode, RelayError, type RoleName } from '@oppie/protocol';
import { decodeProtectedHeader, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { randomId } from './device-id.js';
import type { KeyRing } from './key-ring.js';
import type { DeviceClaims } from './types.js';

/** The `aud` of every relay token. */
export const TOKEN_AUDIENCE = 'oppie-relay';
export const TOKEN_ALG = 'RS256';

export interface JwtDeps {
  readonly keys: KeyRing;
  readonly issuer: string;
  readonly ttlSeconds: number;
  readonly clockSkewSeconds: number;
  readonly now: () => number;
  /** Reloads the key ring when a token names a kid it does not hold (a rotation by another process). */
  readonly refreshKeys?: () => Promise<void>;
}

/** The subject of a token. */
export interface TokenSubject {
  readonly id: string;
  readonly accountId: string;
  readonly role: RoleName;
}

/**
 * Signs an access token for a device. `stepUpAt` (ms) becomes the `sua` claim (seconds).
 *
 * @example
 * const { token, expiresAt } = await signAccessToken(deps, device);
 */
export async function signAccessToken(
  deps: JwtDeps,
  subject: TokenSubject,
  stepUpAt?: number,
): Promise<{ token: string; expiresAt: number }> {
  const { kid, privateKey } = deps.keys.signingKey();
  const iat = Math.floor(deps.now() / 1000);
  const exp = iat + deps.ttlSeconds;
  const claims: JWTPayload = { acc: subject.accountId, role: subject.role };
  if (stepUpAt !== undefined) claims.sua = Math.floor(stepUpAt / 1000);
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: TOKEN_ALG, kid, typ: 'JWT' })
    .setIssuer(deps.issuer)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(subject.id)
    .setJti(randomId())
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .sign(privateKey);
  return { token, expiresAt: exp * 1000 };
}

/**
 * Verifies signature and claims of an access token (revocation is the caller's check).
 *
 * @throws RelayError with a RELAY_ERR_TOKEN_* code
 * @example
 * const claims = await verifyAccessToken(deps, token);
 */
export async function verifyAccessToken(deps: JwtDeps, token: string): Promise<DeviceClaims> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    if (token.split('.').length !== 3) throw new Error('not a compact JWS');
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw new RelayError('RELAY_ERR_TOKEN_MALFORMED', undefined, { cause });
  }
  // Pinned before any key is chosen: `none`, HS256 keyed with the public key and every other algorithm stop here.
  if (header.alg !== TOKEN_ALG) throw new RelayError('RELAY_ERR_TOKEN_ALG_NOT_ALLOWED');
  if (typeof header.kid !== 'string') throw new RelayError('RELAY_ERR_TOKEN_KID_UNKNOWN', 'the token has no kid');
  let key = deps.keys.verificationKey(header.kid);
  if (key === undefined && deps.refreshKeys) {
    await deps.refreshKeys();
    key = deps.keys.verificationKey(header.kid);
  }
  if (key === undefined) throw new RelayError('RELAY_ERR_TOKEN_KID_UNKNOWN');

  const now = deps.now();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [TOKEN_ALG],
      issuer: deps.issuer,
      audience: TOKEN_AUDIENCE,
      clockTolerance: deps.clockSkewSeconds,
      currentDate: new Date(now),
      requiredClaims: ['exp', 'iat'],
    }));
  } catch (cause) {
    throw new RelayError(joseErrorCode(cause), undefined, { cause });
  }
  // jose checks a future iat only together with maxTokenAge; a token from the future is refused here.
  if ((payload.iat as number) > now / 1000 + deps.clockSkewSeconds)
    throw new RelayError('RELAY_ERR_TOKEN_NOT_YET_VALID');
  return toClaims(payload);
}

function toClaims(p: JWTPayload): DeviceClaims {
  const { sub, acc, role, jti, exp, sua } = p;
  const valid =
    typeof sub === 'string' &&
    sub.length > 0 &&
    typeof acc === 'string' &&
    acc.length > 0 &&
    (role === 'sidecar' || role === 'pwa') &&
    typeof jti === 'string' &&
    jti.length > 0 &&
    typeof exp === 'number' &&
    (sua === undefined || typeof sua === 'number');
  if (!valid) throw new RelayError('RELAY_ERR_TOKEN_CLAIMS_INVALID');
  return {
    deviceId: sub,
    accountId: acc,
    role,
    jti,
    expiresAt: exp * 1000,
    stepUpAt: typeof sua === 'number' ? sua * 1000 : undefined,
  };
}

/** Maps a jose error to a registry code; anything unrecognised is a malformed token. */
function joseErrorCode(err: unknown): ErrorCode {
  const { code, claim, reason } = err as { code?: string; claim?: string; reason?: string };
  switch (code) {
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'RELAY_ERR_TOKEN_ALG_NOT_ALLOWED';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'RELAY_ERR_TOKEN_SIGNATURE_INVALID';
    case 'ERR_JWT_EXPIRED':
      return 'RELAY_ERR_TOKEN_EXPIRED';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'iss') return 'RELAY_ERR_TOKEN_ISSUER_INVALID';
      if (claim === 'aud') return 'RELAY_ERR_TOKEN_AUDIENCE_INVALID';
      if ((claim === 'nbf' || claim === 'iat') && reason === 'check_failed') return 'RELAY_ERR_TOKEN_NOT_YET_VALID';
      return 'RELAY_ERR_TOKEN_CLAIMS_INVALID';
    default:
      return 'RELAY_ERR_TOKEN_MALFORMED';
  }
}
