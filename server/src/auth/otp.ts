/**
 * TOTP step-up (RFC 6238: SHA-1, 6 digits, 30-second steps). Enrollment stays pending until a first code verifies,
 * so a secret the user never saved cannot lock the account's approvals. Each time step is accepted once per account.
 */
import type { TokenResponse } from '@oppie/protocol';
import { Secret, TOTP } from 'otpauth';
import { type AuthContext, type CallContext, issueToken, refuse } from './context.js';
import { consumeLimit } from './rate-limits.js';
import type { DeviceClaims } from './types.js';

const PERIOD = 30;
/** One step either side absorbs phone clock drift and a code typed at the turn of a step. */
const WINDOW = 1;

function totp(secret: string, accountId: string): TOTP {
  return new TOTP({
    issuer: 'Oppie Relay',
    label: accountId,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    secret: Secret.fromBase32(secret),
  });
}

/**
 * POST /api/auth/otp/enroll: a new pending secret for the caller's account.
 *
 * @example
 * const { secret, uri } = await enrollOtp(ctx, claims, { ip });
 */
export async function enrollOtp(
  ctx: AuthContext,
  claims: DeviceClaims,
  call: CallContext,
): Promise<{ secret: string; uri: string }> {
  const existing = await ctx.stores.registry.getOtp(claims.accountId);
  if (existing?.confirmedAt != null) throw refuse(ctx, 'RELAY_ERR_OTP_ALREADY_ENROLLED');
  const secret = new Secret({ size: 20 }).base32;
  if (!(await ctx.stores.registry.setPendingOtp(claims.accountId, secret))) {
    throw refuse(ctx, 'RELAY_ERR_OTP_ALREADY_ENROLLED');
  }
  ctx.metrics.otp.inc({ outcome: 'enrolled' });
  ctx.audit.log('otp.enrolled', { accountId: claims.accountId, deviceId: claims.deviceId, pending: true, ip: call.ip });
  return { secret, uri: totp(secret, claims.accountId).toString() };
}

/**
 * POST /api/auth/otp/verify: checks a code and answers with a token carrying a fresh step-up claim (`sua`).
 * The first success confirms a pending enrollment.
 *
 * @example
 * const { token } = await verifyOtp(ctx, claims, '123456', { ip });
 */
export async function verifyOtp(
  ctx: AuthContext,
  claims: DeviceClaims,
  code: string,
  call: CallContext,
): Promise<TokenResponse> {
  await consumeLimit(ctx.limiters, 'otp', claims.deviceId, ctx.metrics);
  const state = await ctx.stores.registry.getOtp(claims.accountId);
  if (!state) throw refuse(ctx, 'RELAY_ERR_OTP_NOT_ENROLLED');
  const now = ctx.now();
  const delta = totp(state.secret, claims.accountId).validate({ token: code, timestamp: now, window: WINDOW });
  const counter = delta === null ? null : TOTP.counter({ period: PERIOD, timestamp: now }) + delta;
  const accepted = counter !== null && (await ctx.stores.registry.acceptOtpCounter(claims.accountId, counter, now));
  if (!accepted) {
    ctx.metrics.otp.inc({ outcome: 'failed' });
    ctx.audit.log('otp.failed', {
      accountId: claims.accountId,
      deviceId: claims.deviceId,
      reason: counter === null ? 'wrong' : 'reused',
      ip: call.ip,
    });
    throw refuse(ctx, 'RELAY_ERR_OTP_INVALID');
  }
  ctx.metrics.otp.inc({ outcome: 'verified' });
  ctx.audit.log('otp.verified', {
    accountId: claims.accountId,
    deviceId: claims.deviceId,
    confirmed: state.confirmedAt === null,
    ip: call.ip,
  });
  return issueToken(ctx, { id: claims.deviceId, accountId: claims.accountId, role: claims.role }, 'otp', call, now);
}
