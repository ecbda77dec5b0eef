import { decodePayload, registerDevice, routedEnvelope } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, pairOnRelay } from './fixture.js';

let p: Pair | undefined;
afterEach(async () => {
  await p?.t.close();
  p = undefined;
});

describe('routing between the devices of an account', () => {
  it('relays both ways, acks the sender, and forwards the envelope byte for byte', async () => {
    p = await pairOnRelay();
    const s = await p.connect(p.sidecar);
    const ph = await p.connect(p.phone);
    expect(s.welcome?.devices.map((d) => d.deviceId).sort()).toEqual([p.sidecar.deviceId, p.phone.deviceId].sort());

    const run = ph.routed('runPlan', p.sidecar.deviceId, 'plan-1', { seq: 0, sessionId: 'task-7' });
    const ack = await ph.ackFor(run.id);
    expect(ack.payload.status).toBe('forwarded');
    const got = await s.next('runPlan');
    expect(got).toEqual(run);
    expect(decodePayload(got)).toBe('plan-1');
    s.ack([got.id]);

    const prog = s.routed('progress', p.phone.deviceId, '50%');
    expect((await s.ackFor(prog.id)).payload.status).toBe('forwarded');
    expect(decodePayload(await ph.next('progress'))).toBe('50%');
  });

  it('tells each device when the other comes and goes', async () => {
    p = await pairOnRelay();
    const s = await p.connect(p.sidecar);
    const ph = await p.connect(p.phone);
    const up = await s.next('presence', (f) => f.payload.deviceId === p?.phone.deviceId);
    expect(up.payload).toMatchObject({ online: true, role: 'pwa', name: 'phone' });
    await ph.close();
    const down = await s.next('presence', (f) => f.payload.deviceId === p?.phone.deviceId);
    expect(down.payload.online).toBe(false);
  });

  it('refuses a send to another account with a code and keeps the connection working', async () => {
    p = await pairOnRelay();
    const stranger = await registerDevice(p.t.url, 'someone else');
    const ph = await p.connect(p.phone);
    const s = await p.connect(p.sidecar, { autoAck: true });
    const bad = ph.chat(stranger.deviceId, 'leak?');
    const err = await ph.errorFor(bad.id);
    expect(err.payload.code).toBe('RELAY_ERR_RECIPIENT_FORBIDDEN');
    const unknown = ph.chat('AAAAAAAAAAAAAAAAAAAAAA', 'nobody');
    expect((await ph.errorFor(unknown.id)).payload.code).toBe('RELAY_ERR_RECIPIENT_FORBIDDEN');
    const good = ph.chat(p.sidecar.deviceId, 'still here');
    expect((await ph.ackFor(good.id)).payload.status).toBe('forwarded');
    expect((await s.next('chat')).id).toBe(good.id);
  });

  it('refuses a sender id that is not the authenticated device', async () => {
    p = await pairOnRelay();
    const ph = await p.connect(p.phone);
    const forged = ph.send(routedEnvelope('chat', p.sidecar.deviceId, p.sidecar.deviceId, 'spoof'));
    expect((await ph.errorFor(forged.id)).payload.code).toBe('RELAY_ERR_SENDER_MISMATCH');
  });

  it('answers ping with pong', async () => {
    p = await pairOnRelay();
    const ph = await p.connect(p.phone);
    ph.send({ type: 'ping', id: 'p1', timestamp: Date.now(), payload: { t: 42 } });
    const pong = await ph.next('pong');
    expect(pong.re).toBe('p1');
    expect(pong.payload.t).toBe(42);
    expect(Math.abs(pong.payload.serverTime - Date.now())).toBeLessThan(5000);
  });
});
