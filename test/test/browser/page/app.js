// The PWA under test: the browser bundle with IndexedDB storage, driven by chromium.test.ts through `window.app`.
// What it received is written to localStorage synchronously in the message handler, so a reload cannot hide a
// message the SDK delivered. Like a real app, it skips a message flagged `redelivered` whose id it already has (one
// handed over just before a reload), and counts such repeats; any other repeat shows in the log.
import { attachBrowserLifecycle, browserPlatform, IndexedDbStore, OppieClient } from './oppie-client.js';

const LOG_KEY = 'oppie-test/received';
const REPEATS_KEY = 'oppie-test/repeats';
const DB_NAME = 'oppie-browser-test';

let client;
let lastDiff;
let outboxWrites = 0;
const errors = [];

/** Counts outbox entries that reached IndexedDB: once counted, a message is the SDK's responsibility. */
function countingStore(inner) {
  return {
    get: (key) => inner.get(key),
    delete: (key) => inner.delete(key),
    keys: (prefix) => inner.keys(prefix),
    async set(key, value) {
      await inner.set(key, value);
      if (key.startsWith('outbox/e/')) outboxWrites += 1;
    },
  };
}

function record(m) {
  if (m.redelivered && received().some((e) => e.id === m.id)) {
    localStorage.setItem(REPEATS_KEY, String(repeats() + 1));
    return;
  }
  const p = m.payload ?? {};
  const entry = { type: m.type, id: m.id, from: p.from ?? null, n: typeof p.n === 'number' ? p.n : null };
  if (m.type === 'diff') {
    lastDiff = p;
    entry.bytes = typeof p.diff === 'string' ? p.diff.length : -1;
  }
  localStorage.setItem(LOG_KEY, `${localStorage.getItem(LOG_KEY) ?? ''}${JSON.stringify(entry)}\n`);
}

function repeats() {
  return Number(localStorage.getItem(REPEATS_KEY) ?? '0');
}

function received() {
  return (localStorage.getItem(LOG_KEY) ?? '')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

window.app = {
  /** Opens the client from IndexedDB (a fresh identity the first time) and reconnects if it is already paired. */
  async start(relayUrl) {
    const { storage } = browserPlatform({ dbName: DB_NAME });
    client = await OppieClient.create({
      relayUrl,
      role: 'pwa',
      name: 'chromium',
      platform: { storage: countingStore(storage) },
    });
    attachBrowserLifecycle(client);
    client.events.on('message', record);
    client.events.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
    if (client.peers().length > 0) await client.connect();
    document.getElementById('status').textContent = 'started';
    return { deviceId: client.deviceId, peers: client.peers().length };
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
    outboxWrites = 0;
    for (let n = 0; n < count; n++) client.send('chat', { from: 'browser', n }).catch((e) => errors.push(String(e)));
  },
  /** IndexedDbStore on its own: prefix listing, get/delete, and the error a failing database gives. */
  async storeCheck() {
    const store = new IndexedDbStore({ dbName: 'oppie-store-check' });
    for (const k of ['a/1', 'a/2', 'a\uffff', 'ab', 'b', '']) await store.set(k, `v:${k}`);
    const out = {
      slash: (await store.keys('a/')).sort(),
      a: (await store.keys('a')).sort(),
      high: await store.keys('a\uffff'),
      all: (await store.keys('')).length,
      got: await store.get('a/1'),
      missing: (await store.get('zz')) ?? null,
    };
    await store.delete('a/1');
    out.afterDelete = (await store.keys('a/')).sort();
    // Bytes: a view's own bytes only, a copy the caller's later writes do not reach, readable as text too.
    const wide = new Uint8Array([0x68, 0x69, 0x0a, 0xff, 0x21]);
    await store.setBytes('bin', wide.subarray(0, 4));
    wide.fill(0);
    const back = await store.getBytes('bin');
    out.bytes = { back: [...back], own: back.buffer.byteLength, text: (await store.get('a/2')) === 'v:a/2' };
    out.bytes.ofText = [...(await store.getBytes('b'))];
    out.bytes.asText = await store.get('bin').then((t) => t.slice(0, 3));
    out.bytes.missing = (await store.getBytes('zz')) ?? null;
    await store.delete('bin');
    store.close();
    const denied = {
      open() {
        throw new DOMException('storage denied', 'SecurityError');
      },
    };
    try {
      await new IndexedDbStore({ indexedDB: denied }).get('x');
      out.failure = null;
    } catch (e) {
      out.failure = { code: e.code, message: e.message, cause: e.cause?.name };
    }
    return out;
  },
  outboxWrites: () => outboxWrites,
  received,
  repeats,
  diff: () => lastDiff,
  errors: () => errors,
  state: () => client?.state,
};
