/**
 * The two traffic measurements: serial echo latency and windowed throughput, between two peers A and B over one
 * server. Both fail fast (error frame, close, stall) and are bounded by a count and a deadline.
 */
import { randomBytes } from 'node:crypto';
import type { BenchPeer } from './peers.js';

/** A base64url payload sized so that the whole chat envelope is about `envelopeBytes` long. */
export function payloadFor(envelopeBytes: number): string {
  const overhead = 150; // type, id, timestamp, to, metadata: measured on a typical bench envelope
  const chars = Math.max(16, envelopeBytes - overhead);
  return randomBytes(Math.ceil((chars * 3) / 4))
    .toString('base64url')
    .slice(0, chars);
}

export interface LatencyOptions {
  readonly warmup: number;
  readonly count: number;
  readonly payload: string;
  /** Limit for one round trip. */
  readonly perMessageTimeoutMs: number;
  /** Limit for the whole phase. */
  readonly deadlineMs: number;
}

/**
 * Serial echo: A sends to B, B echoes the payload back to A, A sends the next once the echo is in.
 * Returns the round-trip times of the measured (post warm-up) messages, in microseconds.
 */
export async function measureEcho(a: BenchPeer, b: BenchPeer, opts: LatencyOptions): Promise<number[]> {
  const tag = randomBytes(3).toString('hex');
  b.onRouted = (env) => {
    b.send(`r-${env.id}`, a.deviceId, env.payload);
  };
  let pending: { id: string; resolve: () => void } | undefined;
  let failure: Error | undefined;
  let rejectCurrent: ((err: Error) => void) | undefined;
  const fail = (message: string) => {
    failure ??= new Error(message);
    rejectCurrent?.(failure);
  };
  a.onFailure = fail;
  b.onFailure = fail;
  a.onRouted = (env) => {
    if (pending !== undefined && env.id === `r-${pending.id}`) pending.resolve();
  };
  const rtts: number[] = [];
  const deadline = Date.now() + opts.deadlineMs;
  const total = opts.warmup + opts.count;
  for (let i = 0; i < total; i++) {
    if (failure) throw failure;
    if (Date.now() > deadline) throw new Error(`echo: deadline of ${opts.deadlineMs} ms passed at ${i}/${total}`);
    const id = `l-${tag}-${i}`;
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`echo: no echo of ${id} within ${opts.perMessageTimeoutMs} ms`)),
        opts.perMessageTimeoutMs,
      );
      rejectCurrent = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      pending = {
        id,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      a.send(id, b.deviceId, opts.payload);
    });
    if (i >= opts.warmup) rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  pending = undefined;
  return rtts;
}

export interface ThroughputOptions {
  readonly warmup: number;
  readonly count: number;
  /** Envelopes sent by A and not yet received by B. */
  readonly window: number;
  readonly payload: string;
  /** A batch fails when nothing arrives for this long. */
  readonly stallMs: number;
  readonly deadlineMs: number;
  /** Reads the server's CPU time (seconds), to tell whose core saturated. */
  readonly serverCpuSeconds?: () => Promise<number>;
}

export interface ThroughputResult {
  readonly count: number;
  readonly seconds: number;
  readonly bytes: number;
  readonly msgsPerSecond: number;
  readonly mbPerSecond: number;
  /** CPU seconds the server used during the measured batch, when it could be read. */
  readonly serverCpuSeconds: number | undefined;
  /** CPU seconds this (client) process used during the measured batch. */
  readonly clientCpuSeconds: number;
}

/**
 * A streams to B with at most `window` envelopes in flight (sent, not yet received by B; B acknowledges each to the
 * relay). Measures the `count` envelopes after a warm-up batch.
 */
export async function measureThroughput(
  a: BenchPeer,
  b: BenchPeer,
  opts: ThroughputOptions,
): Promise<ThroughputResult> {
  const tag = randomBytes(3).toString('hex');
  a.onRouted = () => {};
  await batch(a, b, `w-${tag}`, opts.warmup, opts);
  const server0 = await opts.serverCpuSeconds?.();
  const client0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const bytes = await batch(a, b, `t-${tag}`, opts.count, opts);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const client = process.cpuUsage(client0);
  const server1 = await opts.serverCpuSeconds?.();
  return {
    count: opts.count,
    seconds,
    bytes,
    msgsPerSecond: opts.count / seconds,
    mbPerSecond: bytes / seconds / 1e6,
    serverCpuSeconds: server0 === undefined || server1 === undefined ? undefined : server1 - server0,
    clientCpuSeconds: (client.user + client.system) / 1e6,
  };
}

function batch(a: BenchPeer, b: BenchPeer, prefix: string, n: number, opts: ThroughputOptions): Promise<number> {
  if (n === 0) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let received = 0;
    let bytes = 0;
    let lastReceived = 0;
    const finish = (err?: Error) => {
      clearInterval(watchdog);
      clearTimeout(deadline);
      b.onRouted = () => {};
      if (err) reject(err);
      else resolve(bytes);
    };
    const pump = () => {
      while (sent < n && sent - received < opts.window) {
        bytes += a.send(`${prefix}-${sent}`, b.deviceId, opts.payload);
        sent += 1;
      }
    };
    b.onRouted = () => {
      received += 1;
      if (received === n) finish();
      else pump();
    };
    a.onFailure = (m) => finish(new Error(m));
    b.onFailure = (m) => finish(new Error(m));
    const watchdog = setInterval(() => {
      if (received === lastReceived) {
        finish(new Error(`throughput: stalled at ${received}/${n} received (${sent} sent) for ${opts.stallMs} ms`));
      }
      lastReceived = received;
    }, opts.stallMs);
    const deadline = setTimeout(
      () => finish(new Error(`throughput: deadline of ${opts.deadlineMs} ms passed at ${received}/${n}`)),
      opts.deadlineMs,
    );
    pump();
  });
}
