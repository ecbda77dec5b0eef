import { describe, expect, it } from 'vitest';
import { decodeReceipt, encodeReceipt } from '../../src/delivery/receipt.js';
import { OppieError } from '../../src/errors.js';

describe('receipt', () => {
  it('round-trips', () => {
    for (const upTo of [-1, 0, 7, Number.MAX_SAFE_INTEGER]) {
      expect(decodeReceipt(encodeReceipt({ v: 1, upTo }))).toEqual({ v: 1, upTo });
    }
  });

  it.each([
    ['not json', '{'],
    ['not an object', '[1]'],
    ['null', 'null'],
    ['wrong version', '{"v":2,"upTo":1}'],
    ['missing upTo', '{"v":1}'],
    ['fractional', '{"v":1,"upTo":1.5}'],
    ['below -1', '{"v":1,"upTo":-2}'],
    ['string upTo', '{"v":1,"upTo":"3"}'],
    ['extra field', '{"v":1,"upTo":3,"x":1}'],
  ])('refuses %s with OPPIE_ERR_PROTOCOL', (_, text) => {
    let err: unknown;
    try {
      decodeReceipt(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OppieError);
    expect((err as OppieError).code).toBe('OPPIE_ERR_PROTOCOL');
  });
});
