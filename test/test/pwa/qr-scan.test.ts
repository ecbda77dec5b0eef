/**
 * Pairing by camera: the reference PWA (production build) in real Chromium at a phone's viewport scans the demo
 * sidecar's pairing QR code from a fake camera and pairs by itself, against a real relay. Without camera permission
 * the scanner says so and the link field still works.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DemoSidecar, startDemoSidecar } from '@oppie/sidecar-demo';
import { type PageServer, startTestRelay, type TestRelay } from '@oppie/test-kit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '../browser/chromium.js';
import { type FakeCamera, fakeCameraShowing } from './fake-camera.js';
import { startPwaServer } from './pwa-server.js';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 };

let relay: TestRelay;
let dir: string;
let demo: DemoSidecar;
let pwa: PageServer;
let offer: Awaited<ReturnType<DemoSidecar['createPairing']>>;
let camera: FakeCamera;
let browser: Browser;
const contexts: BrowserContext[] = [];

/** A fresh phone on the Pair screen; `errors` collects the page's uncaught errors. */
async function phone(permissions: string[]): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ ...PHONE, permissions });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(pwa.url);
  await page.getByTestId('scan-qr').waitFor({ timeout: 15_000 });
  return { page, errors };
}

describe.skipIf(!hasChromium())('reference PWA pairs by scanning the QR code (Chromium, 390x844)', () => {
  beforeAll(async () => {
    relay = await startTestRelay();
    dir = await mkdtemp(join(tmpdir(), 'oppie-qr-'));
    demo = await startDemoSidecar({
      relayUrl: relay.url,
      stateDir: join(dir, 'sidecar'),
      name: 'qr box',
      log: () => {},
      direct: { enabled: false },
    });
    pwa = await startPwaServer(relay.url);
    offer = await demo.createPairing();
    camera = await fakeCameraShowing(offer.link);
    browser = await launchChromium(camera.args);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await camera?.close();
    await pwa?.close();
    await demo?.close();
    await relay?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('scans the sidecar QR code from the camera and pairs (same SAS, named workstation, open), then revokes it', async () => {
    const { page, errors } = await phone(['camera']);
    const tid = (id: string) => page.getByTestId(id);

    await tid('scan-qr').click();
    const sidecarSide = await offer.completed;
    await expect.poll(() => tid('sas').textContent(), { timeout: 20_000 }).toBe(sidecarSide.sas);
    await expect.poll(() => tid('conn-state').textContent(), { timeout: 20_000 }).toBe('open');
    await expect.poll(() => tid('workstation').count(), { timeout: 15_000 }).toBe(1);
    expect(await tid('workstation').getAttribute('data-device-id')).toBe(demo.client.deviceId);
    expect(demo.paired()).toBe(true);
    // The scanner closed itself on the hit, and nothing went wrong on the way.
    expect(await page.locator('video').count()).toBe(0);
    expect(await tid('scan-qr').textContent()).toBe('Scan QR code');
    expect(await tid('scan-error').count()).toBe(0);
    expect(await tid('error').count()).toBe(0);
    // The list shows the workstation's own name (from the relay's device list), and revoking it (after the
    // confirmation) removes it here and cuts the sidecar off at the relay.
    await expect.poll(() => tid('workstation').locator('strong').textContent(), { timeout: 10_000 }).toBe('qr box');
    page.once('dialog', (d) => void d.accept());
    await tid('revoke').click();
    await expect.poll(() => tid('workstation').count(), { timeout: 15_000 }).toBe(0);
    await expect.poll(() => demo.client.state, { timeout: 15_000 }).toBe('closed');
    expect(errors).toEqual([]);
  }, 90_000);

  it('without camera permission shows the scanner error and keeps pairing by link usable', async () => {
    const { page, errors } = await phone([]);
    const tid = (id: string) => page.getByTestId(id);

    await tid('scan-qr').click();
    await tid('scan-error').waitFor({ timeout: 15_000 });
    expect(await tid('scan-error').textContent()).toBe(
      'Camera permission was denied. Allow the camera in the browser settings, or paste the link instead.',
    );
    expect(await tid('scan-error').getAttribute('role')).toBe('alert');
    expect(await page.locator('video').count()).toBe(0);

    // The app is still whole: the scanner closes, the link field takes a link and the Pair button enables.
    await page.getByRole('button', { name: 'Close camera' }).click();
    await expect.poll(() => tid('scan-error').count(), { timeout: 5_000 }).toBe(0);
    expect(await tid('scan-qr').textContent()).toBe('Scan QR code');
    await tid('pair-link').fill('oppie://pair?x');
    await expect.poll(() => tid('pair-submit').isEnabled(), { timeout: 5_000 }).toBe(true);
    expect(await tid('conn-state').count()).toBe(1);
    expect(errors).toEqual([]);
  }, 60_000);
});
