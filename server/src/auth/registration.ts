/**
 * Registration (a sidecar creates an account with itself as first device) and token refresh by proof of possession.
 */
import type { RegisterRequest, TokenRequest, TokenResponse } from '@oppie/protocol';
import type { Audit } from '../audit.js';
import { type AuthContext, type CallContext, issueToken, prove, refuse } from './context.js';
import { randomId, sha256 } from './device-id.js';
import { consumeLimit } from './rate-limits.js';
import type { EnrollmentStore } from './stores.js';

/**
 * Creates an operator enrollment token (REGISTRATION=enrollment). Only its sha256 is stored: the plaintext returned
 * here is the one copy, to hand to the sidecar's operator.
 *
 * @example
 * // oppie-relay enroll --uses 1 --ttl 86400
 * const { token, expiresAt } = await createEnrollmentToken(new SqliteEnrollmentStore(db), { uses: 1, ttlSeconds: 86400 });
 */
export async function createEnrollmentToken(
  store: EnrollmentStore,
  opts: { uses: number; ttlSeconds: number; now?: () => number; audit?: Audit },
): Promise<{ token: string; expiresAt: number; uses: number }> {
  if (!Number.isInteger(opts.uses) || opts.uses < 1) throw new RangeError('uses must be a positive integer');
  if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 1)
    throw new RangeError('ttlSeconds must be a positive integer');
  const now = (opts.now ?? Date.now)();
  const token = randomId(32);
  const expiresAt = now + opts.ttlSeconds * 1000;
  const tokenHash = sha256(token);
  await store.create({ tokenHash, createdAt: now, expiresAt, uses: opts.uses });
  // The hash prefix lets an operator match audit lines to a token without the log revealing it.
  opts.audit?.log('enrollment.created', { ref: tokenHash.slice(0, 8), uses: opts.uses, expiresAt });
  return { token, expiresAt, uses: opts.uses };
}

/**
 * POST /api/auth/register.
 *
 * @example
 * const res = await register(ctx, body, { ip: request.ip });
 */
export async function register(ctx: AuthContext, body: RegisterRequest, call: CallContext): Promise<TokenResponse> {
  const { deviceId, publicKey } = await prove(ctx, body.proof, 'register', call, 'register');
  // Checked before an enrollment use is spent, so a retry of a registration that succeeded costs nothing.
  if (await ctx.stores.registry.getDevice(deviceId)) throw refuse(ctx, 'RELAY_ERR_DEVICE_EXISTS');
  if (ctx.config.registration === 'enrollment') {
    if (body.enrollmentToken === undefined) throw refuse(ctx, 'RELAY_ERR_ENROLLMENT_REQUIRED');
    if (!(await ctx.stores.enrollments.consume(sha256(body.enrollmentToken), ctx.now()))) {
      ctx.audit.log('token.refused', {
        stage: 'register',
        code: 'RELAY_ERR_ENROLLMENT_INVALID',
        deviceId,
        ip: call.ip,
      });
      throw refuse(ctx, 'RELAY_ERR_ENROLLMENT_INVALID');
    }
  } else {
    await consumeLimit(ctx.limiters, 'registration', call.ip, ctx.metrics);
  }
  const accountId = randomId();
  const device = {
    id: deviceId,
    accountId,
    role: 'sidecar' as const,
    name: body.name,
    publicKey,
    createdAt: ctx.now(),
  };
  await ctx.stores.registry.createAccount(accountId, device);
  const record = { ...device, lastSeenAt: null, revokedAt: null };
  ctx.audit.log('device.registered', {
    deviceId,
    accountId,
    role: 'sidecar',
    ip: call.ip,
    policy: ctx.config.registration,
  });
  ctx.events.emit('deviceAdded', record);
  return issueToken(ctx, device, 'register', call);
}

/**
 * POST /api/auth/token: a new access token for a known, non-revoked device.
 *
 * @example
 * const res = await refreshToken(ctx, body, { ip: request.ip });
 */
export async function refreshToken(ctx: AuthContext, body: TokenRequest, call: CallContext): Promise<TokenResponse> {
  const { deviceId } = await prove(ctx, body.proof, 'token', call, 'token');
  const device = await ctx.stores.registry.getDevice(deviceId);
  if (!device || device.revokedAt !== null) {
    const code = device ? 'RELAY_ERR_DEVICE_REVOKED' : 'RELAY_ERR_DEVICE_UNKNOWN';
    ctx.audit.log('token.refused', { stage: 'token', code, deviceId, ip: call.ip });
    throw refuse(ctx, code);
  }
  ctx.stores.registry.touchDevice(deviceId, ctx.now()).catch((err: unknown) => {
    ctx.logger.warn({ err, deviceId }, 'could not record device activity');
  });
  return issueToken(ctx, device, 'token', call);
}
