import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { APPLICATION_TYPES } from '../src/message-types.js';
import { jsonDepthExceeds, parseDeviceFrame } from '../src/validate.js';

const limits = { maxFrameBytes: 64 * 1024, maxJsonDepth: 16 };
const parse = (value: unknown) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return parseDeviceFrame(text, Buffer.byteLength(text), limits);
};

const idArb = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/);
const deviceIdArb = fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/);
const cipherArb = fc.stringMatching(/^[A-Za-z0-9_=-]{1,200}$/);
const validRouted = fc.record({
  type: fc.constantFrom(...APPLICATION_TYPES, 'signal', 'receipt'),
  id: idArb,
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  to: deviceIdArb,
  seq: fc.option(fc.nat(), { nil: undefined }),
  ttl: fc.option(fc.integer({ min: 1, max: 10 ** 9 }), { nil: undefined }),
  metadata: fc.record(
    {
      deviceId: deviceIdArb,
      sessionId: fc.string({ maxLength: 64 }),
      priority: fc.constantFrom('high', 'normal', 'low'),
    },
    { requiredKeys: ['deviceId'] },
  ),
  payload: cipherArb,
});
const strip = (o: Record<string, unknown>) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>;

describe('parseDeviceFrame', () => {
  it('accepts every well-formed routed envelope', () => {
    fc.assert(
      fc.property(validRouted, (env) => {
        const r = parse(strip(env));
        expect(r.ok).toBe(true);
      }),
    );
  });

  it('refuses an envelope with any required field removed, naming its id when readable', () => {
    fc.assert(
      fc.property(validRouted, fc.constantFrom('id', 'timestamp', 'to', 'metadata', 'payload'), (env, field) => {
        const broken = strip(env);
        delete broken[field];
        const r = parse(broken);
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.code).toBe('RELAY_ERR_ENVELOPE_INVALID');
          if (field !== 'id') expect(r.id).toBe(env.id);
        }
      }),
    );
  });

  it('refuses unknown extra fields and wrong field types', () => {
    fc.assert(
      fc.property(validRouted, fc.constantFrom('extra', 'timestamp', 'seq', 'payload'), (env, field) => {
        const broken = strip(env);
        broken[field] = field === 'extra' ? 1 : { nested: true };
        const r = parse(broken);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.code).toBe('RELAY_ERR_ENVELOPE_INVALID');
      }),
    );
  });

  it('never throws on arbitrary input and always answers with a code', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          const r = parseDeviceFrame(text, Buffer.byteLength(text), limits);
          if (!r.ok) expect(r.code).toMatch(/^RELAY_ERR_/);
        },
      ),
    );
  });

  it('refuses malformed JSON, too-deep JSON, oversize frames and relay-only types with distinct codes', () => {
    const bad = parse('{"type":');
    expect(!bad.ok && bad.code).toBe('RELAY_ERR_MALFORMED_JSON');
    const deep = parse(`{"type":"chat","id":"x1","payload":${'['.repeat(40)}${']'.repeat(40)}}`);
    expect(!deep.ok && deep.code).toBe('RELAY_ERR_JSON_TOO_DEEP');
    expect(!deep.ok && deep.id).toBe('x1');
    const big = parseDeviceFrame('{}', limits.maxFrameBytes + 1, limits);
    expect(!big.ok && big.code).toBe('RELAY_ERR_PAYLOAD_TOO_LARGE');
    const relayOnly = parse({ type: 'welcome', id: 'w', timestamp: 1, payload: {} });
    expect(!relayOnly.ok && relayOnly.code).toBe('RELAY_ERR_TYPE_NOT_ALLOWED');
    const notObject = parse([1, 2]);
    expect(!notObject.ok && notObject.code).toBe('RELAY_ERR_ENVELOPE_INVALID');
  });

  it('accepts device control frames', () => {
    expect(parse({ type: 'ack', id: 'a1', timestamp: 1, payload: { ids: ['x'] } }).ok).toBe(true);
    expect(parse({ type: 'ping', id: 'p1', timestamp: 1, payload: { t: 5 } }).ok).toBe(true);
    expect(parse({ type: 'ack', id: 'a1', timestamp: 1, payload: { ids: [] } }).ok).toBe(false);
  });
});

describe('jsonDepthExceeds', () => {
  it('matches a recursive depth count', () => {
    const depth = (v: unknown): number =>
      v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 1, max: 12 }), (v, limit) => {
        expect(jsonDepthExceeds(v, limit)).toBe(depth(v) > limit);
      }),
    );
  });

  it('handles nesting far beyond the stack without recursion', () => {
    const text = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(jsonDepthExceeds(JSON.parse(text), 16)).toBe(true);
  });
});
