/**
 * What the sender's durable outbox costs a message: a sidecar sends messages one at a time (each `send()` awaited,
 * so it settles on the phone's end-to-end receipt, as in a conversation) over the relay, once on a MemoryStore and
 * once on sidecar-sdk's FileStore (a temporary directory: the store a deployed sidecar has). It reports the time per
 * message and the outbox's storage calls per message (frame writes, counter writes, deletes), counted by a wrapper
 * around the sidecar's store.
 *
 * Usage: `npm run bench:outbox` (`-- --messages N`, default 300; `--bytes N` per message, default 1024).
 * Run by hand; results go to bench/RESULTS.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type KeyValueStore, MemoryStore } from '@oppie/client-sdk';
import { FileStore } from '@oppie/sidecar-sdk';
import { spawnServer } from './child.js';
import { relayOverridesJson } from './relay-overrides.js';
import { machineInfo } from './report.js';
import { benchClient } from './sdk-client.js';
import { fmt, quantile, table } from './stats.js';

/** Storage calls on the outbox's keys, by kind. */
interface Calls {
  frames: number;
  counters: number;
  deletes: number;
}

/** `store` with its outbox calls counted in `calls` (the other keys pass through uncounted). */
function counted(store: KeyValueStore, calls: Calls): KeyValueStore {
  const kind = (key: string) => (key.startsWith('outbox/n/') ? 'counters' : 'frames');
  const outbox = (key: string) => key.startsWith('outbox/');
  return {
    get: (key) => store.get(key),
    keys: (prefix) => store.keys(prefix),
    set: (key, value) => {
      if (outbox(key)) calls[kind(key)] += 1;
      return store.set(key, value);
    },
    delete: (key) => {
      if (outbox(key)) calls.deletes += 1;
      return store.delete(key);
    },
    ...(store.setBytes !== undefined &&
      store.getBytes !== undefined && {
        getBytes: (key: string) => store.getBytes?.(key) ?? Promise.resolve(undefined),
        setBytes: (key: string, value: Uint8Array) => {
          if (outbox(key)) calls[kind(key)] += 1;
          return store.setBytes?.(key, value) ?? Promise.resolve();
        },
      }),
  };
}

interface StoreRun {
  readonly store: string;
  readonly ms: readonly number[];
  readonly calls: Calls;
  readonly messages: number;
}

/** Pairs a sidecar on `storage` with a phone, then times `messages` sends one at a time. */
async function run(url: string, name: string, storage: KeyValueStore, messages: number, bytes: number) {
  const calls: Calls = { frames: 0, counters: 0, deletes: 0 };
  const sidecar = await benchClient(url, 'sidecar', counted(storage, calls));
  const phone = await benchClient(url, 'pwa', new MemoryStore());
  try {
    await sidecar.register();
    await sidecar.connect();
    const offer = await sidecar.createPairing();
    await Promise.all([phone.pair(offer.link), offer.completed]);
    let handed = 0;
    phone.events.on('chat', () => {
      handed += 1;
    });
    const text = 'x'.repeat(bytes);
    for (let i = 0; i < 20; i++) await sidecar.send('chat', { text, i }); // warm-up, not counted
    Object.assign(calls, { frames: 0, counters: 0, deletes: 0 });
    const ms: number[] = [];
    for (let i = 0; i < messages; i++) {
      const t0 = performance.now();
      await sidecar.send('chat', { text, i });
      ms.push(performance.now() - t0);
    }
    // A send settles on its receipt, which a duplicate gets too: count what the phone's app was handed.
    if (handed !== 20 + messages) throw new Error(`the phone was handed ${handed} of ${20 + messages} messages`);
    return { store: name, ms: ms.sort((a, b) => a - b), calls: { ...calls }, messages };
  } finally {
    await Promise.all([sidecar.close(), phone.close()]);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { messages: { type: 'string', default: '300' }, bytes: { type: 'string', default: '1024' } },
  });
  const messages = Number(values.messages);
  const bytes = Number(values.bytes);
  if (!Number.isSafeInteger(messages) || messages < 1 || messages > 100_000)
    throw new Error(`--messages must be an integer from 1 to 100000, got ${values.messages}`);
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > 1_000_000)
    throw new Error(`--bytes must be an integer from 1 to 1000000, got ${values.bytes}`);
  const info = machineInfo();
  console.log(
    `outbox bench: ${info.nproc} CPU (${info.cpu}), node ${info.node}, ${info.date}; ${messages} messages of ` +
      `${bytes} bytes, one at a time, sidecar -> phone over the relay (a child process on 127.0.0.1, rate limits lifted)`,
  );
  // Lifted rate limits: at 200 envelopes a second (the default) the relay, not the store, would pace a fast run.
  const relay = await spawnServer('relay', { BENCH_RELAY_OVERRIDES: relayOverridesJson() });
  const dir = await mkdtemp(join(tmpdir(), 'oppie-outbox-bench-'));
  try {
    const runs: StoreRun[] = [];
    runs.push(await run(relay.url, 'MemoryStore', new MemoryStore(), messages, bytes));
    runs.push(await run(relay.url, `FileStore (in ${tmpdir()})`, new FileStore(dir), messages, bytes));
    const per = (n: number, r: StoreRun) => fmt(n / r.messages, 2);
    console.log(
      table(
        ['sidecar store', 'ms a message p50', 'p95', 'frame writes', 'counter writes', 'deletes'],
        runs.map((r) => [
          r.store,
          fmt(quantile(r.ms, 0.5), 2),
          fmt(quantile(r.ms, 0.95), 2),
          per(r.calls.frames, r),
          per(r.calls.counters, r),
          per(r.calls.deletes, r),
        ]),
      ),
    );
    console.log("(storage calls on the outbox's keys per message, counted after 20 unmeasured messages)");
  } finally {
    await rm(dir, { recursive: true, force: true });
    await relay.close();
  }
}

await main();
