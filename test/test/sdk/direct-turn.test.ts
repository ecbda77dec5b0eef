/**
 * The data channel through a real coturn with relay-minted credentials: forced relay (`iceTransportPolicy: 'relay'`)
 * over UDP and over TCP, expired credentials refreshed from the relay, and a wrong TURN secret reported as
 * `turn_auth` while every message still flows over the relay.
 */
import { createRequire } from 'node:module';
import type { ClientEvents, OppieClient, RtcImplementation } from '@oppie/client-sdk';
import { turnCredential } from '@oppie/relay';
import { startWsMitm, type WsMitm } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { requireBinary } from '../relay/require-binary.js';
import { type Coturn, startCoturn } from '../turn/coturn.js';
import { pairedClients, perTest } from './sdk-fixture.js';

const rtc = createRequire(import.meta.url)('@roamhq/wrtc') as RtcImplementation;
const SECRET = 'coturn-and-relay-share-this';
const hasCoturn = requireBinary('turnserver', 'apt-get install coturn');

let coturn: Coturn | undefined;
let mitm: WsMitm | undefined;
// Registered first, so it runs after the relay and the clients are closed (vitest runs after-hooks in reverse).
afterEach(async () => {
  await mitm?.close();
  mitm = undefined;
  await coturn?.stop();
  coturn = undefined;
});
const env = perTest();

function until<T>(what: string, ms: number, check: () => T | undefined, detail = () => ''): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const v = check();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > ms)
        return reject(new Error(`timed out after ${ms} ms waiting for ${what} ${detail()}${coturn?.log() ?? ''}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

const forcedRelay = { platform: { rtc }, direct: { iceTransportPolicy: 'relay' as const, upgradeTimeoutMs: 8_000 } };

function record(c: OppieClient) {
  const paths: ClientEvents['path'][] = [];
  const upgrades: ClientEvents['upgrade'][] = [];
  c.events.on('path', (e) => paths.push(e));
  c.events.on('upgrade', (e) => upgrades.push(e));
  return { paths, upgrades };
}

async function exchange(a: OppieClient, b: OppieClient, n: number): Promise<void> {
  const got: number[] = [];
  b.events.on('chat', (m) => got.push((m.payload as { n: number }).n));
  await Promise.all(Array.from({ length: n }, (_, i) => a.send('chat', { n: i })));
  expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
}

/** A man in the middle that rewrites every welcome's TURN credentials to ones that expired a minute ago. */
async function expiringWelcomes(url: string): Promise<WsMitm> {
  const m = await startWsMitm(url);
  m.setTamper((direction, text) => {
    if (direction !== 'toDevice' || !text.includes('"welcome"')) return [text];
    const w = JSON.parse(text) as { payload: { iceServers: Array<Record<string, unknown>>; iceExpiresAt: number } };
    const expiredAt = Math.floor(Date.now() / 1000) - 60;
    w.payload.iceServers = w.payload.iceServers.map((s) => {
      if (typeof s.username !== 'string') return s;
      const deviceId = s.username.slice(s.username.indexOf(':') + 1);
      return { ...s, ...turnCredential(SECRET, deviceId, expiredAt) };
    });
    w.payload.iceExpiresAt = expiredAt * 1000;
    return [JSON.stringify(w)];
  });
  return m;
}

describe.skipIf(!hasCoturn)('direct path through a real coturn', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`forced relay over TURN/${transport}: the path is turn with relayProtocol ${transport}`, async () => {
      coturn = await startCoturn(SECRET);
      const t = await env.relay({
        turnUrls: `turn:127.0.0.1:${coturn.port}?transport=${transport}`,
        turnSecrets: SECRET,
      });
      const { sidecar, phone } = await pairedClients(t.url, { sidecar: forcedRelay, phone: forcedRelay });
      env.defer(
        () => sidecar.close(),
        () => phone.close(),
      );
      const s = record(sidecar);
      const p = record(phone);
      await until('both sides on turn', 20_000, () =>
        sidecar.pathTo(phone.deviceId) === 'turn' && phone.pathTo(sidecar.deviceId) === 'turn' ? true : undefined,
      );
      expect(s.paths.at(-1)).toEqual({ peer: phone.deviceId, path: 'turn', relayProtocol: transport });
      expect(p.paths.at(-1)).toEqual({ peer: sidecar.deviceId, path: 'turn', relayProtocol: transport });
      await exchange(phone, sidecar, 200);
      await exchange(sidecar, phone, 200);
      const metrics = await (await fetch(`${t.url}/api/metrics`)).text();
      expect(metrics).toMatch(/oppie_relay_transport_reports_total\{path="turn",outcome="upgraded"\} 1\b/);
      expect(metrics).toMatch(/oppie_relay_sessions_by_path\{path="turn"\} 1\b/);
    }, 60_000);
  }

  it('refreshes expired TURN credentials from the relay before an attempt', async () => {
    coturn = await startCoturn(SECRET);
    const t = await env.relay({ turnUrls: `turn:127.0.0.1:${coturn.port}?transport=udp`, turnSecrets: SECRET });
    // The phone's welcome arrives with credentials that expired a minute ago, as after a long sleep.
    mitm = await expiringWelcomes(t.url);
    const credentialFetches: string[] = [];
    const countingFetch: typeof fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes('/api/turn/credentials')) credentialFetches.push(url);
      return fetch(input, init);
    };
    const { sidecar, phone } = await pairedClients(mitm.url, {
      sidecar: { ...forcedRelay, relayUrl: t.url },
      phone: { ...forcedRelay, platform: { rtc, fetch: countingFetch } },
    });
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    await until('the phone on turn', 20_000, () => (phone.pathTo(sidecar.deviceId) === 'turn' ? true : undefined));
    expect(credentialFetches.length).toBeGreaterThanOrEqual(1);
    await exchange(phone, sidecar, 50);
  }, 60_000);

  it('answers an offer whose candidates arrive while it fetches fresh credentials: none is dropped', async () => {
    coturn = await startCoturn(SECRET);
    const t = await env.relay({ turnUrls: `turn:127.0.0.1:${coturn.port}?transport=udp`, turnSecrets: SECRET });
    // Both welcomes carry expired credentials and every fetch of fresh ones takes 400 ms, so the answering side gets
    // the offer and the offer's candidates while it waits. Under policy `relay` a candidate it dropped is a TURN
    // permission it never installs: the dialer's checks would not get through and the attempt would time out.
    mitm = await expiringWelcomes(t.url);
    const fetches = new Map<string, number>();
    const slowFetch =
      (who: string): typeof fetch =>
      async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        if (url.includes('/api/turn/credentials')) {
          fetches.set(who, (fetches.get(who) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 400));
        }
        return fetch(input, init);
      };
    const { sidecar, phone } = await pairedClients(mitm.url, {
      sidecar: { ...forcedRelay, platform: { rtc, fetch: slowFetch('sidecar') } },
      phone: { ...forcedRelay, platform: { rtc, fetch: slowFetch('phone') } },
    });
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    const answerer = sidecar.deviceId < phone.deviceId ? 'phone' : 'sidecar';
    await until('both on turn', 20_000, () =>
      phone.pathTo(sidecar.deviceId) === 'turn' && sidecar.pathTo(phone.deviceId) === 'turn' ? true : undefined,
    );
    // One fetch for the answer, however many signals came during it.
    expect(fetches.get(answerer)).toBe(1);
    await exchange(phone, sidecar, 50);
  }, 60_000);

  it('a wrong TURN secret: turn_auth in the metrics, the pair stays on the relay, nothing is lost', async () => {
    coturn = await startCoturn(SECRET);
    const t = await env.relay({
      turnUrls: `turn:127.0.0.1:${coturn.port}?transport=udp`,
      turnSecrets: 'not-what-coturn-has',
    });
    // An upgrade timer far beyond the wait below: an outcome within it can only be the early exit on the 401.
    const patient = { ...forcedRelay, direct: { iceTransportPolicy: 'relay' as const, upgradeTimeoutMs: 120_000 } };
    const { sidecar, phone } = await pairedClients(t.url, { sidecar: patient, phone: patient });
    env.defer(
      () => sidecar.close(),
      () => phone.close(),
    );
    const dialer = sidecar.deviceId < phone.deviceId ? sidecar : phone;
    const d = record(dialer);
    await until('a turn_auth outcome', 15_000, () => (d.upgrades.length > 0 ? true : undefined));
    expect(d.upgrades[0]?.outcome).toBe('turn_auth');
    expect(sidecar.pathTo(phone.deviceId)).toBe('relay');
    expect(phone.pathTo(sidecar.deviceId)).toBe('relay');
    await exchange(phone, sidecar, 100);
    await exchange(sidecar, phone, 100);
    const metrics = await (await fetch(`${t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_transport_reports_total\{path="relay",outcome="turn_auth"\} [1-9]/);
    expect(metrics).not.toMatch(/outcome="upgraded"/);
  }, 60_000);
});
