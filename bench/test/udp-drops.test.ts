import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { defaultReceiveBuffer, dropsSince, udpReceiveDrops } from '../src/udp-drops.js';

describe('udp-drops', () => {
  it.runIf(process.platform === 'linux')('counts datagrams a full receive buffer dropped', async () => {
    const receiver = createSocket({ type: 'udp4', recvBufferSize: 4096 });
    const sender = createSocket('udp4');
    try {
      receiver.bind(0, '127.0.0.1');
      await once(receiver, 'listening');
      const { port } = receiver.address();
      const before = udpReceiveDrops();
      expect(before).toBeTypeOf('number');
      // Sent in one turn: the receiver cannot read before its 4 KiB buffer overflows.
      const payload = Buffer.alloc(1024);
      for (let i = 0; i < 200; i++) sender.send(payload, port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(dropsSince(before)).toBeGreaterThan(0);
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
