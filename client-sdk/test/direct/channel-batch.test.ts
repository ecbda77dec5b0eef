import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BATCH,
  Batcher,
  DEFAULT_PEER_MESSAGE_BYTES,
  decodeBatch,
  encodeBatch,
  nextTurn,
  peerMessageBytes,
  TRAILER_LONE_BYTES,
} from '../../src/direct/channel-batch.js';
import { BINARY_CREDIT, decodeChannelFrame, encodeCreditBinary } from '../../src/direct/channel-frames.js';
import { OppieError } from '../../src/errors.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof OppieError ? err.code : `not an OppieError: ${String(err)}`;
  }
};

/** A batcher whose end-of-turn flushes run when the test says so. */
function manual(limitBytes: number) {
  const wire: Array<string | Uint8Array> = [];
  const turns: Array<() => void> = [];
  const b = new Batcher(
    (d) => wire.push(d),
    (err) => {
      throw err;
    },
    (fn) => turns.push(fn),
  );
  b.limitBytes = limitBytes;
  const endTurn = () => {
    for (const fn of turns.splice(0)) fn();
  };
  return { b, wire, endTurn };
}

const msg = (first: number, length: number) => new Uint8Array(length).fill(first);

describe('batch messages', () => {
  it('decode gives back exactly the messages encoded, in order', () => {
    // Binary envelopes: kind 1, then anything.
    const item = fc.uint8Array({ maxLength: 300 }).map((u) => Uint8Array.of(1, ...u));
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 20 }), (items) => {
        const decoded = decodeBatch(encodeBatch(items));
        expect(decoded.map((d) => Array.from(d))).toEqual(items.map((i) => Array.from(i)));
      }),
    );
  });

  it('refuses malformed batches with OPPIE_ERR_PROTOCOL', () => {
    const good = encodeBatch([msg(1, 10), msg(1, 5)]);
    expect(code(() => decodeBatch(new Uint8Array([BATCH])))).toBe('OPPIE_ERR_PROTOCOL'); // empty
    expect(code(() => decodeBatch(good.subarray(0, good.length - 1)))).toBe('OPPIE_ERR_PROTOCOL'); // short
    expect(code(() => decodeBatch(good.subarray(0, 17)))).toBe('OPPIE_ERR_PROTOCOL'); // ends inside a length
    expect(code(() => decodeBatch(new Uint8Array([BATCH, 0, 0, 0, 0])))).toBe('OPPIE_ERR_PROTOCOL'); // empty item
    expect(code(() => decodeBatch(encodeBatch([encodeBatch([msg(1, 3)])])))).toBe('OPPIE_ERR_PROTOCOL'); // nested
    const credit = new TextEncoder().encode('{"k":"credit","r":1}');
    expect(code(() => decodeBatch(encodeBatch([msg(1, 3), credit])))).toBe('OPPIE_ERR_PROTOCOL'); // not an envelope
    expect(code(() => decodeBatch(msg(1, 10)))).toBe('OPPIE_ERR_PROTOCOL'); // not a batch
    const huge = new Uint8Array([BATCH, 0xff, 0xff, 0xff, 0xff, 1]);
    expect(code(() => decodeBatch(huge))).toBe('OPPIE_ERR_PROTOCOL');
  });
});

describe('Batcher', () => {
  it('sends what one turn wrote as one batch, a lone message as it is', () => {
    const { b, wire, endTurn } = manual(64 * 1024);
    b.write(msg(1, 100));
    b.write(msg(1, 200));
    b.write(msg(1, 300));
    expect(wire).toEqual([]);
    endTurn();
    expect(wire).toHaveLength(1);
    expect(decodeBatch(wire[0] as Uint8Array).map((m) => m.length)).toEqual([100, 200, 300]);

    b.write(msg(1, 50));
    endTurn();
    expect(wire[1]).toEqual(msg(1, 50));
  });

  it('flushes before a message would take the batch over its limit', () => {
    const { b, wire, endTurn } = manual(1 + 2 * (4 + 100));
    b.write(msg(1, 100));
    b.write(msg(1, 100)); // exactly the limit
    b.write(msg(1, 100)); // would overflow: the first two go now
    expect(wire).toHaveLength(1);
    expect(decodeBatch(wire[0] as Uint8Array)).toHaveLength(2);
    endTurn();
    expect(wire[1]).toEqual(msg(1, 100));
    // A message larger than the limit still goes, alone.
    b.write(msg(1, 5000));
    endTurn();
    expect(wire[2]).toEqual(msg(1, 5000));
  });

  it('keeps the order of text and binary messages', () => {
    const { b, wire, endTurn } = manual(64 * 1024);
    b.write(msg(1, 10));
    b.write(msg(1, 20));
    b.write('{"k":"credit","r":30}');
    b.write(msg(1, 40));
    endTurn();
    expect(wire.map((w) => (typeof w === 'string' ? w : w[0] === BATCH ? 'batch' : w.length))).toEqual([
      'batch',
      '{"k":"credit","r":30}',
      40,
    ]);
  });

  it('sends every message at once when the peer reads no batches (limit 0)', () => {
    const { b, wire } = manual(0);
    b.write(msg(1, 10));
    b.write(msg(1, 20));
    expect(wire).toEqual([msg(1, 10), msg(1, 20)]);
  });

  it('drops what is pending when stopped, and sends nothing after', () => {
    const { b, wire, endTurn } = manual(64 * 1024);
    b.write(msg(1, 10));
    b.write(msg(1, 20));
    expect(b.stop()).toBe(2);
    b.write(msg(1, 30));
    b.write('{"k":"credit","r":1}');
    endTurn();
    expect(wire).toEqual([]);
  });

  it('reports what a flush at the end of a turn throws, and batches again after it', () => {
    const errors: unknown[] = [];
    const turns: Array<() => void> = [];
    let fail = true;
    const wire: Uint8Array[] = [];
    const b = new Batcher(
      (d) => {
        if (fail) throw new Error('channel gone');
        wire.push(d as Uint8Array);
      },
      (err) => errors.push(err),
      (fn) => turns.push(fn),
    );
    b.limitBytes = 64 * 1024;
    b.write(msg(1, 10));
    for (const fn of turns.splice(0)) fn();
    expect(errors.map((e) => (e as Error).message)).toEqual(['channel gone']);
    fail = false;
    b.write(msg(1, 20));
    expect(turns).toHaveLength(1); // a new turn was scheduled: the failed one did not leave it stuck
    for (const fn of turns.splice(0)) fn();
    expect(wire).toEqual([msg(1, 20)]);
  });

  it('flushes by itself after the turn, with the real scheduler', async () => {
    const wire: Array<string | Uint8Array> = [];
    const b = new Batcher(
      (d) => wire.push(d),
      (err) => {
        throw err;
      },
    );
    b.limitBytes = 64 * 1024;
    b.write(msg(1, 10));
    await Promise.resolve();
    b.write(msg(1, 20)); // a microtask later is still the same turn
    expect(wire).toEqual([]);
    await new Promise<void>((resolve) => nextTurn(resolve));
    expect(wire).toHaveLength(1);
    expect(decodeBatch(wire[0] as Uint8Array)).toHaveLength(2);
  });
});

describe('binary credits', () => {
  it('read back to the count written, past 4 GiB and up to 2^53 - 1', () => {
    for (const r of [0, 1, 0xffff_ffff, 2 ** 32, 5 * 2 ** 32 + 7, Number.MAX_SAFE_INTEGER]) {
      const bytes = encodeCreditBinary(r);
      expect(bytes).toHaveLength(9);
      expect(bytes[0]).toBe(BINARY_CREDIT);
      expect(decodeChannelFrame(bytes)).toEqual({ k: 'credit', r });
    }
  });

  it('refuse another length or a count past 2^53 - 1 with OPPIE_ERR_PROTOCOL', () => {
    expect(code(() => decodeChannelFrame(Uint8Array.of(BINARY_CREDIT, 0, 0, 0, 0, 0, 0, 1)))).toBe(
      'OPPIE_ERR_PROTOCOL',
    );
    expect(code(() => decodeChannelFrame(Uint8Array.of(BINARY_CREDIT, 0, 0, 0, 0, 0, 0, 0, 1, 0)))).toBe(
      'OPPIE_ERR_PROTOCOL',
    );
    expect(code(() => decodeChannelFrame(Uint8Array.of(BINARY_CREDIT, 0, 0x20, 0, 0, 0, 0, 0, 0)))).toBe(
      'OPPIE_ERR_PROTOCOL',
    );
  });

  it('travel in a batch beside envelopes', () => {
    const items = decodeBatch(encodeBatch([msg(1, 20), encodeCreditBinary(300)]));
    expect(items.map((i) => i[0])).toEqual([1, BINARY_CREDIT]);
    expect(decodeChannelFrame(items[1])).toEqual({ k: 'credit', r: 300 });
  });
});

describe('Batcher trailer', () => {
  /** A batcher with a trailer that hands out a credit while `unreported` is above 0. */
  function withTrailer(limitBytes: number) {
    const m = manual(limitBytes);
    const state = { unreported: 0, received: 0, asked: 0 };
    m.b.trailer = () => {
      state.asked += 1;
      if (state.unreported === 0) return undefined;
      state.unreported = 0;
      return encodeCreditBinary(state.received);
    };
    return { ...m, state };
  }
  const kinds = (w: string | Uint8Array) =>
    typeof w === 'string' ? [w] : w[0] === BATCH ? decodeBatch(w).map((i) => i[0]) : [w[0]];

  it('goes last in a batch and with a small lone message (a receipt), as the batch it then makes', () => {
    const { b, wire, endTurn, state } = withTrailer(64 * 1024);
    Object.assign(state, { unreported: 500, received: 500 });
    b.write(msg(1, 100));
    b.write(msg(1, 200));
    endTurn();
    expect(kinds(wire[0] as Uint8Array)).toEqual([1, 1, BINARY_CREDIT]);
    expect(decodeChannelFrame(decodeBatch(wire[0] as Uint8Array)[2])).toEqual({ k: 'credit', r: 500 });
    Object.assign(state, { unreported: 40, received: 540 });
    b.write(msg(1, 250));
    endTurn();
    expect(kinds(wire[1] as Uint8Array)).toEqual([1, BINARY_CREDIT]);
    // Nothing unreported: the lone message goes as it is.
    b.write(msg(1, 250));
    endTurn();
    expect(wire[2]).toEqual(msg(1, 250));
  });

  it('is not added to a large lone message, which goes as it is (no copy into a batch)', () => {
    const { b, wire, endTurn, state } = withTrailer(64 * 1024);
    Object.assign(state, { unreported: 500, received: 500 });
    const big = msg(1, TRAILER_LONE_BYTES + 1);
    b.write(big);
    endTurn();
    expect(wire[0]).toBe(big);
    expect(state.asked).toBe(0);
    expect(state.unreported).toBe(500); // still owed: the next small message or batch takes it
    b.write(msg(1, TRAILER_LONE_BYTES));
    endTurn();
    expect(kinds(wire[1] as Uint8Array)).toEqual([1, BINARY_CREDIT]);
  });

  it('keeps room for itself: a batch with its trailer stays within the limit', () => {
    const limit = 1 + 2 * (4 + 100) + 4 + 9;
    const { b, wire, endTurn, state } = withTrailer(limit);
    Object.assign(state, { unreported: 1, received: 1 });
    b.write(msg(1, 100));
    b.write(msg(1, 100));
    b.write(msg(1, 100)); // would leave no room for the trailer: the first two go now, with it
    expect(wire).toHaveLength(1);
    expect((wire[0] as Uint8Array).byteLength).toBe(limit);
    expect(kinds(wire[0] as Uint8Array)).toEqual([1, 1, BINARY_CREDIT]);
    endTurn();
    expect(wire[1]).toEqual(msg(1, 100));
  });
});

describe('peerMessageBytes', () => {
  const sdp = (line: string) => ({
    remoteDescription: { sdp: `v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n${line}` },
  });
  it('reads the SCTP transport, then the peer description, else the RFC 8841 default', () => {
    expect(peerMessageBytes({ sctp: { maxMessageSize: 262144 }, ...sdp('a=max-message-size:1000\r\n') })).toBe(262144);
    expect(peerMessageBytes(sdp('a=max-message-size:262144\r\n'))).toBe(262144);
    expect(peerMessageBytes(sdp('a=max-message-size:0\r\n'))).toBe(Number.POSITIVE_INFINITY);
    expect(peerMessageBytes(sdp('a=sctp-port:5000\r\n'))).toBe(DEFAULT_PEER_MESSAGE_BYTES);
    expect(peerMessageBytes({ sctp: null, remoteDescription: null })).toBe(DEFAULT_PEER_MESSAGE_BYTES);
    expect(peerMessageBytes(null)).toBe(DEFAULT_PEER_MESSAGE_BYTES);
  });
});

describe('feature bits in ping and pong', () => {
  it('reads f when it is a count and ignores it otherwise (SDKs before 2026-12-01 send none)', () => {
    expect(decodeChannelFrame('{"k":"ping","n":1,"p":"x","r":0,"f":1}')).toEqual({
      k: 'ping',
      n: 1,
      p: 'x',
      r: 0,
      f: 1,
    });
    expect(decodeChannelFrame('{"k":"pong","n":1,"p":"x","r":0}')).toEqual({ k: 'pong', n: 1, p: 'x', r: 0 });
    expect(decodeChannelFrame('{"k":"pong","n":1,"p":"x","r":0,"f":"all"}')).toEqual({ k: 'pong', n: 1, p: 'x', r: 0 });
    // The window: a count, else absent.
    expect(decodeChannelFrame('{"k":"ping","n":1,"p":"x","r":0,"w":65536}')).toEqual({
      k: 'ping',
      n: 1,
      p: 'x',
      r: 0,
      w: 65536,
    });
    expect(decodeChannelFrame('{"k":"ping","n":1,"p":"x","r":0,"w":-1}')).toEqual({ k: 'ping', n: 1, p: 'x', r: 0 });
  });
});
