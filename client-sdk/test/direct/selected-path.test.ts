/**
 * Reading the selected candidate pair from stats: the path (`direct`, `turn` with its relay protocol) and whether a
 * direct pair stays within a local network (`lan`), from stats shaped as wrtc and Chromium report them.
 */
import { describe, expect, it } from 'vitest';
import { isLocalAddress, selectedPath } from '../../src/direct/selected-path.js';

type Candidate = {
  candidateType: string;
  address?: string;
  ip?: string;
  relayProtocol?: string;
  networkType?: string;
};

/** A peer connection whose stats hold one selected pair of `local` and `remote`, found through its transport. */
const pcWith = (local: Candidate, remote: Candidate) => ({
  getStats: async () =>
    new Map<string, Record<string, unknown>>([
      ['T', { id: 'T', type: 'transport', selectedCandidatePairId: 'P' }],
      ['P', { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R' }],
      ['L', { id: 'L', type: 'local-candidate', ...local }],
      ['R', { id: 'R', type: 'remote-candidate', ...remote }],
    ]),
});

describe('isLocalAddress', () => {
  it.each([
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.20',
    '127.0.0.1',
    '169.254.10.1',
    '::1',
    'fd00::2',
    'FC00::1',
    'fe80::fc:ff:fe00:1',
    '[fd12:3456::1]',
    '::ffff:192.168.0.4',
    'fe80::1%eth0',
    'fe80::',
    '0b6e1a22-2c4f-4a5e-9d3a-1f0e2b7c9d11.local',
  ])('%s is on a local network', (a) => {
    expect(isLocalAddress(a)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '172.15.0.1',
    '172.32.0.1',
    '192.169.1.1',
    '100.64.0.1',
    '192.0.2.2',
    '2001:db8::1',
    '2a00:1450::1',
    '::ffff:8.8.4.4',
    'example.com',
    '::',
    '0.0.0.0',
    'fec0::1',
    '',
  ])('%s is not', (a) => {
    expect(isLocalAddress(a)).toBe(false);
  });
});

describe('selectedPath', () => {
  it('says lan for a host or peer-reflexive pair on local addresses, not for one through a NAT or a relay', async () => {
    const host = (address: string): Candidate => ({ candidateType: 'host', address });
    expect(await selectedPath(pcWith(host('fd00::2'), host('fd00::2')))).toEqual({
      path: 'direct',
      localRelay: false,
      lan: true,
    });
    // Chromium's host candidate reaches wrtc under an mDNS name, or as peer-reflexive; older stats say `ip`.
    expect((await selectedPath(pcWith(host('192.168.1.5'), host('abc.local'))))?.lan).toBe(true);
    expect(
      (
        await selectedPath(
          pcWith({ candidateType: 'host', ip: '10.0.0.2' }, { candidateType: 'prflx', ip: '10.0.0.3' }),
        )
      )?.lan,
    ).toBe(true);
    // A server-reflexive end is a NAT's public address: direct, but not a local network.
    expect(
      await selectedPath(pcWith(host('192.168.1.5'), { candidateType: 'srflx', address: '198.51.100.7' })),
    ).toEqual({ path: 'direct', localRelay: false, lan: false });
    expect((await selectedPath(pcWith(host('192.168.1.5'), host('203.0.113.9'))))?.lan).toBe(false);
    expect((await selectedPath(pcWith(host('192.168.1.5'), { candidateType: 'host' })))?.lan).toBe(false);
    // A private address on a carrier's or a VPN's interface, as Chromium reports its own candidates.
    for (const networkType of ['cellular', 'vpn'])
      expect((await selectedPath(pcWith({ ...host('10.20.0.5'), networkType }, host('10.20.0.9'))))?.lan).toBe(false);
    expect((await selectedPath(pcWith({ ...host('10.20.0.5'), networkType: 'wifi' }, host('10.20.0.9'))))?.lan).toBe(
      true,
    );
    expect(
      await selectedPath(
        pcWith({ candidateType: 'relay', address: '10.0.0.9', relayProtocol: 'tcp' }, host('192.168.1.5')),
      ),
    ).toEqual({ path: 'turn', relayProtocol: 'tcp', localRelay: true });
  });
});
