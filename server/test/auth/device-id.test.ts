import { createHash } from 'node:crypto';
import { DeviceId } from '@oppie/protocol';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { deriveDeviceId } from '../../src/auth/device-id.js';

describe('deriveDeviceId', () => {
  // RFC 8032 section 7.1, test 1 public key.
  const rfcKey = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');

  it('is the first 22 characters of base64url(sha256(raw key))', () => {
    const id = deriveDeviceId(rfcKey);
    expect(id).toBe(createHash('sha256').update(rfcKey).digest('base64url').slice(0, 22));
    expect(id).toHaveLength(22);
    expect(Value.Check(DeviceId, id)).toBe(true);
  });

  it('is stable (a change would orphan every registered device)', () => {
    expect(deriveDeviceId(rfcKey)).toBe('If4x36FUomFia_hUBG_SJx');
  });
});
