/**
 * The SDK's relay-API methods on a real relay: OTP enrollment and step-up (the token reaches the live connection, so
 * approve passes where it was refused), and Web Push registration.
 */
import { MemoryStore, type OppieClient, OppieError } from '@oppie/client-sdk';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { TOTP } from 'otpauth';
import { afterEach, describe, expect, it } from 'vitest';
import { subscriptionKeys } from '../push/fixture.js';
import { pairedClients, sdkClient } from './sdk-fixture.js';

let t: TestRelay | undefined;
const clients: OppieClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await t?.close();
  t = undefined;
});

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
    await expect(sidecar.subscribePush({ endpoint, keys })).rejects.toMatchObject({
      code: 'OPPIE_ERR_AUTH',
      relayCode: 'RELAY_ERR_ROLE_FORBIDDEN',
    });
  });
});
