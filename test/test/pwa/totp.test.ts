import { describe, expect, it } from 'vitest';
import { totpCode, totpCounter } from './totp.js';

describe('totpCode', () => {
  it('matches the RFC 6238 SHA-1 vectors (last 6 digits)', () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // "12345678901234567890"
    expect(totpCode(secret, totpCounter(59_000))).toBe('287082');
    expect(totpCode(secret, totpCounter(1_111_111_109_000))).toBe('081804');
    expect(totpCode(secret, totpCounter(20_000_000_000_000))).toBe('353130');
  });
});
