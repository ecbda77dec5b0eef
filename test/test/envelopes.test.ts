import { parseDeviceFrame } from '@oppie/protocol';
import { decodePayload, deviceAck, encodePayload, routedEnvelope, uniqueId } from '@oppie/test-kit';
import { describe, expect, it } from 'vitest';

const limits = { maxFrameBytes: 1 << 20, maxJsonDepth: 16 };
const valid = (env: object) => {
  const text = JSON.stringify(env);
  return parseDeviceFrame(text, Buffer.byteLength(text), limits);
};

describe('envelope builders', () => {
  it('build envelopes the protocol schema accepts', () => {
    const chat = routedEnvelope('chat', 'device-aaaa', 'device-bbbb', 'hello', {
      seq: 3,
      ttl: 1000,
      priority: 'high',
      sessionId: 's1',
    });
    expect(valid(chat)).toMatchObject({ ok: true });
    expect(valid(routedEnvelope('diff', 'device-aaaa', 'device-bbbb', new Uint8Array(0)))).toMatchObject({ ok: true });
    expect(valid(deviceAck([chat.id]))).toMatchObject({ ok: true });
  });

  it('round-trip payloads through base64url', () => {
    for (const text of ['', 'hello', 'ünïcødé ✓', 'x'.repeat(5000)]) {
      expect(decodePayload({ payload: encodePayload(text) })).toBe(text);
    }
  });

  it('make unique ids in the protocol alphabet', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => uniqueId('chat')));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
  });
});
