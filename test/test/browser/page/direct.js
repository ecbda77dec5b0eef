// The PWA side of the WebRTC direct path test (webrtc.test.ts), driven through `window.direct`: the browser bundle
// with IndexedDB storage and the browser's own RTCPeerConnection. Everything the client reports (messages, `path`
// and `upgrade` events, errors) is kept in memory with a timestamp, and path/upgrade/error events also go to the
// console so a failing run shows them in the test output.
import { attachBrowserLifecycle, browserPlatform, OppieClient } from './oppie-client.js';

const DB_NAME = 'oppie-direct-test';

let client;
const received = [];
const paths = [];
const upgrades = [];
const errors = [];

function record(m) {
  const p = m.payload ?? {};
  received.push({ type: m.type, from: p.from ?? null, n: typeof p.n === 'number' ? p.n : null, payload: p });
}

window.direct = {
  /**
   * Opens the client (a fresh identity) with the given direct-path options; `retryMs` becomes a fixed retry delay.
   */
  async start(relayUrl, opts = {}) {
    const { retryMs, ...direct } = opts;
    client = await OppieClient.create({
      relayUrl,
      role: 'pwa',
      name: 'chromium',
      platform: browserPlatform({ dbName: DB_NAME }),
      direct: retryMs === undefined ? direct : { ...direct, retry: { nextDelayMs: () => retryMs } },
    });
    attachBrowserLifecycle(client);
    client.events.on('message', record);
    client.events.on('path', (e) => {
      paths.push({ ...e, at: Date.now() });
      console.log(`path: ${JSON.stringify(e)}`);
    });
    client.events.on('upgrade', (e) => {
      upgrades.push({ ...e, at: Date.now() });
      console.log(`upgrade: ${JSON.stringify(e)}`);
    });
    client.events.on('error', (e) => {
      errors.push(`${e.code}: ${e.message}`);
      console.log(`error event: ${e.code}: ${e.message}`);
    });
    document.getElementById('status').textContent = 'started';
    return { deviceId: client.deviceId, hasRtc: typeof RTCPeerConnection === 'function' };
  },
  async pair(link) {
    const r = await client.pair(link);
    return { deviceId: r.deviceId, sas: r.sas };
  },
  async send(type, payload) {
    await client.send(type, payload);
  },
  /** Sends chat {from: 'browser', n} for n in [0, count) without waiting: the outbox takes them over. */
  sendNumbered(count) {
    for (let n = 0; n < count; n++) client.send('chat', { from: 'browser', n }).catch((e) => errors.push(String(e)));
  },
  /** What arrived, from index `from` on (the numbered stream is long: poll counts, fetch the log once). */
  received: (from = 0) => received.slice(from),
  receivedCount: () => received.length,
  numberedCount: () => received.filter((e) => e.n !== null).length,
  paths: () => paths,
  upgrades: () => upgrades,
  pathTo: (peer) => client.pathTo(peer),
  resetPath: (peer) => client.resetPath(peer),
  errors: () => errors,
  close: () => client?.close(),
};
