import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, pairOnRelay } from './fixture.js';

let p: Pair | undefined;
afterEach(async () => {
  await p?.t.close();
  p = undefined;
});

describe('bad input is refused with a code and disturbs nothing else', () => {
  it('refuses oversize, malformed, too-deep, binary, invalid and relay-only frames on a connection that keeps working', async () => {
    p = await pairOnRelay({ maxFrameBytes: 4096 });
    const ph = await p.connect(p.phone);
    const s = await p.connect(p.sidecar, { autoAck: true });
    const before = ph.chat(p.sidecar.deviceId, 'before');
    await ph.ackFor(before.id);

    const big = ph.routed('diff', p.sidecar.deviceId, 'x'.repeat(8000));
    expect((await ph.next('error', (f) => f.payload.code === 'RELAY_ERR_PAYLOAD_TOO_LARGE')).payload.code).toBe(
      'RELAY_ERR_PAYLOAD_TOO_LARGE',
    );
    ph.sendRaw('{"type":"chat",');
    expect((await ph.next('error')).payload.code).toBe('RELAY_ERR_MALFORMED_JSON');
    ph.sendRaw(`{"type":"chat","id":"deep1","payload":${'['.repeat(64)}${']'.repeat(64)}}`);
    const deep = await ph.next('error');
    expect(deep.payload.code).toBe('RELAY_ERR_JSON_TOO_DEEP');
    expect(deep.re).toBe('deep1');
    ph.sendRaw(Buffer.from([1, 2, 3]));
    expect((await ph.next('error')).payload.code).toBe('RELAY_ERR_BINARY_UNSUPPORTED');
    ph.send({ type: 'chat', id: 'inv1', timestamp: Date.now(), to: p.sidecar.deviceId, payload: 'x' });
    const invalid = await ph.next('error');
    expect(invalid.payload.code).toBe('RELAY_ERR_ENVELOPE_INVALID');
    expect(invalid.re).toBe('inv1');
    ph.send({ type: 'welcome', id: 'w1', timestamp: Date.now(), payload: {} });
    expect((await ph.errorFor('w1')).payload.code).toBe('RELAY_ERR_TYPE_NOT_ALLOWED');

    const after = ph.chat(p.sidecar.deviceId, 'after');
    expect((await ph.ackFor(after.id)).payload.status).toBe('forwarded');
    expect((await s.next('chat', (f) => f.id === before.id)).id).toBe(before.id);
    expect((await s.next('chat', (f) => f.id === after.id)).id).toBe(after.id);
    await s.expectNone('diff', (f) => f.id === big.id);
    expect(ph.isOpen).toBe(true);

    const metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_envelopes_refused_total\{code="RELAY_ERR_JSON_TOO_DEEP"\} 1/);
  });

  it('counts control frames against the rate too (a ping flood is refused), but not acks', async () => {
    p = await pairOnRelay({ envelopesPerSecond: 5, envelopeBurst: 5 });
    const ph = await p.connect(p.phone);
    for (let i = 0; i < 20; i++) ph.send({ type: 'ping', id: `p${i}`, timestamp: Date.now(), payload: {} });
    for (let i = 0; i < 20; i++) ph.ack([`never-sent-${i}`]);
    let pongs = 0;
    let refused = 0;
    while (pongs + refused < 20) {
      const f = await ph.next(undefined, (x) => x.type === 'pong' || x.type === 'error');
      if (f.type === 'pong') pongs++;
      else {
        expect((f.payload as { code: string }).code).toBe('RELAY_ERR_RATE_LIMITED');
        refused++;
      }
    }
    expect(pongs).toBe(5);
    await ph.expectNone('error', undefined, 200);
  });

  it('closes with 1009 only for a frame beyond the hard limit', async () => {
    p = await pairOnRelay({ maxFrameBytes: 1024 });
    const ph = await p.connect(p.phone);
    ph.sendRaw('x'.repeat(1024 * 2 + 64 * 1024 + 10));
    expect((await ph.closed).code).toBe(1009);
  });

  it('rate-limits envelopes per device with a code, then recovers', async () => {
    p = await pairOnRelay({ envelopesPerSecond: 5, envelopeBurst: 5 });
    const ph = await p.connect(p.phone);
    const ids = Array.from({ length: 8 }, (_, i) => ph.chat(p!.sidecar.deviceId, `m${i}`).id);
    // Acks are batched per event-loop turn, errors are not: collect until every id has its answer.
    const acked = new Set<string>();
    const refused: string[] = [];
    while (acked.size + refused.length < ids.length) {
      const f = await ph.next(undefined, (x) => x.type === 'ack' || x.type === 'error');
      if (f.type === 'ack') for (const id of (f.payload as { ids: string[] }).ids) acked.add(id);
      else refused.push((f.payload as { code: string }).code);
    }
    expect([...acked]).toEqual(ids.slice(0, 5));
    expect(refused).toEqual(Array(3).fill('RELAY_ERR_RATE_LIMITED'));
    await new Promise((r) => setTimeout(r, 450));
    const later = ph.chat(p.sidecar.deviceId, 'later');
    expect((await ph.ackFor(later.id)).payload.status).toBe('queued');
  });
});
