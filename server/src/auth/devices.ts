/** The devices of an account: listing for the account's own devices, and revocation. */
import type { DeviceInfo } from '@oppie/protocol';
import { type AuthContext, type CallContext, refuse } from './context.js';
import type { DeviceClaims } from './types.js';

/**
 * GET /api/auth/devices: the caller's account, revoked devices excluded.
 *
 * @example
 * const { devices } = await listAccountDevices(ctx, claims, relay.online);
 */
export async function listAccountDevices(
  ctx: AuthContext,
  claims: DeviceClaims,
  online: (deviceIds: readonly string[]) => Promise<ReadonlySet<string>>,
): Promise<{ devices: DeviceInfo[] }> {
  const devices = await ctx.stores.registry.listDevices(claims.accountId);
  const connected = await online(devices.map((d) => d.id));
  return {
    devices: devices.map((d) => ({
      id: d.id,
      role: d.role,
      name: d.name,
      publicKey: d.publicKey,
      createdAt: d.createdAt,
      lastSeenAt: d.lastSeenAt,
      online: connected.has(d.id),
    })),
  };
}

/**
 * DELETE /api/auth/devices/:id: revokes a device of the caller's account (the caller itself included). Its tokens
 * are refused from now on and `deviceRevoked` tells the connection layer to close its sockets.
 *
 * A device of another account answers exactly like a device that does not exist, so the call cannot be used to
 * probe which ids are registered.
 *
 * @example
 * await revokeDevice(ctx, claims, params.id, { ip });
 */
export async function revokeDevice(
  ctx: AuthContext,
  claims: DeviceClaims,
  deviceId: string,
  call: CallContext,
): Promise<void> {
  const device = await ctx.stores.registry.getDevice(deviceId);
  if (!device || device.accountId !== claims.accountId || device.revokedAt !== null) {
    throw refuse(ctx, 'RELAY_ERR_DEVICE_NOT_FOUND');
  }
  await ctx.stores.registry.revokeDevice(deviceId, ctx.now());
  ctx.revocations.add(deviceId);
  ctx.audit.log('device.revoked', {
    deviceId,
    accountId: device.accountId,
    role: device.role,
    by: claims.deviceId,
    ip: call.ip,
  });
  ctx.events.emit('deviceRevoked', { deviceId, accountId: device.accountId });
}
