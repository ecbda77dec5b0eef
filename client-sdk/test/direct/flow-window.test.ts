import { describe, expect, it } from 'vitest';
import { jsBase64url } from '../../src/crypto/aead.js';
import {
  BINARY_ENVELOPE,
  decodeChannelFrame,
  encodeChannelFrame,
  encodeEnvelopeBinary,
} from '../../src/direct/channel-frames.js';
import { CreditCounter, FlowWindow } from '../../src/direct/flow-window.js';
import { OppieError } from '../../src/errors.js';
import { SEALED_BYTES, SEALED_HEADROOM, SEALED_PAYLOAD } from '../../src/wire.js';

describe('FlowWindow', () => {
  it('sends within the window, holds the rest in order, and releases it as credit arrives', () => {
    const wire: Array<string | Uint8Array> = [];
    const w = new FlowWindow(10, (d) => wire.push(d));
    w.push('aaaa');
    w.push('bbbb');
    w.push('cccc'); // 12 > 10: held
    w.push('d'); // held behind cccc, never overtakes it
    expect(wire).toEqual(['aaaa', 'bbbb']);
    expect(w.inFlight).toBe(8);
    expect(w.queuedBytes).toBe(5);
    w.credit(4);
    expect(wire).toEqual(['aaaa', 'bbbb', 'cccc', 'd']);
    expect(w.inFlight).toBe(9);
  });

  it('sends an urgent frame at once, ahead of held ones, and counts it in flight like any other', () => {
    const wire: Array<string | Uint8Array> = [];
    const w = new FlowWindow(10, (d) => wire.push(d));
    w.push('aaaaaaaa');
    w.push('bbbb'); // held
    w.pushUrgent('rr');
    expect(wire).toEqual(['aaaaaaaa', 'rr']);
    expect(w.inFlight).toBe(10);
    // The receiver credits what it received, the urgent bytes included: the held frame goes once they are.
    w.credit(8);
    expect(wire).toEqual(['aaaaaaaa', 'rr', 'bbbb']);
    expect(w.inFlight).toBe(6);
  });

  it('ignores stale or inflated credit, and lets one oversized frame through an empty window', () => {
    const wire: Array<string | Uint8Array> = [];
    const w = new FlowWindow(4, (d) => wire.push(d));
    w.push('0123456789');
    expect(wire).toEqual(['0123456789']);
    w.push('x');
    expect(wire).toHaveLength(1);
    w.credit(1_000_000); // more than was ever sent: counts as everything
    expect(wire).toEqual(['0123456789', 'x']);
    expect(w.inFlight).toBe(1);
    w.credit(3); // backwards: ignored
    expect(w.inFlight).toBe(1);
    w.push('yy');
    w.push('zzz');
    expect(w.clear()).toBe(1);
    expect(w.queuedBytes).toBe(0);
  });

  it('credits every quarter window on the receiving side', () => {
    const c = new CreditCounter(100);
    expect(c.add(20)).toBe(false);
    expect(c.add(5)).toBe(true);
    expect(c.take()).toBe(25);
    expect(c.add(24)).toBe(false);
    expect(c.received).toBe(49);
  });

  it("credits every quarter of the sender's window when it is the smaller, never below 1 KiB", () => {
    const c = new CreditCounter(1024 * 1024);
    c.peerWindow(64 * 1024);
    expect(c.add(16 * 1024 - 1)).toBe(false);
    expect(c.add(1)).toBe(true);
    c.take();
    c.peerWindow(4 * 1024 * 1024); // larger than ours: our own quarter
    expect(c.add(256 * 1024 - 1)).toBe(false);
    expect(c.add(1)).toBe(true);
    c.take();
    c.peerWindow(1); // a silly window: still one credit per KiB at most
    expect(c.add(1023)).toBe(false);
    expect(c.add(1)).toBe(true);
    c.take();
    c.peerWindow(undefined); // an SDK that does not say: ours
    expect(c.add(256 * 1024 - 1)).toBe(false);
  });
});

describe('data-channel frames', () => {
  it('round-trip', () => {
    const frames = [
      { k: 'e', e: { type: 'chat', id: 'x', payload: 'abc' } },
      { k: 'ping', n: 1, p: 'sealed', r: 0 },
      { k: 'pong', n: 1, p: 'sealed', r: 10 },
      { k: 'credit', r: 99 },
      { k: 'path', relay: true, rp: 'tcp' },
      { k: 'path', relay: false },
    ] as const;
    for (const f of frames) expect(decodeChannelFrame(encodeChannelFrame(f))).toEqual(f);
    expect(decodeChannelFrame(new TextEncoder().encode('{"k":"credit","r":1}'))).toEqual({ k: 'credit', r: 1 });
  });

  it('refuse anything else with OPPIE_ERR_PROTOCOL', () => {
    for (const bad of [
      '',
      'nul',
      '[]',
      '{"k":"e"}',
      '{"k":"ping","n":-1,"p":"x","r":0}',
      '{"k":"credit","r":1.5}',
      '{"k":"path"}',
    ]) {
      let code: string | undefined;
      try {
        decodeChannelFrame(bad);
      } catch (err) {
        code = (err as OppieError).code;
      }
      expect(code, bad).toBe('OPPIE_ERR_PROTOCOL');
    }
    expect(() => decodeChannelFrame(new Uint8Array([0xff, 0xfe]))).toThrow(OppieError);
  });
});

describe('binary envelopes on the data channel', () => {
  const sealed = new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
  const head = { type: 'diff', id: 'd-1', timestamp: 5, to: 'phone', seq: 3, metadata: { deviceId: 'sidecar' } };
  const envelope = { ...head, payload: jsBase64url.encode(sealed), [SEALED_PAYLOAD]: true };

  it('carry the sealed payload as its bytes, the other fields as JSON, and read back to the same envelope', () => {
    const data = encodeEnvelopeBinary(envelope, jsBase64url.decode);
    expect(data?.[0]).toBe(BINARY_ENVELOPE);
    // A third smaller than the text frame, whose payload is base64url.
    const text = encodeChannelFrame({ k: 'e', e: envelope as never });
    expect(data?.length).toBeLessThan(text.length - 90);
    const frame = decodeChannelFrame(data);
    expect(frame).toEqual({ k: 'e', e: { ...head, payload: sealed } });
    // What a browser's channel hands over (an ArrayBuffer) reads the same.
    expect(decodeChannelFrame((data as Uint8Array).slice().buffer)).toEqual(frame);
    // A damaged stored payload (not canonical base64url) falls back to the text form instead of throwing.
    expect(encodeEnvelopeBinary({ ...envelope, payload: 'A' }, jsBase64url.decode)).toBeUndefined();
    // Only an envelope with a sealed payload goes binary.
    expect(encodeEnvelopeBinary({ ...head, payload: 'x' }, jsBase64url.decode)).toBeUndefined();
  });

  it('frame sealed bytes given to them in the room in front: the same message, a view of that array', () => {
    const expected = encodeEnvelopeBinary(envelope, jsBase64url.decode) as Uint8Array;
    const viewFor = () => {
      const kept = new Uint8Array(SEALED_HEADROOM + sealed.length);
      kept.set(sealed, SEALED_HEADROOM);
      return kept.subarray(SEALED_HEADROOM);
    };
    const noDecode = (): Uint8Array => {
      throw new Error('decoded the text');
    };
    const view = viewFor();
    const data = encodeEnvelopeBinary({ ...envelope, payload: view, [SEALED_BYTES]: true }, noDecode) as Uint8Array;
    expect(data).toEqual(expected);
    expect(data.buffer).toBe(view.buffer);
    expect(data.byteOffset + data.length).toBe(view.byteOffset + view.length);
    // Bytes that are not ours to write in front of (a resend): copied into a new message, the view untouched.
    const again = viewFor();
    const before = new Uint8Array(again.buffer).slice();
    const copy = encodeEnvelopeBinary({ ...envelope, payload: again }, noDecode) as Uint8Array;
    expect(copy).toEqual(expected);
    expect(copy.buffer).not.toBe(again.buffer);
    expect(new Uint8Array(again.buffer)).toEqual(before);
    // A head longer than the room: copied into a new message.
    const long = { ...envelope, metadata: { deviceId: 'sidecar', note: 'x'.repeat(SEALED_HEADROOM) } };
    const wide = viewFor();
    const copied = encodeEnvelopeBinary({ ...long, payload: wide, [SEALED_BYTES]: true }, noDecode) as Uint8Array;
    expect(copied).toEqual(encodeEnvelopeBinary(long, jsBase64url.decode));
    expect(copied.buffer).not.toBe(wide.buffer);
    expect(decodeChannelFrame(copied)).toEqual({ k: 'e', e: { ...head, metadata: long.metadata, payload: sealed } });
    // Bytes never go to the relay's text form.
    expect(() => encodeChannelFrame({ k: 'e', e: { ...envelope, payload: view } as never })).toThrow(RangeError);
  });

  it('refuse a truncated, overlong or malformed message with OPPIE_ERR_PROTOCOL', () => {
    const good = encodeEnvelopeBinary(envelope, jsBase64url.decode) as Uint8Array;
    const withHead = (json: string) => {
      const h = new TextEncoder().encode(json);
      const out = new Uint8Array(5 + h.length + 4);
      out[0] = BINARY_ENVELOPE;
      new DataView(out.buffer).setUint32(1, h.length);
      out.set(h, 5);
      return out;
    };
    const overlong = good.slice();
    new DataView(overlong.buffer).setUint32(1, good.length);
    for (const bad of [
      good.subarray(0, 3),
      overlong,
      withHead('not json'),
      withHead('[1]'),
      withHead('{"type":"diff"}'),
      withHead('{"type":"diff","id":"x","payload":"AAAA"}'),
      withHead('\u0000'),
    ]) {
      let code: string | undefined;
      try {
        decodeChannelFrame(bad);
      } catch (err) {
        code = (err as OppieError).code;
      }
      expect(code).toBe('OPPIE_ERR_PROTOCOL');
    }
  });
});
