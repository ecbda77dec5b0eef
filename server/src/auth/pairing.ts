/**
 * Pairing: a sidecar asks for a one-time code, shows it to the user (QR code), and a PWA claims it to join the
 * sidecar's account. The code is `<lookupId>-<secret>`: the lookup id finds the record, the secret (stored only as a
 * sha256) proves the claimant saw the code. Wrong secrets are counted and burn the code after PAIRING_MAX_ATTEMPTS.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PairingClaimRequest, TokenResponse } from '@oppie/protocol';
import { type AuthContext, type CallContext, issueToken, prove, refuse } from './context.js';
import { checkLimit, penalize } from './rate-limits.js';
import type { DeviceClaims, DeviceRecord } from './types.js';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** 5 bytes -> 8 characters: enough to spread lookups; the secret carries the entropy. */
const LOOKUP_BYTES = 5;
/** 15 bytes -> 24 characters, 120 bits: unguessable within a handful of attempts. */
const SECRET_BYTES = 15;
const CODE_PATTERN = /^([A-Z2-7]{8})-([A-Z2-7]{24})$/;

/** RFC 4648 base32 without padding; base64url would not do, its alphabet contains the '-' separator. */
function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

const hashSecret = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

/**
 * POST /api/pairing: a new code for the calling sidecar's account.
 *
 * @example
 * const { code, expiresAt, maxAttempts } = await createPairing(ctx, claims, { ip });
 */
export async function createPairing(
  ctx: AuthContext,
  claims: DeviceClaims,
  call: CallContext,
): Promise<{ code: string; expiresAt: number; maxAttempts: number }> {
  if (claims.role !== 'sidecar')
    throw refuse(ctx, 'RELAY_ERR_ROLE_FORBIDDEN', 'only a sidecar can create pairing codes');
  const lookupId = base32(randomBytes(LOOKUP_BYTES));
  const secret = base32(randomBytes(SECRET_BYTES));
  const now = ctx.now();
  const expiresAt = now + ctx.config.pairingTtlSeconds * 1000;
  const maxAttempts = ctx.config.pairingMaxAttempts;
  await ctx.stores.pairings.create({
    lookupId,
    secretHash: hashSecret(secret),
    accountId: claims.accountId,
    sidecarDeviceId: claims.deviceId,
    createdAt: now,
    expiresAt,
    maxAttempts,
    attempts: 0,
    usedAt: null,
  });
  ctx.metrics.pairing.inc({ outcome: 'created' });
  ctx.audit.log('pairing.created', { lookupId, accountId: claims.accountId, deviceId: claims.deviceId, ip: call.ip });
  return { code: `${lookupId}-${secret}`, expiresAt, maxAttempts };
}

/**
 * POST /api/pairing/claim: a PWA proves its key and the code, and joins the sidecar's account.
 *
 * @example
 * const res = await claimPairing(ctx, { code, proof, name }, { ip });
 */
export async function claimPairing(
  ctx: AuthContext,
  body: PairingClaimRequest,
  call: CallContext,
): Promise<TokenResponse & { sidecarDeviceId: string }> {
  await checkLimit(ctx.limiters, 'pairing', call.ip, ctx.metrics);
  const failed = async (
    outcome: string,
    code: 'RELAY_ERR_PAIRING_CODE_INVALID' | 'RELAY_ERR_PAIRING_CODE_EXPIRED' | 'RELAY_ERR_PAIRING_ATTEMPTS_EXCEEDED',
    lookupId?: string,
  ) => {
    ctx.metrics.pairing.inc({ outcome });
    ctx.audit.log('pairing.failed', { outcome, code, lookupId, ip: call.ip });
    // Guessing is what the per-address limit is for: every failed claim spends a point.
    await penalize(ctx.limiters, 'pairing', call.ip);
    return refuse(ctx, code);
  };

  const { deviceId, publicKey } = await prove(ctx, body.proof, `pair:${body.code}`, call, 'pair');
  const match = CODE_PATTERN.exec(body.code.toUpperCase());
  if (!match) throw await failed('invalid', 'RELAY_ERR_PAIRING_CODE_INVALID');
  const lookupId = match[1] as string;
  const secret = match[2] as string;
  const record = await ctx.stores.pairings.get(lookupId);
  if (!record) throw await failed('invalid', 'RELAY_ERR_PAIRING_CODE_INVALID');
  if (record.usedAt !== null) throw await failed('reused', 'RELAY_ERR_PAIRING_CODE_INVALID', lookupId);
  if (record.attempts >= record.maxAttempts)
    throw await failed('burnt', 'RELAY_ERR_PAIRING_ATTEMPTS_EXCEEDED', lookupId);
  if (record.expiresAt <= ctx.now()) throw await failed('expired', 'RELAY_ERR_PAIRING_CODE_EXPIRED', lookupId);
  if (!timingSafeEqual(hashSecret(secret), record.secretHash)) {
    const attempts = await ctx.stores.pairings.recordFailedAttempt(lookupId);
    if (attempts >= record.maxAttempts) throw await failed('burnt', 'RELAY_ERR_PAIRING_ATTEMPTS_EXCEEDED', lookupId);
    throw await failed('wrong_code', 'RELAY_ERR_PAIRING_CODE_INVALID', lookupId);
  }
  // A code of a sidecar revoked since it was made must not add devices to the account.
  const sidecar = await ctx.stores.registry.getDevice(record.sidecarDeviceId);
  if (!sidecar || sidecar.revokedAt !== null)
    throw await failed('sidecar_revoked', 'RELAY_ERR_PAIRING_CODE_INVALID', lookupId);
  if (await ctx.stores.registry.getDevice(deviceId)) throw refuse(ctx, 'RELAY_ERR_DEVICE_EXISTS');
  if (!(await ctx.stores.pairings.markUsed(lookupId, ctx.now()))) {
    throw await failed('reused', 'RELAY_ERR_PAIRING_CODE_INVALID', lookupId);
  }

  const device: DeviceRecord = {
    id: deviceId,
    accountId: record.accountId,
    role: 'pwa',
    name: body.name,
    publicKey,
    createdAt: ctx.now(),
    lastSeenAt: null,
    revokedAt: null,
  };
  await ctx.stores.registry.addDevice(device);
  ctx.metrics.pairing.inc({ outcome: 'claimed' });
  ctx.audit.log('pairing.claimed', {
    lookupId,
    accountId: device.accountId,
    deviceId,
    sidecarDeviceId: sidecar.id,
    ip: call.ip,
  });
  ctx.audit.log('device.registered', {
    deviceId,
    accountId: device.accountId,
    role: 'pwa',
    ip: call.ip,
    via: 'pairing',
  });
  ctx.events.emit('deviceAdded', device);
  const token = await issueToken(ctx, device, 'pair', call);
  return { ...token, sidecarDeviceId: sidecar.id };
}
