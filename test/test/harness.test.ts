import {
  connectDevice,
  decodePayload,
  type PairedDevice,
  pairDevice,
  registerDevice,
  startTestRelay,
  type TestDevice,
  TestKitError,
  type TestRelay,
  type TestSocket,
} from '@oppie/test-kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

let relay: TestRelay;
let sidecar: TestDevice;
let phone: PairedDevice;
const open: TestSocket[] = [];

async function connect(...args: Parameters<typeof connectDevice>) {
  const s = await connectDevice(...args);
  open.push(s);
  return s;
}

beforeAll(async () => {
  relay = await startTestRelay();
  sidecar = await registerDevice(relay.url, 'workstation');
  phone = await pairDevice(relay.url, sidecar.token, 'phone');
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await relay?.close();
});

describe('test harness against the relay', () => {
  it('registers a sidecar and pairs a PWA into its account', () => {
    expect(sidecar.role).toBe('sidecar');
    expect(phone.role).toBe('pwa');
    expect(phone.accountId).toBe(sidecar.accountId);
    expect(phone.sidecarDeviceId).toBe(sidecar.deviceId);
    expect(phone.deviceId).not.toBe(sidecar.deviceId);
  });

  it('connects with the bearer subprotocol and with ?jwt=, and reads the welcome', async () => {
    const s = await connect(relay.url, sidecar.token);
    const p = await connect(relay.url, phone.token, { auth: 'query' });
    expect(s.ws.protocol).toBe('oppie.v1');
    expect(s.welcome).toMatchObject({ deviceId: sidecar.deviceId, accountId: sidecar.accountId, role: 'sidecar' });
    expect(p.welcome).toMatchObject({ deviceId: phone.deviceId, accountId: sidecar.accountId, role: 'pwa' });
    expect(p.welcome?.devices.map((d) => d.deviceId).sort()).toEqual([sidecar.deviceId, phone.deviceId].sort());
  });

  it('exchanges a chat both ways, with relay acks and device acks', async () => {
    const s = await connect(relay.url, sidecar);
    const p = await connect(relay.url, phone);

    const toSidecar = p.chat(sidecar.deviceId, 'run the tests');
    expect((await p.ackFor(toSidecar.id)).payload.status).toBe('forwarded');
    const got = await s.next('chat', (f) => f.id === toSidecar.id);
    expect(got).toEqual(toSidecar);
    expect(decodePayload(got)).toBe('run the tests');
    s.ack([got.id]);

    const toPhone = s.chat(phone.deviceId, 'done: 42 passed', { priority: 'high' });
    expect((await s.ackFor(toPhone.id)).payload).toEqual({ ids: [toPhone.id], status: 'forwarded' });
    const back = await p.next('chat', (f) => f.id === toPhone.id);
    expect(decodePayload(back)).toBe('done: 42 passed');
    expect(back.metadata).toMatchObject({ deviceId: sidecar.deviceId, priority: 'high' });
    p.ack([back.id]);
  });

  it('redelivers an unacknowledged envelope after a reconnect, and not an acknowledged one', async () => {
    const s = await connect(relay.url, sidecar);
    const p1 = await connect(relay.url, phone);
    const acked = s.chat(phone.deviceId, 'acked');
    const unacked = s.chat(phone.deviceId, 'unacked');
    await p1.next('chat', (f) => f.id === acked.id);
    await p1.next('chat', (f) => f.id === unacked.id);
    p1.ack([acked.id]);
    // The ack must reach the relay before the socket goes: a ping round trip orders it.
    p1.send({ type: 'ping', id: 'ping-order-1', timestamp: Date.now(), payload: {} });
    await p1.next('pong');
    await p1.close();

    const p2 = await connect(relay.url, phone, { autoAck: true });
    const again = await p2.next('chat', (f) => f.id === unacked.id);
    expect(decodePayload(again)).toBe('unacked');
    await p2.expectNone('chat', (f) => f.id === acked.id, 300);
  });

  it('autoAck acknowledges routed envelopes so they are not redelivered', async () => {
    const s = await connect(relay.url, sidecar);
    const p1 = await connect(relay.url, phone, { autoAck: true });
    const sent = s.chat(phone.deviceId, 'once');
    await p1.next('chat', (f) => f.id === sent.id);
    p1.send({ type: 'ping', id: 'ping-order-2', timestamp: Date.now(), payload: {} });
    await p1.next('pong');
    await p1.close();
    const p2 = await connect(relay.url, phone, { autoAck: true });
    await p2.expectNone('chat', (f) => f.id === sent.id, 300);
  });

  it('reports a refused upgrade with the status and the relay error code', async () => {
    const err = await connectDevice(relay.url, 'not-a-jwt').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TestKitError);
    expect(err).toMatchObject({ code: 'TESTKIT_UPGRADE_REFUSED', status: 401 });
    expect((err as TestKitError).body?.code).toMatch(/^RELAY_ERR_TOKEN_/);
  });

  it('times out a wait with a list of what was received', async () => {
    const s = await connect(relay.url, sidecar);
    const p = await connect(relay.url, phone, { autoAck: true });
    const sent = s.chat(phone.deviceId, 'hi');
    await s.ackFor(sent.id);
    const err = await s.next('chat', undefined, 100).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TESTKIT_TIMEOUT' });
    expect((err as Error).message).toContain('status=forwarded');
    await p.next('chat');
  });

  it('resolves closed with the code, and rejects later waits', async () => {
    const s = await connect(relay.url, sidecar);
    await s.close(1000, 'bye');
    await expect(s.closed).resolves.toMatchObject({ code: 1000 });
    await expect(s.next('chat')).rejects.toMatchObject({ code: 'TESTKIT_CLOSED' });
  });
});
