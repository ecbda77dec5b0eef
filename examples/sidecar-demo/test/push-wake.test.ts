/**
 * The demo's request for approval is what wakes an offline PWA: the running steps and the diff go at normal priority
 * and wake nobody; the `awaiting-approval` progress goes with `priority: 'high'`, so the relay sends one Web Push to
 * the PWA's subscription (a local push service) when it queues it.
 */
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary, startPushService, startTestRelay, type TestPushService, type TestRelay } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { type DemoSidecar, startDemoSidecar } from '../src/demo-sidecar.js';
import { planScript } from '../src/plan-script.js';
import { createStepGate } from '../src/step-gate.js';
import { Phone } from './phone.js';

const HAVE_OPENSSL = requireBinary('openssl', 'apt-get install openssl');

/** What a browser's PushSubscription.toJSON().keys holds: a P-256 public key and 16 auth bytes. */
function subscriptionKeys(): { p256dh: string; auth: string } {
  const ecdh = createECDH('prime256v1');
  return { p256dh: ecdh.generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
}

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let ps: TestPushService | undefined;
let relay: TestRelay | undefined;
let demo: DemoSidecar | undefined;
let phone: Phone | undefined;
let dir: string | undefined;
afterEach(async () => {
  await phone?.client.close();
  await demo?.close();
  await relay?.close();
  await ps?.close();
  // close() does not wait for a store write already in flight (the phone's last inbox write can land a moment later,
  // and CI once saw ENOTEMPTY here): rm retries, as Node documents for that error.
  if (dir !== undefined) await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  phone = demo = relay = ps = dir = undefined;
});

describe.skipIf(!HAVE_OPENSSL)('demo sidecar and Web Push', () => {
  it('one push when the approval request is queued for the offline PWA, none for the running steps', async () => {
    ps = await startPushService();
    relay = await startTestRelay({ pushCaFile: ps.caFile, pushAllowPrivateEndpoints: true });
    dir = await mkdtemp(join(tmpdir(), 'oppie-demo-push-'));
    const turnstile = createStepGate(0);
    demo = await startDemoSidecar({
      relayUrl: relay.url,
      stateDir: join(dir, 'sidecar'),
      stepMs: 5,
      log: () => {},
      direct: { enabled: false },
      stepGate: turnstile.gate,
    });
    phone = await Phone.open(relay.url, join(dir, 'phone'));
    const offer = await demo.createPairing();
    await Promise.all([phone.client.pair(offer.link), offer.completed]);
    const phoneId = phone.client.deviceId;
    const endpoint = `${ps.url}/push/${phoneId}`;
    await phone.client.subscribePush({ endpoint, keys: subscriptionKeys() });

    // The plan starts while the PWA is online; then it goes offline before the first step.
    const total = planScript('Fix login').steps.length + 2;
    await phone.client.send('runPlan', { planId: 'p1', prompt: 'Fix login' });
    await turnstile.heldAt(1, 'p1');
    await phone.client.close();
    await until(() => relay?.relay.hub.get(phoneId) === undefined, 'the relay sees the PWA offline');
    const queued = async () => (await (relay as TestRelay).relay.queues.stats(phoneId)).depth;
    const before = await queued();

    // Every running step is queued for it: no push.
    turnstile.allowThrough(total - 2);
    await turnstile.heldAt(total - 1, 'p1');
    await until(async () => (await queued()) >= before + total - 2, 'the running steps queued');
    await new Promise((r) => setTimeout(r, 300)); // the wake-up queue is asynchronous: give a wrong push time to show
    expect(ps.received).toHaveLength(0);

    // The diff (normal) and the request for approval (high): one push, to the PWA's endpoint.
    turnstile.allowThrough(Number.POSITIVE_INFINITY);
    const push = await ps.nth(0, 10_000);
    expect(push.path).toBe(`/push/${phoneId}`);
    expect(push.body.length).toBeGreaterThan(0);
    expect(await queued()).toBe(before + total);
    await new Promise((r) => setTimeout(r, 300));
    expect(ps.received).toHaveLength(1);

    // Woken, the PWA connects and finds the request waiting.
    phone = await Phone.open(relay.url, join(dir, 'phone'));
    await phone.client.connect();
    const waiting = await phone.until('progress', (p) => p.status === 'awaiting-approval');
    expect(waiting).toMatchObject({ planId: 'p1', step: total - 1, diffId: 'p1-diff' });
  });
});
