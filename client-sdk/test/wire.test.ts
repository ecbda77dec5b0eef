import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePlain, encodeFrame, encodePlain, SEALED_PAYLOAD } from '../src/wire.js';

const reference = (frame: unknown) => new TextEncoder().encode(JSON.stringify(frame));

describe('encodePlain', () => {
  it('gives exactly the bytes of JSON.stringify for any string message (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.base64String()),
        (p) => {
          expect(encodePlain({ p })).toEqual(reference({ p }));
          expect(decodePlain(encodePlain({ p }))).toEqual({ p });
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([
    ['a quote', 'say "hi"'],
    ['a backslash', 'C:\\dir'],
    ['a control character', 'a\u0001b\nc'],
    ['a lone surrogate', 'x\ud800y'],
    ['a surrogate pair', '😀'],
    ['the empty string', ''],
    ['a quote in every position of a word', ['"aaaaaaa', 'a"aaaaaa', 'aa"aaaaa', 'aaa"aaaa', 'aaaaaaa"'].join(' ')],
    ['a DEL and C1 characters (not escaped)', 'a\u007f\u0080\u009fb'],
  ])('escapes %s as JSON.stringify does', (_, p) => {
    expect(encodePlain({ p })).toEqual(reference({ p }));
  });

  it('matches JSON.stringify on ASCII strings with escapes anywhere, at every length and offset (property)', () => {
    const ascii = fc.string({
      unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
      maxLength: 40,
    });
    fc.assert(
      fc.property(ascii, (p) => {
        expect(encodePlain({ p })).toEqual(reference({ p }));
      }),
      { numRuns: 2000 },
    );
  });

  it('encodes other frames with JSON.stringify', () => {
    for (const frame of [{ p: { text: 'hi', n: [1, 2] } }, { p: null }, { c: 'AAAA' }, { v: 1 as const }]) {
      expect(encodePlain(frame)).toEqual(reference(frame));
    }
  });
});

describe('encodeFrame', () => {
  it('splices a sealed payload: the text parses to what JSON.stringify gives (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          type: fc.string(),
          id: fc.string(),
          seq: fc.nat(),
          metadata: fc.dictionary(fc.string(), fc.string()),
        }),
        fc.stringMatching(/^[A-Za-z0-9_-]*$/),
        (head, payload) => {
          const frame = { ...head, payload, [SEALED_PAYLOAD]: true };
          expect(JSON.parse(encodeFrame(frame))).toEqual(JSON.parse(JSON.stringify(frame)));
        },
      ),
    );
    expect(encodeFrame({ payload: 'AB', [SEALED_PAYLOAD]: true })).toBe('{"payload":"AB"}');
  });

  it('stringifies unmarked frames and non-string payloads', () => {
    for (const frame of [
      { type: 'ack', payload: { ids: ['a"b'] } },
      { payload: 'a"b' },
      { payload: 7, [SEALED_PAYLOAD]: true },
    ]) {
      expect(encodeFrame(frame)).toBe(JSON.stringify(frame));
    }
  });
});
