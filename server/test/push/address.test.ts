import { describe, expect, it } from 'vitest';
import { isPrivateAddress, isPrivateHost } from '../../src/push/address.js';

describe('isPrivateAddress', () => {
  it.each([
    '0.0.0.0',
    '10.1.2.3',
    '100.64.0.1',
    '100.127.255.254',
    '127.0.0.1',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.8',
    '192.168.1.20',
    '198.18.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '::10.0.0.1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::10.0.0.1',
    '64:ff9b::a00:1',
    '64:ff9b:1::8.8.8.8',
    '2002:c0a8:101::1',
    '2002:7f00:1::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'febf::1',
    'ff02::1',
    'FF0E::1',
  ])('%s is private', (ip) => {
    expect(isPrivateAddress(ip)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '100.63.255.255',
    '100.128.0.1',
    '172.32.0.1',
    '192.0.2.1',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
    '2a00:1450:4001::200e',
  ])('%s is public', (ip) => {
    expect(isPrivateAddress(ip)).toBe(false);
  });

  it('is false for a name (names are decided when resolved)', () => {
    expect(isPrivateAddress('push.example.com')).toBe(false);
  });
});

describe('isPrivateHost', () => {
  it.each(['localhost', 'localhost.', 'LOCALHOST', 'a.localhost', 'a.localhost.', '[::1]', '[fd00::1]', '127.0.0.1'])(
    '%s is private',
    (host) => {
      expect(isPrivateHost(host)).toBe(true);
    },
  );

  it.each(['push.example.com', 'localhost.example.com', '[2001:4860:4860::8888]', '8.8.8.8'])('%s is not', (host) => {
    expect(isPrivateHost(host)).toBe(false);
  });
});
