/**
 * The browser bundle in a real Chromium, as the PWA: IndexedDB storage, pairing through the in-process relay with a
 * Node sidecar, all six application types both ways, a 5 MiB diff, and a page reload in the middle of two numbered
 * streams that must lose and repeat nothing.
 */
import { existsSync } from 'node:fs';
import { APPLICATION_TYPES, type IncomingMessage, type OppieClient } from '@oppie/client-sdk';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdkClient } from '../sdk/sdk-fixture.js';
import { hasChromium, launchChromium } from './chromium.js';
import { bundlePath, type PageServer, startPageServer } from './page-server.js';

interface Logged {
  type: string;
  id: string;
  from: string | null;
  n: number | null;
  bytes?: number;
}

/** The page's `window.app` (test/test/browser/page/app.js), as seen from page.evaluate. */
interface PageApp {
  start(relayUrl: string): Promise<{ deviceId: string; peers: number }>;
  pair(link: string): Promise<{ deviceId: string; sas: string }>;
  send(type: string, payload: unknown): Promise<void>;
  sendNumbered(count: number): void;
  storeCheck(): Promise<Record<string, unknown>>;
  outboxWrites(): number;
  received(): Logged[];
  /** Messages the SDK flagged `redelivered` that the page had already logged (so skipped). */
  repeats(): number;
  diff(): { file: string; diff: string } | undefined;
  errors(): string[];
}
declare const app: PageApp;

const numbered = (log: Array<{ from: string | null; n: number | null }>, from: string) =>
  log.filter((e) => e.from === from && e.n !== null).map((e) => e.n);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.skipIf(!hasChromium())('browser bundle in Chromium', () => {
  let relay: TestRelay;
  let pages: PageServer;
  let browser: Browser;
  let page: Page;
  let sidecar: OppieClient;
  const atSidecar: IncomingMessage[] = [];
  const pageErrors: string[] = [];

  const start = () => page.evaluate((url) => app.start(url), pages.url);

  beforeAll(async () => {
    if (!existsSync(bundlePath)) throw new Error(`${bundlePath} is missing: run npm run bundle`);
    // 100 envelopes/s per device: both numbered streams take seconds, so the reload lands in the middle of them.
    relay = await startTestRelay({ envelopesPerSecond: 100 });
    pages = await startPageServer(relay.url);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${pages.url}/app/`);
    await page.waitForFunction(() => typeof (globalThis as { app?: unknown }).app === 'object');
    sidecar = await sdkClient(pages.url, 'sidecar', 'workstation');
    await sidecar.register();
    await sidecar.connect();
    sidecar.events.on('message', (m) => atSidecar.push(m));
  });

  afterAll(async () => {
    await sidecar?.close();
    await browser?.close();
    await pages?.close();
    await relay?.close();
  });

  it('stores strings and bytes in IndexedDB, lists keys by prefix and fails with OPPIE_ERR_STORAGE', async () => {
    expect(await page.evaluate(() => app.storeCheck())).toEqual({
      slash: ['a/1', 'a/2'],
      a: ['a/1', 'a/2', 'ab', 'a\uffff'],
      high: ['a\uffff'],
      all: 6,
      got: 'v:a/1',
      missing: null,
      afterDelete: ['a/2'],
      bytes: {
        back: [0x68, 0x69, 0x0a, 0xff],
        own: 4,
        text: true,
        ofText: [0x76, 0x3a, 0x62],
        asText: 'hi\n',
        missing: null,
      },
      failure: {
        code: 'OPPIE_ERR_STORAGE',
        message: 'IndexedDB failed while opening IndexedDB "oppie" (SecurityError: storage denied)',
        cause: 'SecurityError',
      },
    });
  });

  it('pairs through the relay with the link, both sides showing the same short authentication string', async () => {
    const fresh = await start();
    expect(fresh.peers).toBe(0);
    const offer = await sidecar.createPairing();
    const [phoneSide, sidecarSide] = await Promise.all([
      page.evaluate((link) => app.pair(link), offer.link),
      offer.completed,
    ]);
    expect(phoneSide.sas).toMatch(/^\d{6}$/);
    expect(phoneSide.sas).toBe(sidecarSide.sas);
    expect(phoneSide.deviceId).toBe(sidecar.deviceId);
    expect(sidecar.peers().map((p) => p.deviceId)).toEqual([fresh.deviceId]);
  });

  it('exchanges all six application types both ways', async () => {
    for (const type of APPLICATION_TYPES) {
      await page.evaluate(([t, p]) => app.send(t, p), [type, { from: 'browser', type }] as const);
      await sidecar.send(type, { from: 'sidecar', type });
    }
    await expect.poll(() => page.evaluate(() => app.received().length)).toBe(APPLICATION_TYPES.length);
    const got = await page.evaluate(() => app.received());
    expect(got.map((e) => [e.type, e.from])).toEqual(APPLICATION_TYPES.map((t) => [t, 'sidecar']));
    expect(atSidecar.map((m) => [m.type, m.payload])).toEqual(
      APPLICATION_TYPES.map((type) => [type, { from: 'browser', type }]),
    );
  });

  it('carries a 5 MiB diff from the sidecar to the browser', async () => {
    // Varied lines (hashes, changing lengths) so compression leaves megabytes to chunk, cut to exactly 5 MiB.
    const lines: string[] = [];
    for (let i = 0, size = 0; size <= 5 * 1024 * 1024; i++) {
      const line = `+ line ${i}: ${Math.imul(i, 2654435761).toString(36)} ${'x'.repeat((i * 7) % 80)}`;
      lines.push(line);
      size += line.length + 1;
    }
    const diff = lines.join('\n').slice(0, 5 * 1024 * 1024);
    expect(diff.length).toBe(5 * 1024 * 1024);
    await sidecar.send('diff', { from: 'sidecar', file: 'big.ts', diff });
    const got = await page.evaluate(() => app.diff());
    expect(got?.file).toBe('big.ts');
    expect(got?.diff.length).toBe(diff.length);
    expect(got?.diff === diff).toBe(true);
  }, 60_000);

  it('loses and repeats nothing when the page reloads mid-stream (outbox and inbox in IndexedDB)', async () => {
    const N = 300;
    const before = atSidecar.length;
    const sent = Promise.all(range(N).map((n) => sidecar.send('chat', { from: 'sidecar', n })));
    await page.evaluate((count) => app.sendNumbered(count), N);
    // Reload once the browser's outbox holds all N (IndexedDB committed) and its inbox has taken some of the
    // sidecar's stream: both directions are then under way.
    await page.waitForFunction((count) => app.outboxWrites() >= count && app.received().some((e) => e.n !== null), N, {
      polling: 10,
      timeout: 20_000,
    });
    const atReload = {
      browserGot: numbered(await page.evaluate(() => app.received()), 'sidecar').length,
      sidecarGot: numbered(atSidecar.slice(before).map(logged), 'browser').length,
    };
    await page.reload();
    await page.waitForFunction(() => typeof (globalThis as { app?: unknown }).app === 'object');
    const reopened = await start();
    expect(reopened.peers).toBe(1);

    await expect
      .poll(() => numbered(atSidecar.slice(before).map(logged), 'browser').length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(N);
    await expect
      .poll(async () => numbered(await page.evaluate(() => app.received()), 'sidecar').length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(N);
    await sent;

    console.log(
      `reload at: browser had ${atReload.browserGot}/${N}, sidecar had ${atReload.sidecarGot}/${N}; ` +
        `${await page.evaluate(() => app.repeats())} redelivered message(s) recognised after the reload`,
    );
    expect(atReload.browserGot).toBeGreaterThan(0);
    expect(atReload.browserGot).toBeLessThan(N);
    expect(atReload.sidecarGot).toBeLessThan(N);
    // Let any late duplicate arrive before the exactly-once check.
    await new Promise((r) => setTimeout(r, 500));
    expect(numbered(await page.evaluate(() => app.received()), 'sidecar')).toEqual(range(N));
    expect(numbered(atSidecar.slice(before).map(logged), 'browser')).toEqual(range(N));
    expect(await page.evaluate(() => app.errors())).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});

function logged(m: IncomingMessage): { from: string | null; n: number | null } {
  const p = m.payload as { from?: string; n?: number };
  return { from: p.from ?? null, n: typeof p.n === 'number' ? p.n : null };
}
