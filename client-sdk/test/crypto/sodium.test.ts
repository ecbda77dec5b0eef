import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromB64u, sodiumReady, toB64u } from '../../src/crypto/sodium.js';
import { OppieError } from '../../src/errors.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof OppieError ? err.code : `not an OppieError: ${String(err)}`;
  }
  return 'did not throw';
};

describe('base64url', () => {
  it('matches Node’s base64url for any bytes, both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = toB64u(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64url'));
        expect(fromB64u(text)).toEqual(bytes);
      }),
    );
  });

  it.each([
    ['padding', 'AA=='],
    ['standard alphabet', 'a+/b'],
    ['whitespace', 'AAAA AAAA'],
    ['impossible length', 'AAAAA'],
    ['non-zero trailing bits', 'AB'],
    ['non-ASCII', 'AAé'],
  ])('refuses %s with OPPIE_ERR_PROTOCOL', (_, text) => {
    expect(code(() => fromB64u(text))).toBe('OPPIE_ERR_PROTOCOL');
  });

  it('refuses a non-string', () => {
    expect(code(() => fromB64u(42 as unknown as string))).toBe('OPPIE_ERR_PROTOCOL');
  });
});

describe('sodiumReady', () => {
  it('resolves to the same ready instance every time', async () => {
    const [a, b] = await Promise.all([sodiumReady(), sodiumReady()]);
    expect(a).toBe(b);
    expect(a.randombytes_buf(24)).toHaveLength(24);
  });
});
