/**
 * A newcomer's first session with the reference PWA (examples/pwa, production build) in real Chromium at a phone's
 * viewport, against a real relay and the demo sidecar: pair, turn on two-step approval, run a plan with a 5 MiB diff,
 * approve with a TOTP code; then reload and go offline mid-plan without losing or repeating anything. And the service
 * worker's push handler, driven through the DevTools protocol.
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStepGate, type DemoSidecar, LARGE_DIFF_BYTES, startDemoSidecar } from '@oppie/sidecar-demo';
import { type PageServer, startTestRelay, type TestRelay } from '@oppie/test-kit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '../browser/chromium.js';
import { type NetSwitch, startNetSwitch } from './net-switch.js';
import { type Recorded, readRecord, recordScript } from './page-record.js';
import { startPwaServer } from './pwa-server.js';
import { totpCode, totpCounter } from './totp.js';

const SHOTS = fileURLToPath(new URL('../../../.vitest-artifacts/screenshots/', import.meta.url));
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 };
/** Paced like a real agent; where the test acts between two steps it holds the plan at the gate, not on a timer. */
const STEP_MS = 150;
/** The demo sidecar's steps pass only as far as the test allows (free-running until a test says otherwise). */
const turnstile = createStepGate();

let relay: TestRelay;
let dir: string;
let demo: DemoSidecar;
let pwa: PageServer;
let net: NetSwitch;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function phone(opts: { permissions?: string[] } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ ...PHONE, ...opts });
  contexts.push(context);
  await context.addInitScript({ content: recordScript });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.warn('[pwa page error]', err.message));
  await page.goto(pwa.url);
  return { context, page };
}

/** Waits until the service worker controls nothing less than an active registration. */
const swReady = (page: Page) =>
  page.evaluate<string>('navigator.serviceWorker.ready.then((r) => r.active ? r.active.scriptURL : "none")');

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

describe.skipIf(!hasChromium())('reference PWA in Chromium (390x844)', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    relay = await startTestRelay();
    dir = await mkdtemp(join(tmpdir(), 'oppie-pwa-'));
    // Relay only: the relay enforces the step-up on approve; a direct path would carry it past the relay.
    demo = await startDemoSidecar({
      relayUrl: relay.url,
      stateDir: join(dir, 'sidecar'),
      name: 'demo box',
      stepMs: STEP_MS,
      log: () => {},
      direct: { enabled: false },
      stepGate: turnstile.gate,
    });
    net = await startNetSwitch(relay.url);
    pwa = await startPwaServer(net.url);
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await pwa?.close();
    await net?.close();
    await demo?.close();
    await relay?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('pairs, enables two-step approval, receives a 5 MiB diff, approves with TOTP, survives reload and offline', async () => {
    const { context, page } = await phone();
    const tid = (id: string) => page.getByTestId(id);
    expect(await swReady(page)).toBe(`${pwa.url}/sw.js`);

    // Pair by link; the SAS on the phone equals the sidecar's.
    const offer = await demo.createPairing();
    await tid('pair-link').fill(offer.link);
    await tid('pair-submit').click();
    const sidecarSide = await offer.completed;
    await expect.poll(() => tid('sas').textContent(), { timeout: 15_000 }).toBe(sidecarSide.sas);
    await expect.poll(() => tid('conn-state').textContent(), { timeout: 15_000 }).toBe('open');
    expect(['relay', 'turn', 'direct']).toContain(await tid('path').textContent());
    await shot(page, 'pair-sas');
    await expect.poll(() => tid('workstation').count(), { timeout: 10_000 }).toBe(1);
    expect(await tid('workstation').getAttribute('data-device-id')).toBe(demo.client.deviceId);

    // Two-step approval: enroll, read the secret, confirm with a code computed here.
    await tid('nav-settings').click();
    await tid('otp-enroll').click();
    const secret = (await tid('otp-secret').textContent())?.trim() ?? '';
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    let used = totpCounter();
    await tid('totp-input').fill(totpCode(secret, used));
    await tid('totp-submit').click();
    await page.getByText('Two-step approval is on.').waitFor({ timeout: 15_000 });

    // A plan with the large-diff trigger: progress (held after step 3 for the screenshot), the transfer, the diff of
    // the sidecar's exact length.
    turnstile.allowThrough(3);
    await tid('nav-work').click();
    await tid('plan-input').fill('Regenerate the API client, large');
    await tid('plan-start').click();
    const plan = tid('plan').first();
    const planId = (await plan.getAttribute('data-plan-id')) as string;
    const progress = plan.getByTestId('progress');
    await turnstile.heldAt(4, planId);
    await expect.poll(() => progress.getAttribute('data-step'), { timeout: 15_000 }).toBe('3');
    expect(await plan.getAttribute('data-status')).toBe('running');
    expect(await progress.textContent()).toMatch(/^Editing /);
    await shot(page, 'work-progress');
    turnstile.allowThrough(Number.POSITIVE_INFINITY);
    await expect.poll(() => demo.diffOf(planId), { timeout: 20_000 }).toBeDefined();
    const sent = demo.diffOf(planId)!;
    expect(sent.bytes).toBeGreaterThanOrEqual(LARGE_DIFF_BYTES);
    const diff = page.locator(`[data-testid="diff"][data-diff-id="${sent.diffId}"]`);
    await expect.poll(() => diff.getAttribute('data-bytes'), { timeout: 60_000 }).toBe(String(sent.bytes));
    expect(await diff.getAttribute('data-files')).toBe(String(sent.files));
    await expect.poll(() => plan.getAttribute('data-status'), { timeout: 15_000 }).toBe('awaiting-approval');
    expect(await diff.getByTestId('approval-status').textContent()).toBe('pending');
    // The plan card at the top, below the app's sticky header: status, progress, the diff's head and first file.
    await page.evaluate(`(() => {
      const el = document.querySelector('[data-plan-id="${planId}"]');
      const header = document.querySelector('header');
      window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - (header ? header.offsetHeight : 0) - 8);
    })()`);
    await shot(page, 'diff-viewer');

    // Approve: the TOTP prompt, a fresh code (each 30 s step is accepted once), then the sidecar applies.
    await diff.getByTestId('approve').click();
    const prompt = page.locator('.step-up');
    await prompt.getByTestId('totp-input').waitFor({ timeout: 10_000 });
    await shot(page, 'approval-prompt');
    used = Math.max(totpCounter(), used + 1);
    await prompt.getByTestId('totp-input').fill(totpCode(secret, used));
    await prompt.getByTestId('totp-submit').click();
    await expect.poll(() => demo.plans().find((p) => p.planId === planId)?.status, { timeout: 20_000 }).toBe('applied');
    await expect.poll(() => plan.getAttribute('data-status'), { timeout: 15_000 }).toBe('applied');
    expect(await diff.getByTestId('approval-status').textContent()).toBe('approved');
    expect(await tid('error').count()).toBe(0);

    // A second plan: offline (the connection cut) and back, then a reload, both mid-stream at known steps (the
    // sidecar held at its gate); nothing lost or repeated.
    turnstile.allowThrough(1);
    await tid('chat-input').fill('status');
    await tid('chat-send').click();
    await tid('plan-input').fill('Add a health endpoint');
    await tid('plan-start').click();
    const second = page.locator('[data-testid="plan"]').filter({ hasText: 'Add a health endpoint' });
    const secondId = (await second.getAttribute('data-plan-id')) as string;
    const sidecarPlan = () => demo.plans().find((p) => p.planId === secondId);
    const shownStep = () => second.getByTestId('progress').getAttribute('data-step');
    await turnstile.heldAt(2, secondId);
    await expect.poll(shownStep, { timeout: 15_000 }).toBe('1');
    // The network goes: the connection is cut (as the phone's radio would) before Chromium's offline mode is on,
    // which could hold the close back; reconnecting fails until the network is back.
    const cutAt = Date.now();
    expect(net.down()).toBeGreaterThan(0);
    const dropped = async () =>
      (await page.evaluate<Recorded[]>(readRecord)).some((m) => m.type === 'state' && m.at >= cutAt && m.to !== 'open');
    await expect.poll(dropped, { timeout: 10_000 }).toBe(true);
    await context.setOffline(true);
    // Steps 2 and 3 are sent while the phone is offline: the relay queues them.
    turnstile.allowThrough(3);
    await turnstile.heldAt(4, secondId);
    expect(sidecarPlan()).toMatchObject({ status: 'running', step: 3 });
    net.up();
    await context.setOffline(false);
    const reopened = async () =>
      (await page.evaluate<Recorded[]>(readRecord)).some((m) => m.type === 'state' && m.at > cutAt && m.to === 'open');
    await expect.poll(reopened, { timeout: 20_000 }).toBe(true);
    await expect.poll(shownStep, { timeout: 15_000 }).toBe('3');
    // Step 4 on the reconnected page, then the reload while the plan waits at step 5; the rest flows to the new page.
    turnstile.allowThrough(4);
    await turnstile.heldAt(5, secondId);
    await expect.poll(shownStep, { timeout: 15_000 }).toBe('4');
    expect(sidecarPlan()).toMatchObject({ status: 'running', step: 4 });
    await page.reload();
    turnstile.allowThrough(Number.POSITIVE_INFINITY);
    await expect.poll(() => tid('conn-state').textContent(), { timeout: 15_000 }).toBe('open');
    await tid('chat-input').fill('how is it going?');
    await tid('chat-send').click();
    const again = page.locator(`[data-testid="plan"][data-plan-id="${secondId}"]`);
    await expect.poll(() => again.getAttribute('data-status'), { timeout: 30_000 }).toBe('awaiting-approval');
    await expect
      .poll(() => page.locator('[data-testid="chat-message"][data-from="sidecar"]').count(), { timeout: 15_000 })
      .toBe(2);

    const record = await page.evaluate<Recorded[]>(readRecord);
    type Delivered = Exclude<Recorded, { type: 'state' }>;
    const firstSeen = new Map<string, Delivered>();
    for (const m of record) {
      if (m.type === 'state') continue;
      if (firstSeen.has(m.id)) expect(m.redelivered, `${m.id} handed over twice without "redelivered"`).toBe(true);
      else firstSeen.set(m.id, m);
    }
    const unique = [...firstSeen.values()];
    const total = Number(await again.getByTestId('progress').getAttribute('data-total'));
    const steps = unique
      .filter((m) => m.type === 'progress' && m.payload.planId === secondId)
      .map((m) => m.payload.step);
    expect(steps).toEqual(Array.from({ length: total - 1 }, (_, i) => i + 1));
    const answers = unique.filter((m) => m.type === 'chat').map((m) => m.payload.text);
    expect(answers).toHaveLength(2);
    const shown = await page.locator('[data-testid="chat-message"]').allTextContents();
    // Each chat line once, in order (the prefix is the PWA's visually hidden sender label).
    expect(shown.map((t) => t.replace(/^(You|Workstation): /, ''))).toEqual([
      'status',
      answers[0],
      'how is it going?',
      answers[1],
    ]);
    expect(Number(await again.getByTestId('progress').getAttribute('data-step'))).toBe(total - 1);
  }, 180_000);

  it('shows the "oppie-wake" notification when the service worker gets a push', async () => {
    const { context, page } = await phone();
    await context.grantPermissions(['notifications'], { origin: pwa.url });
    const cdp = await context.newCDPSession(page);
    const registrations = new Map<string, { scopeURL: string; isDeleted: boolean }>();
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
      for (const r of e.registrations) registrations.set(r.registrationId, r);
    });
    await cdp.send('ServiceWorker.enable');
    await swReady(page);
    await expect
      .poll(() => [...registrations.values()].some((r) => !r.isDeleted && r.scopeURL === `${pwa.url}/`), {
        timeout: 10_000,
      })
      .toBe(true);
    const [registrationId] = [...registrations].find(([, r]) => !r.isDeleted && r.scopeURL === `${pwa.url}/`)!;
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: pwa.url,
      registrationId,
      data: JSON.stringify({ t: 'wake', ids: ['e1'], from: demo.client.deviceId }),
    });
    const tags = () =>
      page.evaluate<string[]>(
        'navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.map((n) => n.tag))',
      );
    await expect.poll(tags, { timeout: 10_000 }).toContain('oppie-wake');
  }, 60_000);
});
