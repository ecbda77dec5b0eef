import type { DeviceInfo } from '@oppie/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, SqliteRegistry } from '../../src/store/sqlite/index.js';
import { type Harness, harness, proofFor } from './helpers.js';

let h: Harness;
afterEach(() => h?.close());

describe('devices', () => {
  it('lists the devices of the caller account with their online state', async () => {
    h = await harness();
    const sidecar = await h.register({ name: 'ws' });
    h.clock.t += 1000; // the list is oldest first
    const phone = await h.pair(sidecar.token, { name: 'pixel' });
    await h.register({ name: 'someone else' });
    h.online.add(phone.deviceId);
    const res = await h.call<{ devices: DeviceInfo[] }>('GET', '/api/auth/devices', { token: phone.token });
    expect(res.status).toBe(200);
    expect(res.body.devices.map((d) => [d.id, d.role, d.name, d.online])).toEqual([
      [sidecar.deviceId, 'sidecar', 'ws', false],
      [phone.deviceId, 'pwa', 'pixel', true],
    ]);
    expect(res.body.devices[0]?.publicKey).toBe(sidecar.key.publicKey);
    expect(await h.auth.listDevices(sidecar.accountId)).toHaveLength(2);
  });

  it('revokes a device: event, tokens refused, token refresh refused, list excludes it', async () => {
    h = await harness({ auditFile: true });
    const sidecar = await h.register();
    const phone = await h.pair(sidecar.token);
    const revoked: Array<{ deviceId: string; accountId: string }> = [];
    h.auth.events.on('deviceRevoked', (e) => revoked.push(e));

    const res = await h.call('DELETE', `/api/auth/devices/${phone.deviceId}`, { token: sidecar.token });
    expect(res.status).toBe(204);
    expect(revoked).toEqual([{ deviceId: phone.deviceId, accountId: sidecar.accountId }]);

    const refused = await h.call('GET', '/api/auth/devices', { token: phone.token });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('RELAY_ERR_DEVICE_REVOKED');
    const proof = proofFor('token', phone.key, { challenge: await h.challenge() });
    expect((await h.call('POST', '/api/auth/token', { body: { proof } })).body.code).toBe('RELAY_ERR_DEVICE_REVOKED');
    const list = await h.call<{ devices: DeviceInfo[] }>('GET', '/api/auth/devices', { token: sidecar.token });
    expect(list.body.devices.map((d) => d.id)).toEqual([sidecar.deviceId]);
    expect((await h.auth.getDevice(phone.deviceId))?.revokedAt).toBe(h.clock.t);
    expect(await h.auditText()).toContain('"event":"device.revoked"');
  });

  it('allows revoking yourself', async () => {
    h = await harness();
    const sidecar = await h.register();
    expect((await h.call('DELETE', `/api/auth/devices/${sidecar.deviceId}`, { token: sidecar.token })).status).toBe(
      204,
    );
    await expect(h.auth.verifyToken(sidecar.token)).rejects.toMatchObject({ code: 'RELAY_ERR_DEVICE_REVOKED' });
  });

  it('answers another account device, an unknown id and a revoked one alike', async () => {
    h = await harness();
    const mine = await h.register();
    const theirs = await h.register();
    const phone = await h.pair(mine.token);
    await h.call('DELETE', `/api/auth/devices/${phone.deviceId}`, { token: mine.token });
    for (const id of [theirs.deviceId, 'AAAAAAAAAAAAAAAAAAAAAA', phone.deviceId]) {
      const res = await h.call('DELETE', `/api/auth/devices/${id}`, { token: mine.token });
      expect(res.status, id).toBe(404);
      expect(res.body.code).toBe('RELAY_ERR_DEVICE_NOT_FOUND');
    }
    expect((await h.auth.verifyToken(theirs.token)).deviceId).toBe(theirs.deviceId);
  });

  it('sees a revocation made by another process after a refresh', async () => {
    h = await harness();
    const sidecar = await h.register();
    const other = openDatabase(h.dataDir);
    await new SqliteRegistry(other).revokeDevice(sidecar.deviceId, h.clock.t);
    other.close();
    expect((await h.auth.verifyToken(sidecar.token)).deviceId).toBe(sidecar.deviceId);
    await h.auth.refresh();
    await expect(h.auth.verifyToken(sidecar.token)).rejects.toMatchObject({ code: 'RELAY_ERR_DEVICE_REVOKED' });
  });

  it('records activity', async () => {
    h = await harness();
    const sidecar = await h.register();
    h.auth.touchDevice(sidecar.deviceId, 12345);
    await new Promise((r) => setImmediate(r));
    expect((await h.auth.getDevice(sidecar.deviceId))?.lastSeenAt).toBe(12345);
  });
});
