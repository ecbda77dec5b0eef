import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { networkFingerprint, watchNetwork } from '../src/network-watch.js';

describe('watchNetwork', () => {
  it('calls back once per change of the interface list, and stops when told', async () => {
    let current = 'eth0/10.0.0.2';
    let changes = 0;
    const stop = watchNetwork(
      () => changes++,
      10,
      () => current,
    );
    await new Promise((r) => setTimeout(r, 40));
    expect(changes).toBe(0);
    current = 'eth0/10.0.0.2,wg0/10.9.0.1';
    await new Promise((r) => setTimeout(r, 40));
    expect(changes).toBe(1);
    stop();
    current = 'wlan0/192.168.1.4';
    await new Promise((r) => setTimeout(r, 40));
    expect(changes).toBe(1);
  });

  it('reads the real interfaces by default without calling back when nothing changed', async () => {
    let changes = 0;
    const stop = watchNetwork(() => changes++, 10);
    await new Promise((r) => setTimeout(r, 50));
    stop();
    expect(changes).toBe(0);
  });

  it('leaves loopback and link-local addresses out, so a container runtime adding a veth pair changes nothing', () => {
    const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({
      address,
      netmask: '255.255.255.0',
      family: 'IPv4',
      mac: '00:00:00:00:00:00',
      internal,
      cidr: `${address}/24`,
    });
    const v6 = (address: string, internal = false): NetworkInterfaceInfo => ({
      address,
      netmask: 'ffff:ffff:ffff:ffff::',
      family: 'IPv6',
      mac: '00:00:00:00:00:00',
      internal,
      cidr: `${address}/64`,
      scopeid: 0,
    });
    const base = { lo: [v4('127.0.0.1', true), v6('::1', true)], eth0: [v4('192.168.1.4'), v6('fe80::1')] };
    const before = networkFingerprint(base);
    expect(before).toBe('eth0/192.168.1.4');
    expect(networkFingerprint({ ...base, veth12ab: [v6('fe80::a8c1:abff:fe12:3456')] })).toBe(before);
    expect(networkFingerprint({ ...base, eth1: [v4('169.254.10.2')] })).toBe(before);
    // A usable address coming or going is a change.
    expect(networkFingerprint({ ...base, wg0: [v4('10.9.0.1')] })).not.toBe(before);
    expect(networkFingerprint({ ...base, eth0: [v6('2001:db8::5'), v6('FE80::1')] })).toBe('eth0/2001:db8::5');
  });
});
