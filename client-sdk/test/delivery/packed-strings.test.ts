/**
 * Long base64 strings carried as bytes (packed-strings.ts): what is packed and what is not, that the receiver spells
 * out the very JSON the sender had, and that a body which does not add up is refused with OPPIE_ERR_PROTOCOL.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type Base64Codec,
  bufferBase64,
  defaultBase64,
  jsBase64,
  packedJsonBytes,
  unpackJson,
} from '../../src/delivery/packed-strings.js';
import { OppieError } from '../../src/errors.js';
import { LONG_STRING } from '../../src/json-bytes.js';

const node = bufferBase64(Buffer);
const b64 = (n: number) => randomBytes(n).toString('base64');
const b64u = (n: number) => randomBytes(n).toString('base64url');

function roundTrip(value: unknown, codec: Base64Codec = node) {
  const packed = packedJsonBytes(value, 26, node);
  if (packed === undefined) throw new Error('not packed');
  return { packed, text: unpackJson(packed.bytes, codec) };
}

function protocolError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OppieError);
    expect((err as OppieError).code).toBe('OPPIE_ERR_PROTOCOL');
    return (err as OppieError).message;
  }
  throw new Error('did not throw');
}

describe('packedJsonBytes and unpackJson', () => {
  it('carries base64 and base64url strings as bytes and spells out the same JSON, non-ASCII text around them', async () => {
    const value = {
      png: b64(48 * 1024),
      parts: [b64u(3000), 'ünïcödé text ✓ 漢字', { short: 'aGk=', n: 1.5, t: true, z: null }],
      odd: b64(1001), // one byte past a multiple of three: padded with '=='
      log: 'x'.repeat(LONG_STRING), // a run of one letter spells bytes too: packed
      text: `${'line of text\n'.repeat(100)}`,
    };
    const json = JSON.stringify(value);
    const { packed, text } = roundTrip(value);
    expect(text).toBe(json);
    expect(packed.jsonTextLength).toBe(Buffer.byteLength(json));
    expect(packed.bytes.length).toBeLessThan(Buffer.byteLength(json) * 0.8);
    expect(packed.bytes.byteOffset).toBe(26); // the headroom asked for, in front
    expect(unpackJson(packed.bytes, jsBase64)).toBe(json); // the portable codec spells the same
  });

  it('packs a top-level string and strings in arrays', () => {
    for (const value of [b64(900), [b64(900), b64u(700)]]) expect(roundTrip(value).text).toBe(JSON.stringify(value));
  });

  it('leaves everything else alone: short, not base64, not canonical, padded base64url', () => {
    const canonical = b64(600); // 800 characters, no padding
    const notCanonical = [
      `${b64(599).slice(0, -2)}R=`, // nonzero unused bits before the padding (R: 0b010001)
      b64(598).replace(/=+$/, ''), // base64 that needs padding, without it
      `${b64u(598)}==`, // base64url with padding
      `${canonical.slice(0, 300)}\n${canonical.slice(300)}`, // a newline inside
      `${canonical.slice(0, 300)}+${canonical.slice(300, 400)}-${canonical.slice(400)}`, // both alphabets at once
    ];
    for (const s of notCanonical) expect(packedJsonBytes({ s }, 0, node), JSON.stringify(s).slice(-8)).toBeUndefined();
    expect(packedJsonBytes({ s: b64(300) }, 0, node)).toBeUndefined(); // 400 characters: below LONG_STRING
    expect(packedJsonBytes({ s: 'word '.repeat(2000) }, 0, node)).toBeUndefined();
    expect(packedJsonBytes({ s: canonical }, 0, node)).toBeDefined();
  });

  it('only looks at a message with no string that may be base64: its text is escaped once, by the plain path', () => {
    let reads = 0;
    const value = {
      get diff() {
        reads += 1;
        return '+  const value = compute(input, options);\n'.repeat(100);
      },
    };
    expect(packedJsonBytes(value, 0, node)).toBeUndefined();
    expect(reads).toBe(1); // the look; a walk that writes would read it again
  });

  it('never packs with a codec that cannot read base64 (the portable one)', () => {
    expect(packedJsonBytes({ s: b64(4096) }, 0, jsBase64)).toBeUndefined();
  });

  it('spells bytes as Buffer does in both alphabets, every length of remainder', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = randomBytes(n);
      expect(jsBase64.textOf(bytes, false)).toBe(bytes.toString('base64'));
      expect(jsBase64.textOf(bytes, true)).toBe(bytes.toString('base64url'));
    }
    expect(defaultBase64().bytesOf).toBeDefined(); // Node has Buffer
  });

  it('refuses a body that does not add up with OPPIE_ERR_PROTOCOL', () => {
    const { packed } = roundTrip({ a: b64(1200), b: b64(1200) });
    const body = packed.bytes;
    const edited = (edit: (v: DataView) => void) => {
      const copy = new Uint8Array(body);
      edit(new DataView(copy.buffer));
      return copy;
    };
    expect(protocolError(() => unpackJson(body.subarray(0, 7), node))).toMatch(/shorter than its head/);
    const refusals: Array<[(v: DataView) => void, RegExp]> = [
      [(v) => v.setUint32(4, 1e6), /do not fit/],
      [(v) => v.setUint32(17, 1), /out of order/],
      [(v) => v.setUint8(16, 2), /unknown alphabet/],
      [(v) => v.setUint32(12, 1e6), /past the end/],
    ];
    for (const [edit, why] of refusals) expect(protocolError(() => unpackJson(edited(edit), node))).toMatch(why);
    const longer = new Uint8Array(body.length + 1);
    longer.set(body);
    expect(protocolError(() => unpackJson(longer, node))).toMatch(/1 bytes after/);
  });

  it('refuses, before spelling anything, a table of tiny strings and a text over the bound', () => {
    const { packed } = roundTrip({ a: b64(1200) });
    const tiny = new Uint8Array(packed.bytes);
    new DataView(tiny.buffer).setUint32(12, 0); // a string of no bytes: the rest would trail
    expect(protocolError(() => unpackJson(tiny, node))).toMatch(/fewer than any packed string/);
    expect(protocolError(() => unpackJson(packed.bytes, node, 1_000))).toMatch(/longer than 1000 bytes/);
    expect(unpackJson(packed.bytes, node, packed.jsonTextLength)).toHaveLength(packed.jsonTextLength);
  });

  it('does not use a Buffer that cannot spell base64url (a bundle polyfill): it would fail on packed strings', () => {
    const real = globalThis.Buffer;
    const polyfill = {
      from: (...args: unknown[]) => (real.from as (...a: unknown[]) => Buffer)(...args),
      isEncoding: (e: string) => e !== 'base64url' && real.isEncoding(e),
    };
    try {
      (globalThis as { Buffer: unknown }).Buffer = polyfill;
      expect(defaultBase64()).toBe(jsBase64);
      (globalThis as { Buffer: unknown }).Buffer = {
        ...polyfill,
        isEncoding: () => true,
        from: () => new Uint8Array(),
      };
      expect(defaultBase64()).toBe(jsBase64); // says it does, spells wrong
    } finally {
      (globalThis as { Buffer: unknown }).Buffer = real;
    }
    expect(defaultBase64()).not.toBe(jsBase64);
  });

  it('refuses a string placed inside a character of the JSON', () => {
    const { packed } = roundTrip({ é: b64(900) });
    const copy = new Uint8Array(packed.bytes);
    const view = new DataView(copy.buffer);
    view.setUint32(8, 3); // `{"` then the first byte of 'é' (two bytes in UTF-8)
    expect(protocolError(() => unpackJson(copy, node))).toMatch(/not UTF-8/);
  });
});
