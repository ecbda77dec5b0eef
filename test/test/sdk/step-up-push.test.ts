/**
 * The SDK's relay-API methods on a real relay: OTP enrollment and step-up (the token reaches the live connection, so
 * approve passes where it was refused, also when the connection drops or is opening while the step-up is handed
 * over), and Web Push registration.
 */
import { MemoryStore, type OppieClient, OppieError } from '@oppie/client-sdk';
import { CLOSE_CODES } from '@oppie/protocol';
import { startTestRelay, startWsMitm, type TestRelay, type WsMitm } from '@oppie/test-kit';
import { TOTP } from 'otpauth';
import { afterEach, describe, expect, it } from 'vitest';
import { subscriptionKeys } from '../push/fixture.js';
import { pairedClients, sdkClient } from './sdk-fixture.js';

let t: TestRelay | undefined;
let mitm: WsMitm | undefined;
const clients: OppieClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await mitm?.close();
  mitm = undefined;
  await t?.close();
  t = undefined;
});

/** Reconnect at once: the tests below cut connections on purpose. */
const quickReconnect = { nextDelayMs: () => 20 };

/**
 * A sidecar and a phone on an account with OTP enrolled (confirmed with the previous step's code); the phone then runs
 * through `mitm` (a relay in the middle that sees every frame), with `platform.fetch` observed by `onAnswered`, which
 * runs when an answer has arrived and before the SDK sees it.
 */
async function steppedAccount(onAnswered: (url: string) => void = () => {}) {
  t = await startTestRelay();
  mitm = await startWsMitm(t.url);
  const phoneStore = new MemoryStore();
  const { sidecar, phone } = await pairedClients(t.url, { phoneStore });
  clients.push(sidecar, phone);
  const totp = new TOTP({ secret: (await phone.enrollOtp()).secret });
  await phone.stepUp(totp.generate({ timestamp: Date.now() - 30_000 }));
  await phone.close();
  const observed: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    // The whole body is read here, so what the SDK does with the answer takes microtasks only, no I/O turn in which a
    // frame released by onAnswered could arrive first.
    const body = await res.arrayBuffer();
    onAnswered(String(input instanceof Request ? input.url : input));
    return new Response(body, res);
  };
  const again = await sdkClient(mitm.url, 'pwa', 'phone', {
    storage: phoneStore,
    reconnect: quickReconnect,
    platform: { fetch: observed },
  });
  clients.push(again);
  await again.connect();
  const states: string[] = [];
  again.events.on('state', ({ to }) => states.push(to));
  const approved = new Promise<unknown>((resolve) =>
    sidecar.events.on('message', (m) => {
      if (m.type === 'approve') resolve(m.payload);
    }),
  );
  return { sidecar, phone: again, totp, states, approved, relay: t, mitm };
}

const frameType = (text: string) => (JSON.parse(text) as { type: string }).type;

describe('OTP step-up through the SDK', () => {
  it('enrolls, steps up, and lets approve through where it failed with RELAY_ERR_STEP_UP_REQUIRED', async () => {
    t = await startTestRelay();
    const phoneStore = new MemoryStore();
    const { sidecar, phone } = await pairedClients(t.url, { phoneStore });
    clients.push(sidecar, phone);
    expect(phone.stepUpRequired).toBe(false);

    const { secret, uri } = await phone.enrollOtp();
    expect(uri).toMatch(/^otpauth:\/\/totp\//);
    const totp = new TOTP({ secret });
    await expect(phone.stepUp(totp.generate() === '000000' ? '000001' : '000000')).rejects.toMatchObject({
      relayCode: 'RELAY_ERR_OTP_INVALID',
    });
    // The first good code confirms the enrollment (a code of the previous step: each step is accepted once).
    await phone.stepUp(totp.generate({ timestamp: Date.now() - 30_000 }));
    expect(phone.stepUpRequired).toBe(true);
    await phone.close();

    // The same phone restarted: a fresh token without a step-up, on an account that now requires one.
    const again = await sdkClient(t.url, 'pwa', 'phone', { storage: phoneStore });
    clients.push(again);
    await again.connect();
    expect(again.stepUpRequired).toBe(true);
    const refused = await again.send('approve', { plan: 1 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OppieError);
    expect(refused).toMatchObject({ code: 'OPPIE_ERR_RELAY', relayCode: 'RELAY_ERR_STEP_UP_REQUIRED' });

    const received = new Promise<unknown>((resolve) =>
      sidecar.events.on('message', (m) => {
        if (m.type === 'approve') resolve(m.payload);
      }),
    );
    await again.stepUp(totp.generate());
    await again.send('approve', { plan: 2 });
    expect(await received).toEqual({ plan: 2 });
  });
});

describe('OTP step-up when the connection drops or is opening', () => {
  it('the connection is cut between verify and ack: stepUp resolves on the next connection, approve gets through', async () => {
    const { phone, totp, states, approved, relay, mitm } = await steppedAccount();
    // The wrong code is refused before anything reaches the connection.
    const wrong = totp.generate() === '000000' ? '000001' : '000000';
    await expect(phone.stepUp(wrong)).rejects.toMatchObject({
      code: 'OPPIE_ERR_AUTH',
      relayCode: 'RELAY_ERR_OTP_INVALID',
    });
    expect(phone.state).toBe('open');

    // The first `auth` frame never reaches the relay, and the relay drops the connection: the ack can never come.
    let authFrames = 0;
    mitm.setTamper((direction, text) => {
      if (direction === 'toRelay' && frameType(text) === 'auth' && ++authFrames === 1) {
        relay.relay.hub.get(phone.deviceId)?.close(CLOSE_CODES.SHUTTING_DOWN, 'cut by the test');
        return [];
      }
      return [text];
    });
    const code = totp.generate();
    await phone.stepUp(code, { timeoutMs: 30_000 });
    expect(authFrames).toBe(2); // dropped once, sent again on the next connection
    expect(states).toEqual(expect.arrayContaining(['reconnecting', 'open']));
    expect(phone.state).toBe('open');

    await phone.send('approve', { plan: 3 });
    expect(await approved).toEqual({ plan: 3 });
    // The code was spent by the first verify: a retry with it is refused, as any reuse.
    await expect(phone.stepUp(code)).rejects.toMatchObject({ relayCode: 'RELAY_ERR_OTP_INVALID' });
  });

  it('a connection still opening with the old token gets the step-up once it opens', async () => {
    let verified: () => void = () => {};
    const { phone, totp, states, approved, relay, mitm } = await steppedAccount((url) => {
      if (url.endsWith('/api/auth/otp/verify')) verified();
    });
    // Frames to the phone are held: the next connection is upgraded (with the old token) but not welcomed yet.
    const held: string[] = [];
    let holding = true;
    mitm.setTamper((direction, text) => {
      if (direction === 'toDevice' && holding) {
        held.push(text);
        return [];
      }
      return [text];
    });
    const old = relay.relay.hub.get(phone.deviceId);
    old?.close(CLOSE_CODES.SHUTTING_DOWN, 'cut by the test');
    await expect
      .poll(() => relay.relay.hub.get(phone.deviceId) !== old && relay.relay.hub.get(phone.deviceId), {
        timeout: 10_000,
      })
      .toBeTruthy();
    expect(phone.state).toBe('reconnecting');
    // The welcome is let through only once the verify has answered (it reaches the phone's socket after the SDK has
    // the answer), so stepUp finds the connection still opening, whatever the speed of the machine.
    let stateAtAnswer = '';
    verified = () => {
      stateAtAnswer = phone.state;
      holding = false;
      for (const text of held.splice(0)) mitm.inject(text);
    };
    await phone.stepUp(totp.generate());
    expect(stateAtAnswer).toBe('reconnecting');
    expect(states.at(-1)).toBe('open');
    await phone.send('approve', { plan: 4 });
    expect(await approved).toEqual({ plan: 4 });
  });

  it('rejects a non-positive timeoutMs before spending the code', async () => {
    const { phone } = await steppedAccount();
    await expect(phone.stepUp('123456', { timeoutMs: 0 })).rejects.toThrow(/timeoutMs/);
  });
});

describe('Web Push registration through the SDK', () => {
  it('reads the VAPID key, subscribes, replaces, unsubscribes; a bad subscription carries the relay code', async () => {
    t = await startTestRelay();
    const { sidecar, phone } = await pairedClients(t.url);
    clients.push(sidecar, phone);
    const key = await phone.pushPublicKey();
    expect(Buffer.from(key, 'base64url')).toHaveLength(65);

    const endpoint = 'https://push.example.com/send/sdk';
    const { keys } = subscriptionKeys();
    await phone.subscribePush({ endpoint, keys });
    expect(await t.relay.push.subscription(phone.deviceId)).toMatchObject({ endpoint, ...keys });
    await phone.subscribePush({ endpoint: `${endpoint}-2`, keys });
    expect(await t.relay.push.subscription(phone.deviceId)).toMatchObject({ endpoint: `${endpoint}-2` });
    await phone.unsubscribePush();
    expect(await t.relay.push.subscription(phone.deviceId)).toBeUndefined();

    await expect(phone.subscribePush({ endpoint: 'http://push.example.com/x', keys })).rejects.toMatchObject({
      code: 'OPPIE_ERR_RELAY',
      relayCode: 'RELAY_ERR_PUSH_SUBSCRIPTION_INVALID',
    });
    // A PushSubscription.toJSON() without keys (the DOM types allow it) reaches the relay and gets its code.
    await expect(phone.subscribePush({ endpoint })).rejects.toMatchObject({
      code: 'OPPIE_ERR_RELAY',
      relayCode: 'RELAY_ERR_BAD_REQUEST',
    });
    expect(await t.relay.push.subscription(phone.deviceId)).toBeUndefined();
    await expect(sidecar.subscribePush({ endpoint, keys })).rejects.toMatchObject({
      code: 'OPPIE_ERR_AUTH',
      relayCode: 'RELAY_ERR_ROLE_FORBIDDEN',
    });
  });
});
