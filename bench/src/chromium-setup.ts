/**
 * Chromium <-> Node setup for the direct bench: the browser bundle (client-sdk/dist/browser/oppie-client.js, built by
 * `npm run bundle`) in Debian's headless Chromium (/usr/bin/chromium through playwright-core, never a downloaded
 * browser), with IndexedDB storage and the browser's own RTCPeerConnection, against a Node sidecar (`@roamhq/wrtc`,
 * MemoryStore).
 *
 * Paired once; then every run reloads the page (a cold SDK start from IndexedDB: same identity, same pairing) and
 * starts a new sidecar client on the same MemoryStore. Both connect at once and the sidecar sends one chat message
 * when its connect resolves. The page takes t0 = `performance.now()` as its connect starts and reports, by its own
 * clock, the first message delivered and its `path` event with `direct`.
 *
 * The page and the bundle are served from 127.0.0.1 by a small server that forwards everything else (REST and the
 * WebSocket upgrade) to the relay, so page and relay share one origin (the relay sends no CORS headers), as behind a
 * deployment's reverse proxy.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MemoryStore, OppieClient, type OppieClientOptions, type RtcImplementation } from '@oppie/client-sdk';
import { type PageServer, startPageProxy } from '@oppie/test-kit';
import type { Browser, Page } from 'playwright-core';
import WebSocket from 'ws';

/** The Debian package's binary; playwright's browser downloads are not used. */
export const CHROMIUM = '/usr/bin/chromium';
export const BUNDLE = fileURLToPath(new URL('../../client-sdk/dist/browser/oppie-client.js', import.meta.url));
/** The Node build of the SDK: a bundle older than it was probably built from older sources. */
const SDK_DIST = fileURLToPath(new URL('../../client-sdk/dist/index.js', import.meta.url));
const DB_NAME = 'oppie-direct-bench';

const rtc = createRequire(import.meta.url)('@roamhq/wrtc') as RtcImplementation;

/** The flags of test/test/browser/chromium.ts (`launchChromium`). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The page: loads the bundle and drives one client through `window.bench`; each load is a cold SDK start. */
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8" /><title>Oppie direct bench</title>
<script type="module">
import { attachBrowserLifecycle, browserPlatform, OppieClient } from './oppie-client.js';
let client;
let t0 = 0;
let first;
let direct;
let setupMs;
const errors = [];
window.bench = {
  async create() {
    client = await OppieClient.create({
      relayUrl: location.origin,
      role: 'pwa',
      name: 'chromium-bench',
      platform: browserPlatform({ dbName: '${DB_NAME}' }),
    });
    attachBrowserLifecycle(client);
    client.events.on('message', () => {
      if (first === undefined) first = performance.now() - t0;
    });
    client.events.on('path', (e) => {
      if (e.path === 'direct' && direct === undefined) direct = performance.now() - t0;
    });
    client.events.on('upgrade', (e) => {
      if (e.outcome === 'upgraded' && setupMs === undefined) setupMs = e.setupMs;
    });
    client.events.on('error', (e) => errors.push(e.code + ': ' + e.message));
    return { deviceId: client.deviceId, hasRtc: typeof RTCPeerConnection === 'function' };
  },
  async pair(link) {
    const r = await client.pair(link);
    return r.deviceId;
  },
  connect() {
    t0 = performance.now();
    return client.connect();
  },
  result: () => ({ first, direct, setupMs, errors }),
  close: () => client?.close(),
};
</script></head>
<body></body>
</html>
`;

/** What the page's `window.bench` offers, as seen from page.evaluate. */
interface BenchPage {
  create(): Promise<{ deviceId: string; hasRtc: boolean }>;
  pair(link: string): Promise<string>;
  connect(): Promise<void>;
  result(): { first?: number; direct?: number; setupMs?: number; errors: string[] };
  close(): Promise<void>;
}
declare const bench: BenchPage;

export interface ChromiumSetup {
  /** ms from the page's connect to the first message delivered in the page, one per run, in run order. */
  first: number[];
  /** ms from the page's connect to its `path` event with `direct`, one per run, in run order. */
  direct: number[];
  version: string;
}

/** Why the Chromium rows cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (apt-get install chromium, the Debian package)`;
  if (!existsSync(BUNDLE)) return `${BUNDLE} is missing (npm run bundle)`;
  return undefined;
}

/** A warning when the bundle is older than the Node build of the SDK (rebuild it with npm run bundle). */
export function bundleStale(): string | undefined {
  if (!existsSync(SDK_DIST)) return undefined;
  return statSync(BUNDLE).mtimeMs < statSync(SDK_DIST).mtimeMs
    ? `the browser bundle is older than client-sdk/dist (npm run bundle to rebuild it)`
    : undefined;
}

/** Serves the page at `/` and the bundle; every other request and upgrade goes to the relay. 127.0.0.1 only. */
async function startPageServer(relayUrl: string): Promise<PageServer> {
  const bundle = await readFile(BUNDLE);
  const js = { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' };
  return startPageProxy(relayUrl, (req, res) => {
    if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE);
      return true;
    }
    if (req.url === '/oppie-client.js') {
      res.writeHead(200, js).end(bundle);
      return true;
    }
    return false;
  });
}

function sidecarClient(url: string, storage: MemoryStore): Promise<OppieClient> {
  return OppieClient.create({
    relayUrl: url,
    role: 'sidecar',
    name: 'direct-bench-sidecar',
    platform: {
      WebSocket: WebSocket as unknown as NonNullable<OppieClientOptions['platform']>['WebSocket'],
      storage,
      rtc,
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Loads the page (a cold SDK start) and creates its client; returns the page's device id. */
async function loadPage(page: Page, url: string, reload: boolean): Promise<string> {
  if (reload) await page.reload();
  else await page.goto(`${url}/`);
  await page.waitForFunction(() => typeof (globalThis as { bench?: unknown }).bench === 'object');
  const created = await page.evaluate(() => bench.create());
  if (!created.hasRtc) throw new Error('Chromium page has no RTCPeerConnection');
  return created.deviceId;
}

/**
 * `runs` cold starts of the page and a Node sidecar against the relay at `relayUrl`.
 *
 * @param log progress lines (one per run)
 */
export async function chromiumSetup(
  relayUrl: string,
  runs: number,
  log: (line: string) => void,
): Promise<ChromiumSetup> {
  const { chromium } = await import('playwright-core');
  const pages = await startPageServer(relayUrl);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // Pair once: a fresh IndexedDB identity in the page, a MemoryStore sidecar.
    const store = new MemoryStore();
    const pairing = await sidecarClient(relayUrl, store);
    await pairing.register();
    await pairing.connect();
    const offer = await pairing.createPairing();
    await loadPage(page, pages.url, false);
    await Promise.all([page.evaluate((link) => bench.pair(link), offer.link), offer.completed]);
    await pairing.close();
    await page.evaluate(() => bench.close());

    const first: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < runs; i++) {
      await loadPage(page, pages.url, true);
      const sidecar = await sidecarClient(relayUrl, store);
      try {
        await Promise.all([
          page.evaluate(() => bench.connect()),
          sidecar.connect().then(() => {
            void sidecar.send('chat', { hello: i });
          }),
        ]);
        const deadline = Date.now() + 20_000;
        let r = await page.evaluate(() => bench.result());
        while ((r.first === undefined || r.direct === undefined) && Date.now() < deadline) {
          await sleep(10);
          r = await page.evaluate(() => bench.result());
        }
        if (r.first === undefined || r.direct === undefined) {
          throw new Error(
            `Chromium run ${i + 1}: no ${r.first === undefined ? 'first message' : 'direct path'} within 20 s` +
              ` (page errors: ${[...r.errors, ...pageErrors].join('; ') || 'none'})`,
          );
        }
        first.push(r.first);
        direct.push(r.direct);
        log(
          `  chromium run ${i + 1}: first message ${r.first.toFixed(0)} ms, direct ${r.direct.toFixed(0)} ms` +
            ` (upgrade setupMs ${r.setupMs ?? '?'})`,
        );
      } finally {
        await page.evaluate(() => bench.close()).catch(() => {});
        await sidecar.close();
      }
    }
    return { first, direct, version: browser.version() };
  } finally {
    await browser?.close();
    await pages.close();
  }
}
