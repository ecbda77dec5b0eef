/**
 * The WebRTC direct path between the browser bundle in a real Chromium (the browser's own RTCPeerConnection) and a
 * Node sidecar (`@roamhq/wrtc`), signalled through the in-process relay: the data channel comes up on both sides,
 * all six application types cross it both ways without touching the relay, and a path reset in the middle of two
 * numbered streams (direct -> relay -> direct) loses, repeats and reorders nothing.
 *
 * Default Chromium flags: its host candidates are mDNS names (`*.local`) and the Node side learns the browser's address
 * as peer-reflexive from the first connectivity check, which is enough (FIELD-NOTES, Chromium). A machine whose only
 * interface is `lo` would also need `--allow-loopback-in-peer-connection` and `WebRtcHideLocalIpsWithMdns` disabled.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { APPLICATION_TYPES, type IncomingMessage, type OppieClient } from '@oppie/client-sdk';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { sdkClient } from '../sdk/sdk-fixture.js';
import { hasChromium, launchChromium } from './chromium.js';
import { bundlePath, type PageServer, startPageServer } from './page-server.js';

const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as {
  RTCPeerConnection: unknown;
  RTCSessionDescription: unknown;
  RTCIceCandidate: unknown;
};

type PathName = 'relay' | 'turn' | 'direct';
interface PathEvent {
  peer: string;
  path: PathName;
  relayProtocol?: string;
  at: number;
}
interface UpgradeEvent {
  peer: string;
  outcome: string;
  setupMs: number;
  at: number;
}
interface Logged {
  type: string;
  from: string | null;
  n: number | null;
  payload: unknown;
}

/** The page's `window.direct` (test/test/browser/page/direct.js), as seen from page.evaluate. */
interface DirectPage {
  start(relayUrl: string, opts: { retryMs?: number }): Promise<{ deviceId: string; hasRtc: boolean }>;
  pair(link: string): Promise<{ deviceId: string; sas: string }>;
  send(type: string, payload: unknown): Promise<void>;
  sendNumbered(count: number): void;
  received(from?: number): Logged[];
  receivedCount(): number;
  numberedCount(): number;
  paths(): PathEvent[];
  upgrades(): UpgradeEvent[];
  pathTo(peer: string): PathName;
  resetPath(peer: string): void;
  errors(): string[];
  close(): Promise<void>;
}
declare const direct: DirectPage;

/** A failed attempt is retried after this long (the default backoff starts at 2 s with full jitter). */
const RETRY_MS = 300;
const N = 2_000;
/** The sidecar resets the path once it holds this many of the browser's numbered messages. */
const RESET_AT = 400;
/** How far the sidecar's stream may run ahead of what it has received of the browser's. */
const LEAD = 200;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const numbers = (log: Array<{ from: string | null; n: number | null }>, from: string) =>
  log.filter((e) => e.from === from && e.n !== null).map((e) => e.n);
/** The path sequence for one peer, consecutive repeats folded. */
const sequence = (events: Array<{ peer: string; path: PathName }>, peer: string) =>
  events
    .filter((e) => e.peer === peer)
    .map((e) => e.path)
    .filter((p, i, all) => i === 0 || all[i - 1] !== p);

describe.skipIf(!hasChromium())('WebRTC direct path: Chromium <-> Node sidecar', () => {
  let relay: TestRelay;
  let pages: PageServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let sidecar: OppieClient;
  let browserId: string;
  const atSidecar: IncomingMessage[] = [];
  const sidecarPaths: PathEvent[] = [];
  const sidecarUpgrades: UpgradeEvent[] = [];
  const sidecarErrors: string[] = [];
  /** Everything the page printed, to show when a test fails. */
  const pageLog: string[] = [];
  const pageErrors: string[] = [];
  const t0 = Date.now();
  const stamp = () => `${String(Date.now() - t0).padStart(6)} ms`;

  const showLogs = () =>
    onTestFailed(() => {
      console.log(`--- page console (${pageLog.length} lines)\n${pageLog.join('\n')}`);
      console.log(`--- sidecar paths ${JSON.stringify(sidecarPaths)}`);
      console.log(`--- sidecar upgrades ${JSON.stringify(sidecarUpgrades)}`);
      console.log(`--- sidecar errors ${JSON.stringify(sidecarErrors)}`);
    });

  /** Application envelopes the relay accepted from devices so far (`oppie_relay_envelopes_total`, direction in). */
  async function relayedApplicationEnvelopes(): Promise<number> {
    const text = await (await fetch(`${relay.url}/api/metrics`)).text();
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('oppie_relay_envelopes_total{')) continue;
      const type = /type="([^"]+)"/.exec(line)?.[1];
      const dir = /direction="([^"]+)"/.exec(line)?.[1];
      if (dir === 'in' && (APPLICATION_TYPES as readonly string[]).includes(type ?? '')) {
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return total;
  }

  beforeAll(async () => {
    if (!existsSync(bundlePath)) throw new Error(`${bundlePath} is missing: run npm run bundle`);
    // After the reset the rest of both streams (and every unacknowledged frame sent on the channel) crosses the
    // relay at once: rate, burst and queue limits high enough that the relay neither refuses nor drops any of it.
    // This test is about the handover; refusals and drops on the relay have tests of their own.
    relay = await startTestRelay({ envelopesPerSecond: 20_000, envelopeBurst: 20_000, queueMaxCount: 20_000 });
    pages = await startPageServer(relay.url);
    browser = await launchChromium();
    context = await browser.newContext();
    page = await context.newPage();
    page.on('pageerror', (e) => {
      pageErrors.push(e.message);
      pageLog.push(`${stamp()} pageerror: ${e.message}`);
    });
    page.on('console', (m) => {
      pageLog.push(`${stamp()} ${m.type()}: ${m.text()}`);
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${pages.url}/app/direct.html`);
    await page.waitForFunction(() => typeof (globalThis as { direct?: unknown }).direct === 'object');

    sidecar = await sdkClient(pages.url, 'sidecar', 'workstation', {
      platform: { rtc: wrtc },
      direct: { retry: { nextDelayMs: () => RETRY_MS } },
      // Base64 of random bytes goes undeflated on any path, so what the packed test counts tells packed from not.
      lowGainCompression: 'never',
    });
    sidecar.events.on('message', (m) => atSidecar.push(m));
    sidecar.events.on('path', (e) => sidecarPaths.push({ ...e, at: Date.now() }));
    sidecar.events.on('upgrade', (e) => sidecarUpgrades.push({ ...e, at: Date.now() }));
    sidecar.events.on('error', (e) => sidecarErrors.push(`${e.code}: ${e.message}`));
    await sidecar.register();
    await sidecar.connect();
  });

  afterAll(async () => {
    await page?.evaluate(() => direct.close()).catch(() => {});
    await sidecar?.close();
    await context?.close();
    await browser?.close();
    await pages?.close();
    await relay?.close();
  });

  it('pairs, then brings the data channel up: a direct path on both sides', async () => {
    showLogs();
    const started = await page.evaluate(([url, retryMs]) => direct.start(url, { retryMs }), [
      pages.url,
      RETRY_MS,
    ] as const);
    expect(started.hasRtc).toBe(true);
    browserId = started.deviceId;
    const offer = await sidecar.createPairing();
    const pairedAt = Date.now();
    const [phoneSide, sidecarSide] = await Promise.all([
      page.evaluate((link) => direct.pair(link), offer.link),
      offer.completed,
    ]);
    expect(phoneSide.sas).toBe(sidecarSide.sas);
    expect(phoneSide.deviceId).toBe(sidecar.deviceId);

    await expect.poll(() => sidecar.pathTo(browserId), { timeout: 20_000, interval: 20 }).toBe('direct');
    await expect
      .poll(() => page.evaluate((peer) => direct.pathTo(peer), sidecar.deviceId), { timeout: 20_000, interval: 20 })
      .toBe('direct');
    const browserPaths = await page.evaluate(() => direct.paths());
    expect(sequence(sidecarPaths, browserId).at(-1)).toBe('direct');
    expect(sequence(browserPaths, sidecar.deviceId).at(-1)).toBe('direct');
    const browserUpgrades = await page.evaluate(() => direct.upgrades());
    expect(sidecarUpgrades.map((u) => u.outcome)).toContain('upgraded');
    expect(browserUpgrades.map((u) => u.outcome)).toContain('upgraded');
    const directAt = Math.max(
      (sidecarPaths.find((e) => e.path === 'direct') as PathEvent).at,
      (browserPaths.find((e) => e.path === 'direct') as PathEvent).at,
    );
    console.log(
      `direct on both sides ${directAt - pairedAt} ms after pairing; setupMs sidecar ${
        sidecarUpgrades.find((u) => u.outcome === 'upgraded')?.setupMs
      }, browser ${browserUpgrades.find((u) => u.outcome === 'upgraded')?.setupMs} (initiator: ${
        sidecar.deviceId < browserId ? 'sidecar' : 'browser'
      })`,
    );
  }, 40_000);

  it('exchanges all six application types both ways on the direct path, none through the relay', async () => {
    showLogs();
    const relayedBefore = await relayedApplicationEnvelopes();
    const fromBrowser = atSidecar.length;
    const fromSidecar = await page.evaluate(() => direct.receivedCount());
    for (const type of APPLICATION_TYPES) {
      await page.evaluate(([t, p]) => direct.send(t, p), [type, { from: 'browser', type }] as const);
      await sidecar.send(type, { from: 'sidecar', type });
    }
    await expect.poll(() => page.evaluate(() => direct.receivedCount())).toBe(fromSidecar + APPLICATION_TYPES.length);
    await expect.poll(() => atSidecar.length).toBe(fromBrowser + APPLICATION_TYPES.length);
    const got = await page.evaluate((from) => direct.received(from), fromSidecar);
    expect(got.map((e) => [e.type, e.payload])).toEqual(
      APPLICATION_TYPES.map((type) => [type, { from: 'sidecar', type }]),
    );
    expect(atSidecar.slice(fromBrowser).map((m) => [m.type, m.payload])).toEqual(
      APPLICATION_TYPES.map((type) => [type, { from: 'browser', type }]),
    );
    // Still direct, and the relay routed none of them.
    expect(sidecar.pathTo(browserId)).toBe('direct');
    expect(await page.evaluate((peer) => direct.pathTo(peer), sidecar.deviceId)).toBe('direct');
    expect(await relayedApplicationEnvelopes()).toBe(relayedBefore);
  });

  it('carries long base64 to the browser as its bytes, which the page spells out again without Buffer', async () => {
    showLogs();
    const proto = (wrtc as unknown as { RTCDataChannel: { prototype: { send(d: unknown): void } } }).RTCDataChannel
      .prototype;
    const original = proto.send;
    let carried = 0;
    proto.send = function (this: unknown, d: unknown) {
      carried += d instanceof Uint8Array ? d.byteLength : String(d).length;
      original.call(this, d);
    };
    try {
      const fromSidecar = await page.evaluate(() => direct.receivedCount());
      const payload = { png: randomBytes(90 * 1024).toString('base64'), id: randomBytes(700).toString('base64url') };
      await sidecar.send('diff', payload);
      await expect.poll(() => page.evaluate(() => direct.receivedCount())).toBe(fromSidecar + 1);
      const [got] = await page.evaluate((from) => direct.received(from), fromSidecar);
      expect(got?.payload).toEqual(payload);
      // 120.9 KiB of base64 went as its 90.7 KiB of bytes (the browser's pong said it reads packed chunks), where
      // it would have gone undeflated (the sidecar's lowGainCompression is `never`).
      expect(carried).toBeLessThan(92 * 1024);
      expect(await page.evaluate(() => typeof (globalThis as { Buffer?: unknown }).Buffer)).toBe('undefined');
      expect(sidecar.pathTo(browserId)).toBe('direct');
    } finally {
      proto.send = original;
    }
  });

  it(`loses, repeats and reorders nothing when the path is reset during two ${N}-message streams`, async () => {
    showLogs();
    const fromBrowser = atSidecar.length;
    const fromSidecar = await page.evaluate(() => direct.receivedCount());
    const sidecarPathsBefore = sidecarPaths.length;
    const browserPathsBefore = (await page.evaluate(() => direct.paths())).length;
    const relayedBefore = await relayedApplicationEnvelopes();
    const browserNumbered = () => numbers(atSidecar.slice(fromBrowser).map(logged), 'browser');

    // The browser sends its N at once; the sidecar (much faster) keeps at most LEAD ahead of what it has received
    // from the browser, so both streams are under way when the sidecar resets the path on receiving RESET_AT.
    const sends: Promise<void>[] = [];
    let sidecarSent = 0;
    let got = 0;
    let resetAt: { sidecarGot: number; sidecarSent: number; at: number } | undefined;
    const sendAhead = () => {
      for (; sidecarSent < Math.min(N, got + LEAD); sidecarSent++) {
        sends.push(sidecar.send('chat', { from: 'sidecar', n: sidecarSent }));
      }
    };
    const onMessage = (m: IncomingMessage) => {
      const e = logged(m);
      if (e.from !== 'browser' || e.n === null) return;
      got += 1;
      sendAhead();
      if (resetAt !== undefined || got < RESET_AT) return;
      resetAt = { sidecarGot: got, sidecarSent, at: Date.now() };
      // Outside the SDK's own event dispatch, as an application's UI would call it.
      setImmediate(() => sidecar.resetPath(browserId));
    };
    sidecar.events.on('message', onMessage);

    const started = Date.now();
    try {
      sendAhead();
      await page.evaluate((count) => direct.sendNumbered(count), N);
      await expect.poll(() => resetAt, { timeout: 30_000, interval: 5 }).toBeDefined();
      const browserGotAtReset = await page.evaluate(() => direct.numberedCount());

      await expect.poll(() => got, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(N);
      await expect
        .poll(() => page.evaluate(() => direct.numberedCount()), { timeout: 60_000, interval: 50 })
        .toBeGreaterThanOrEqual(N);
      expect(sends).toHaveLength(N);
      await Promise.all(sends);
      const doneAt = Date.now();

      // The path went back to the relay and returned to direct, on both sides.
      await expect.poll(() => sidecar.pathTo(browserId), { timeout: 20_000, interval: 20 }).toBe('direct');
      await expect
        .poll(() => page.evaluate((peer) => direct.pathTo(peer), sidecar.deviceId), { timeout: 20_000, interval: 20 })
        .toBe('direct');
      const sidecarSince = sidecarPaths.slice(sidecarPathsBefore).filter((e) => e.peer === browserId);
      const browserSince = (await page.evaluate(() => direct.paths()))
        .slice(browserPathsBefore)
        .filter((e) => e.peer === sidecar.deviceId);
      const relayed = (await relayedApplicationEnvelopes()) - relayedBefore;
      const reset = resetAt as NonNullable<typeof resetAt>;
      const timeline = (events: PathEvent[]) => events.map((e) => `${e.path} +${e.at - reset.at} ms`).join(', ');
      console.log(
        `${N} each way in ${doneAt - started} ms; reset when the sidecar had received ${reset.sidecarGot}/${N} ` +
          `and sent ${reset.sidecarSent}/${N}, the browser had received ${browserGotAtReset}/${N}; after the ` +
          `reset: sidecar ${timeline(sidecarSince)}; browser ${timeline(browserSince)}; the relay routed ` +
          `${relayed} application envelopes`,
      );
      expect(sequence(sidecarSince, browserId)).toEqual(['relay', 'direct']);
      expect(sequence(browserSince, sidecar.deviceId)).toEqual(['relay', 'direct']);
      // The reset landed mid-stream in both directions, and the relay carried part of the rest.
      expect(reset.sidecarGot).toBeLessThan(N);
      expect(reset.sidecarSent).toBeLessThan(N);
      expect(browserGotAtReset).toBeLessThan(N);
      expect(relayed).toBeGreaterThan(0);

      // Let any late duplicate arrive before the exactly-once check.
      await new Promise((r) => setTimeout(r, 500));
      expect(browserNumbered()).toEqual(range(N));
      expect(numbers(await page.evaluate((from) => direct.received(from), fromSidecar), 'sidecar')).toEqual(range(N));
      expect(await page.evaluate(() => direct.errors())).toEqual([]);
      expect(sidecarErrors).toEqual([]);
      expect(pageErrors).toEqual([]);
    } finally {
      sidecar.events.off('message', onMessage);
      // Awaited above; a failure before that must not become an unhandled rejection.
      for (const p of sends) p.catch(() => {});
    }
  }, 120_000);
});

function logged(m: IncomingMessage): { from: string | null; n: number | null } {
  const p = m.payload as { from?: string; n?: number };
  return { from: p.from ?? null, n: typeof p.n === 'number' ? p.n : null };
}
