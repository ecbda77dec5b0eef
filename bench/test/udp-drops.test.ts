import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { defaultReceiveBuffer, dropsSince, udpBufferDrops, udpDropsOfSnmp, udpDropsOfSnmp6 } from '../src/udp-drops.js';

// The shape of the kernel's files; InErrors differs from RcvbufErrors so that reading the wrong column shows.
const SNMP = `Ip: Forwarding DefaultTTL
Ip: 1 64
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 67547 418 9000 68427 70 5 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 1 2 3 4 500 600 7 8 9
`;
const SNMP6 = `Udp6InDatagrams                 	20963621
Udp6InErrors                    	999999
Udp6RcvbufErrors                	153325
Udp6SndbufErrors                	11
UdpLite6RcvbufErrors            	4000
`;

/** Linux's /proc/net is what the bench reads: under CI it must be there, elsewhere a loud skip. */
function requireProcNet(): boolean {
  if (process.platform === 'linux') return true;
  if (process.env.CI === 'true') throw new Error('the UDP drop counters need Linux /proc/net in CI');
  console.warn(`\n!!! SKIPPED: /proc/net/snmp exists only on Linux (this is ${process.platform})\n`);
  return false;
}

describe('udp-drops', () => {
  it('sums receive- and send-buffer errors of UDP, not of UDP-Lite, from both files', () => {
    expect(udpDropsOfSnmp(SNMP)).toBe(75);
    expect(udpDropsOfSnmp6(SNMP6)).toBe(153_336);
    expect(udpDropsOfSnmp('')).toBe(0);
    expect(udpDropsOfSnmp6('')).toBe(0);
  });

  it('counts the datagrams a full receive buffer dropped on this machine', async () => {
    if (!requireProcNet()) return;
    const receiver = createSocket({ type: 'udp4', recvBufferSize: 4096 });
    const sender = createSocket('udp4');
    try {
      receiver.bind(0, '127.0.0.1');
      await once(receiver, 'listening');
      const { port } = receiver.address();
      const before = udpBufferDrops();
      expect(before).toBeTypeOf('number');
      // Sent in one turn: the receiver cannot read before its buffer (a few KiB) overflows.
      const payload = Buffer.alloc(1024);
      for (let i = 0; i < 200; i++) sender.send(payload, port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 100));
      // At most a handful fit the buffer; the rest are counted (other sockets' drops can only add).
      expect(dropsSince(before)).toBeGreaterThanOrEqual(150);
      expect(defaultReceiveBuffer()).toBeGreaterThan(0);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it('says nothing when a reading is missing', () => {
    expect(dropsSince(undefined)).toBeUndefined();
  });
});
