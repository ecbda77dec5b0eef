/**
 * Live sessions as the hub counts them for `oppie_relay_sessions_by_path`: a PWA and a sidecar of one account, both
 * connected here or (by presence) elsewhere, counted once, by the dialing device's last report; connections being
 * closed or not yet welcomed do not count, and devices a crashed instance never announced offline are dropped by the
 * sweep's check.
 */
import type { RoleName } from '@oppie/protocol';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { DeviceClaims } from '../../src/auth/types.js';
import { Connection, type ConnectionSettings } from '../../src/ws/connection.js';
import { Hub } from '../../src/ws/hub.js';

const SETTINGS: ConnectionSettings = {
  envelopesPerSecond: 100,
  envelopeBurst: 100,
  sendBufferMaxBytes: 1 << 20,
  inboundMaxBytes: 1 << 20,
};
// Ids sort as the dialing rule reads them: the smaller id dials.
const SIDECAR = 'a-sidecar';
const PHONE = 'b-phone';
const PHONE2 = 'c-phone';

function connection(deviceId: string, role: RoleName, ready = true): Connection {
  const ws = { send: () => {}, close: () => {}, terminate: () => {}, bufferedAmount: 0 } as unknown as WebSocket;
  const claims = { deviceId, accountId: 'acct', role, expiresAt: Date.now() + 60_000 } as unknown as DeviceClaims;
  const c = new Connection(ws, `c-${deviceId}`, deviceId, 'acct', role, '127.0.0.1', claims, SETTINGS, Date.now());
  c.ready = ready;
  return c;
}

function hubWithAccount(): Hub {
  const hub = new Hub();
  hub.setDirectory('acct', [
    [SIDECAR, { role: 'sidecar', name: 'workstation' }],
    [PHONE, { role: 'pwa', name: 'phone' }],
    [PHONE2, { role: 'pwa', name: 'phone 2' }],
  ]);
  return hub;
}

describe('sessions by path', () => {
  it('counts a PWA and a sidecar both connected, once, by what the dialing side reported', () => {
    const hub = hubWithAccount();
    const sidecar = connection(SIDECAR, 'sidecar');
    hub.add(sidecar);
    expect(hub.sessionPaths()).toEqual({ relay: 0, turn: 0, direct: 0 });
    const phone = connection(PHONE, 'pwa');
    hub.add(phone);
    hub.add(connection(PHONE2, 'pwa'));
    expect(hub.sessionPaths()).toEqual({ relay: 2, turn: 0, direct: 0 });
    phone.peerPaths = new Map([[SIDECAR, 'direct']]); // the answering side: not what counts
    sidecar.peerPaths = new Map([[PHONE, 'turn']]);
    expect(hub.sessionPaths()).toEqual({ relay: 1, turn: 1, direct: 0 });
  });

  it('leaves out connections being closed or not yet welcomed', () => {
    const hub = hubWithAccount();
    const sidecar = connection(SIDECAR, 'sidecar', false);
    hub.add(sidecar);
    hub.add(connection(PHONE, 'pwa'));
    expect(hub.sessionPaths().relay).toBe(0);
    sidecar.ready = true;
    expect(hub.sessionPaths().relay).toBe(1);
    sidecar.closedWith = 4501; // replaced elsewhere: the other instance counts it now
    expect(hub.sessionPaths().relay).toBe(0);
  });

  it('counts peers on other instances until they go, are checked gone, or connect here', () => {
    const hub = hubWithAccount();
    const sidecar = connection(SIDECAR, 'sidecar');
    hub.add(sidecar);
    hub.remotePresence('acct', PHONE, true);
    hub.remotePresence('acct', PHONE2, true);
    hub.remotePresence('other-account', 'z', true); // no directory here: not kept
    expect(
      hub
        .remoteDevices()
        .map(([, id]) => id)
        .sort(),
    ).toEqual([PHONE, PHONE2]);
    expect(hub.sessionPaths().relay).toBe(2);
    hub.remotePresence('acct', PHONE2, false);
    expect(hub.sessionPaths().relay).toBe(1);
    // Its instance crashed: its location is gone from Redis, or points here, where it is not.
    hub.remotePresence('acct', PHONE2, true);
    hub.reconcileRemote(
      [
        ['acct', PHONE],
        ['acct', PHONE2],
      ],
      new Map([[PHONE2, { instance: 'this' }]]),
      'this',
    );
    expect(hub.remoteDevices()).toEqual([]);
    expect(hub.sessionPaths().relay).toBe(0);
    // Here and still listed elsewhere (its old connection there closing): one session, not two.
    hub.remotePresence('acct', PHONE, true);
    hub.add(connection(PHONE, 'pwa'));
    expect(hub.remoteDevices()).toEqual([]);
    expect(hub.sessionPaths().relay).toBe(1);
  });
});
