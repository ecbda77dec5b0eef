import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeChunk } from '../src/delivery/chunker.js';
import { CHUNK_FRAME, ChunkFrame, decodePlain, encodeFrame, encodePlain, SEALED_PAYLOAD } from '../src/wire.js';

/** Chunk bytes as text, for decodePlain (what the SDK passes is its base64url codec). */
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const noChunk = () => {
  throw new Error('not a chunk');
};

const reference = (frame: unknown) => new TextEncoder().encode(JSON.stringify(frame));

describe('encodePlain', () => {
  it('gives exactly the bytes of JSON.stringify for any string message (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.base64String()),
        (p) => {
          expect(encodePlain({ p })).toEqual(reference({ p }));
          expect(decodePlain(encodePlain({ p }), noChunk)).toEqual({ p });
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

describe('decodePlain', () => {
  it("makes a chunk's text only when it is read, and once", () => {
    const chunk = encodeChunk({
      transferId: 'cd'.repeat(16),
      index: 0,
      count: 1,
      compressed: false,
      data: new Uint8Array(9),
    });
    let made = 0;
    const frame = decodePlain(chunk, (b) => {
      made += 1;
      return hex(b);
    }) as ChunkFrame;
    expect(made).toBe(0);
    expect(frame.c).toBe(hex(chunk));
    expect(JSON.stringify(frame)).toBe(JSON.stringify({ c: hex(chunk) }));
    expect(made).toBe(1);
  });

  it('reads a chunk frame as its bytes, a JSON chunk (older SDKs) as its text, and refuses anything else', () => {
    const chunk = encodeChunk({
      transferId: 'ab'.repeat(16),
      index: 0,
      count: 1,
      compressed: false,
      data: new Uint8Array([7, 8]),
    });
    expect(chunk[0]).toBe(CHUNK_FRAME);
    const frame = decodePlain(chunk, hex);
    expect(frame).toBeInstanceOf(ChunkFrame);
    expect((frame as ChunkFrame).bytes).toEqual(chunk);
    expect((frame as { c: string }).c).toBe(hex(chunk));
    // Stored as JSON (the inbox buffering it) it is the text, as before chunks were kept as bytes.
    expect(JSON.parse(JSON.stringify({ frame }))).toEqual({ frame: { c: hex(chunk) } });
    expect(decodePlain(new TextEncoder().encode('{"c":"AQID"}'), noChunk)).toEqual({ c: 'AQID' });
    expect(decodePlain(new TextEncoder().encode('{"v":1}'), noChunk)).toEqual({ v: 1 });
    // A chunk frame too short for its header, or with unknown flags, is refused before the inbox sees it.
    const badFlags = chunk.slice();
    badFlags[1] = 4;
    for (const bad of [
      new Uint8Array([1, 0, 0]),
      badFlags,
      new Uint8Array([2, 0, 0]),
      new Uint8Array([]),
      new TextEncoder().encode('{"x":1}'),
    ]) {
      expect(() => decodePlain(bad, hex)).toThrow(expect.objectContaining({ code: 'OPPIE_ERR_PROTOCOL' }));
    }
  });
});
