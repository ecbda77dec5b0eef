/**
 * A fault-injecting TCP proxy for tests: it forwards 127.0.0.1 connections to a target port and, driven by a seeded
 * generator, cuts connections after a random number of bytes, delays chunks, or blackholes a connection for a while
 * before cutting it. The same seed gives the same fault plan, so a failing run can be replayed from its seed.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** mulberry32: a tiny, fast, seedable PRNG (test use only). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultPlan {
  /** Probability that a connection is cut after a random number of bytes. Default 0.5. */
  readonly cutProbability?: number;
  /** Bytes (both directions) before a cut: uniform in this range. Default [300, 30_000]. */
  readonly cutAfterBytes?: readonly [number, number];
  /** Probability that a chunk is delayed (1-5 ms). Default 0.2. */
  readonly delayProbability?: number;
  /** Probability that a connection goes silent (blackhole) for `blackholeMs`, then is cut. Default 0.1. */
  readonly blackholeProbability?: number;
  readonly blackholeMs?: number;
}

export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  /** Connections cut, delayed chunks, blackholes so far (for the test's log line). */
  readonly stats: { connections: number; cuts: number; delays: number; blackholes: number };
  /** Stops injecting faults: later connections pass through untouched. */
  calm(): void;
  close(): Promise<void>;
}

/**
 * @example
 * const proxy = await startFaultProxy(relayPort, seed);
 * const client = await OppieClient.create({ relayUrl: proxy.url, ... });
 */
export async function startFaultProxy(targetPort: number, seed: number, plan: FaultPlan = {}): Promise<FaultProxy> {
  const random = seededRandom(seed);
  const sockets = new Set<Socket>();
  const stats = { connections: 0, cuts: 0, delays: 0, blackholes: 0 };
  let calm = false;
  const [lo, hi] = plan.cutAfterBytes ?? [300, 30_000];
  const server: Server = createServer((client) => {
    stats.connections++;
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const cutAt = !calm && random() < (plan.cutProbability ?? 0.5) ? lo + Math.floor(random() * (hi - lo)) : Infinity;
    const blackhole = !calm && random() < (plan.blackholeProbability ?? 0.1);
    let moved = 0;
    let dead = false;
    const kill = () => {
      if (dead) return;
      dead = true;
      client.destroy();
      upstream.destroy();
    };
    if (blackhole) {
      stats.blackholes++;
      const timer = setTimeout(kill, plan.blackholeMs ?? 1_500);
      timer.unref();
    }
    const pipe = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (dead) return;
        if (blackhole && moved > 0) return; // after the first bytes, swallow everything until the cut
        moved += chunk.length;
        if (moved >= cutAt) {
          stats.cuts++;
          to.write(chunk.subarray(0, Math.max(0, chunk.length - (moved - cutAt))));
          kill();
          return;
        }
        if (!calm && random() < (plan.delayProbability ?? 0.2)) {
          stats.delays++;
          from.pause();
          setTimeout(
            () => {
              if (!dead) to.write(chunk);
              from.resume();
            },
            1 + Math.floor(random() * 5),
          ).unref();
          return;
        }
        to.write(chunk);
      });
      from.on('error', kill);
      from.on('close', () => {
        sockets.delete(from);
        kill();
      });
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    calm() {
      calm = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
