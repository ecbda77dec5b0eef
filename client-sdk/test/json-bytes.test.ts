import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JSON_WALK_VALUES, jsonBytes, LONG_STRING } from '../src/json-bytes.js';

const reference = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const same = (value: unknown) => expect(Buffer.from(jsonBytes(value)).toString()).toBe(JSON.stringify(value));

/** A long string of `unit`, with `insert` at `at` (a fraction of its length). */
const longWith = (unit: string, insert: string, at: number) => {
  const s = unit.repeat(Math.ceil(LONG_STRING / unit.length) + 7);
  const i = Math.floor(s.length * at);
  return s.slice(0, i) + insert + s.slice(i);
};

describe('jsonBytes', () => {
  it('gives exactly the bytes of JSON.stringify for JSON values with long strings among them (property)', () => {
    const long = fc.oneof(
      fc.base64String({ minLength: LONG_STRING, maxLength: 4 * LONG_STRING }),
      fc.string({ minLength: LONG_STRING, maxLength: 2 * LONG_STRING }),
      fc.string({ unit: 'binary', minLength: LONG_STRING, maxLength: 2 * LONG_STRING }),
      fc.string({
        unit: fc.constantFrom('a', '"', '\\', '\n', '\u0001', '\u001f', 'é', '😀', '\ud800'),
        minLength: LONG_STRING,
      }),
    );
    const odd = fc.constantFrom(undefined, Number.NaN, -0, Number.POSITIVE_INFINITY, 1e21, () => 1, Symbol('s'));
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        long,
        odd,
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(value, (v) => {
        same({ p: v });
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['base64', longWith('QUJD', '', 0)],
    ['a quote at the end', longWith('abcd', '"', 1)],
    ['a backslash in the middle', longWith('abcd', '\\', 0.5)],
    ['a newline at the start', longWith('abcd', '\n', 0)],
    ['a control character at the end', longWith('abcd', '\u001f', 1)],
    ['DEL and C1 characters (not escaped)', longWith('abcd', '\u007f\u0080\u009f', 0.5)],
    ['a lone surrogate', longWith('abcd', '\udc00', 0.9)],
    ['two-byte characters', longWith('é', '', 0)],
    ['Chinese text', longWith('中文的长字符串', '', 0)],
    ['ASCII with one emoji at the end', longWith('abcd', '😀', 1)],
    ['every common escape', longWith('a\\b"c\nd\re\tf', '', 0)],
    ['common escapes and a rare one (a backspace)', longWith('a\nb"', '\b', 0.5)],
  ])('writes a long string with %s as JSON.stringify does', (_, s) => {
    same({ p: s });
    same({ p: { path: 'a.ts', diff: s, lines: [1, 2], more: [s, { s }] } });
  });

  it('writes a long string itself, with or without escapes: JSON.stringify never walks it or the message', () => {
    const original = JSON.stringify;
    const given: unknown[] = [];
    JSON.stringify = ((value: unknown, ...rest: []) => {
      given.push(value);
      return original(value, ...rest);
    }) as typeof JSON.stringify;
    const base64 = longWith('QUJD', '', 0);
    const text = longWith('a line "quoted"\n', '', 0);
    try {
      jsonBytes({ p: { d: base64, t: text, n: 1 } });
    } finally {
      JSON.stringify = original;
    }
    expect(given).not.toContain(base64);
    expect(given).not.toContain(text);
    expect(given.filter((v) => typeof v === 'object')).toEqual([]);
  });

  it("leaves headroom in front of JSON it writes, and none in front of JSON.stringify's", () => {
    const message = { p: { d: longWith('QUJD', '', 0) } };
    const roomy = jsonBytes(message, 21);
    expect(roomy.byteOffset).toBe(21);
    expect(roomy.buffer.byteLength).toBe(21 + roomy.length);
    expect(Buffer.from(roomy).toString()).toBe(JSON.stringify(message));
    for (const small of [{ p: 'short' }, { p: longWith('é', '', 0) }]) {
      const bytes = jsonBytes(small, 21); // JSON.stringify's (no long string), or non-ASCII encoded again
      expect(bytes.byteOffset).toBe(0);
      expect(Buffer.from(bytes).toString()).toBe(JSON.stringify(small));
    }
  });

  it('leaves out what JSON.stringify leaves out, and writes null where it does', () => {
    const s = longWith('QUJD', '', 0);
    same({ p: { a: undefined, b: () => 1, c: Symbol('c'), d: s, [Symbol('e')]: 1 } });
    same({ p: [undefined, () => 1, Symbol('c'), s, Number.NaN, -0] });
    // biome-ignore lint/suspicious/noSparseArray: a hole is what this case is about
    same({ p: [, s] });
    same({ p: { first: undefined, d: s } });
    same({ p: Object.assign(Object.create(null) as object, { z: s, 1: 'one', a: 'a' }) });
  });

  it('hands values JSON.stringify treats in its own way to JSON.stringify', () => {
    const s = longWith('QUJD', '', 0);
    class Task {
      constructor(readonly diff: string) {}
    }
    for (const p of [
      { when: new Date(0), d: s },
      { d: s, toJSON: () => ({ replaced: s }) },
      { d: s, m: new Map([[1, 2]]), set: new Set([1]) },
      new Task(s),
      { boxed: new String(s) },
      { bytes: new Uint8Array([1, 2, 3]), d: s },
      Object.assign([s], { toJSON: () => 'array' }),
    ]) {
      same({ p });
    }
  });

  it('matches JSON.stringify on values that look plain but are not, or change while read', () => {
    const s = longWith('QUJD', '', 0);
    // The length is read once: a getter that grows the array does not add to what is written. (Two arrays: each
    // serializer reads its own, so neither sees what the other's reads did. The look for a long string stops at the
    // first element.)
    const growing = () => {
      const a: unknown[] = [s];
      Object.defineProperty(a, 1, {
        enumerable: true,
        get() {
          a.push(0);
          return 1;
        },
      });
      return a;
    };
    expect(Buffer.from(jsonBytes({ p: growing() })).toString()).toBe(JSON.stringify({ p: growing() }));
    // A boxed string given Object.prototype is still a string to JSON.stringify.
    same({ p: { d: s, boxed: Object.setPrototypeOf(new String('ab'), Object.prototype) } });
    // A Proxy whose getPrototypeOf throws: JSON.stringify never asks it.
    const proxy = new Proxy(
      { x: 1 },
      {
        getPrototypeOf() {
          throw new Error('no prototype');
        },
      },
    );
    same({ p: { d: s, proxy } });
  });

  it('throws what JSON.stringify throws: a bigint, a cycle', () => {
    const s = longWith('QUJD', '', 0);
    expect(() => jsonBytes({ p: { d: s, n: 1n } })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = { d: s };
    cyclic.self = cyclic;
    expect(() => jsonBytes({ p: cyclic })).toThrow(TypeError);
  });

  it('writes a message of more values than it walks, with its long string', () => {
    const s = longWith('QUJD', '', 0);
    const many = Array.from({ length: JSON_WALK_VALUES + 1 }, (_, i) => i);
    expect(jsonBytes({ p: { many, d: s } })).toEqual(reference({ p: { many, d: s } }));
    expect(jsonBytes({ p: { d: s, many } })).toEqual(reference({ p: { d: s, many } }));
  });
});
