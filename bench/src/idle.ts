/**
 * Memory per idle connection: the server's RSS (after GC) before and after `devices.length` connections are open and
 * settled. The server runs in its own process, so the number is the server's alone.
 */
import type WebSocket from 'ws';
import type { ServerChild } from './child.js';
import { type BenchDevice, openSocket, type Target } from './peers.js';
import { runPool } from './pool.js';

export interface IdleOptions {
  readonly addresses: readonly string[];
  readonly concurrency: number;
  readonly connectTimeoutMs: number;
  /** Time given to presence fan-out and buffers to settle once all are connected. */
  readonly settleMs: number;
  readonly deadlineMs: number;
  readonly log: (line: string) => void;
}

export interface IdleResult {
  readonly connections: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly bytesPerConnection: number;
  readonly gcExposed: boolean;
  readonly connectSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function settledRss(server: ServerChild): Promise<{ rss: number; gc: boolean }> {
  const gc = await server.gc();
  await sleep(200);
  return { rss: await server.rss(), gc };
}

/**
 * @example
 * const r = await measureIdle(server, target, devices, { addresses, concurrency: 100, connectTimeoutMs: 10_000, settleMs: 3_000, deadlineMs: 600_000, log });
 */
export async function measureIdle(
  server: ServerChild,
  target: Target,
  devices: readonly BenchDevice[],
  opts: IdleOptions,
): Promise<IdleResult> {
  const before = await settledRss(server);
  const sockets: WebSocket[] = [];
  const started = Date.now();
  try {
    await runPool(
      devices.length,
      async (i) => {
        const device = devices[i] as BenchDevice;
        const addr = opts.addresses[i % opts.addresses.length];
        let ws: WebSocket;
        try {
          ws = await openSocket(target, device, addr, opts.connectTimeoutMs);
        } catch {
          // One retry: a single refused or slow upgrade among thousands should not void the whole measurement.
          ws = await openSocket(target, device, addr, opts.connectTimeoutMs);
        }
        ws.on('error', () => {});
        sockets.push(ws);
      },
      {
        concurrency: opts.concurrency,
        deadlineMs: opts.deadlineMs,
        label: `${target.kind} connect`,
        progressEvery: 2000,
        onProgress: (n) => opts.log(`  connected ${n}/${devices.length}`),
      },
    );
    const connectSeconds = (Date.now() - started) / 1000;
    await sleep(opts.settleMs);
    const closedEarly = sockets.filter((ws) => ws.readyState !== ws.OPEN).length;
    if (closedEarly > 0) throw new Error(`${closedEarly} of ${sockets.length} idle connections closed while settling`);
    const after = await settledRss(server);
    return {
      connections: sockets.length,
      rssBefore: before.rss,
      rssAfter: after.rss,
      bytesPerConnection: (after.rss - before.rss) / sockets.length,
      gcExposed: before.gc && after.gc,
      connectSeconds,
    };
  } finally {
    for (const ws of sockets) ws.terminate();
  }
}
