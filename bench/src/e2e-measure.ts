/**
 * One windowed stream over a {@link StreamPath}: at most `window` messages sent and not yet settled (plaintext:
 * received by B; SDK: `send()` resolved by the peer's end-to-end receipt). Records, per message, the delivery latency
 * (send call -> receiver has it, one way, one clock) and the settle latency (send call -> window slot freed).
 * Bounded by a count, a stall watchdog and a deadline; fails on out-of-order delivery or any path failure.
 */
import { indexedPayload, type StreamPath } from './e2e-paths.js';

export interface StreamOptions {
  readonly count: number;
  readonly window: number;
  readonly filler: string;
  /** Added to message indices so a path never sees the same index twice. */
  readonly firstIndex: number;
  readonly stallMs: number;
  readonly deadlineMs: number;
  readonly serverCpuSeconds?: () => Promise<number>;
}

export interface StreamResult {
  readonly count: number;
  readonly seconds: number;
  /** Application payload bytes. */
  readonly bytes: number;
  /** Microseconds, per message. */
  readonly delivery: Float64Array;
  readonly settle: Float64Array;
  /** CPU of the bench process: both ends, or only the sender with `--split`. */
  readonly clientCpuSeconds: number;
  /** CPU of the receiving end's own process (`--split`). */
  readonly receiverCpuSeconds: number | undefined;
  readonly serverCpuSeconds: number | undefined;
}

export async function measureStream(path: StreamPath, opts: StreamOptions): Promise<StreamResult> {
  const n = opts.count;
  const sentAt = new Float64Array(n);
  const delivery = new Float64Array(n);
  const settle = new Float64Array(n);
  const server0 = await opts.serverCpuSeconds?.();
  const receiver0 = await path.receiverCpuSeconds?.();
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let settled = 0;
    let delivered = 0;
    let lastProgress = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearInterval(watchdog);
      clearTimeout(deadline);
      path.onDelivered = () => {};
      path.onSettled = () => {};
      path.onFailure = () => {};
      if (err) reject(err);
      else resolve();
    };
    const pump = () => {
      while (sent < n && sent - settled < opts.window) {
        sentAt[sent] = performance.now();
        path.send(opts.firstIndex + sent, indexedPayload(opts.firstIndex + sent, opts.filler));
        sent += 1;
      }
    };
    path.onDelivered = (index, at) => {
      const k = index - opts.firstIndex;
      if (k !== delivered) {
        finish(new Error(`${path.kind}: delivered message ${k} while expecting ${delivered} (out of order or lost)`));
        return;
      }
      delivery[k] = ((at ?? performance.now()) - (sentAt[k] as number)) * 1000;
      delivered += 1;
      if (delivered === n && settled === n) finish();
    };
    path.onSettled = (index) => {
      const k = index - opts.firstIndex;
      if (k < 0 || k >= n) {
        finish(new Error(`${path.kind}: settled unknown message ${index}`));
        return;
      }
      settle[k] = (performance.now() - (sentAt[k] as number)) * 1000;
      settled += 1;
      if (delivered === n && settled === n) finish();
      else pump();
    };
    path.onFailure = (m) => finish(new Error(m));
    const watchdog = setInterval(() => {
      const progress = settled + delivered;
      if (progress === lastProgress) {
        finish(
          new Error(
            `${path.kind}: stalled for ${opts.stallMs} ms at ${delivered} delivered, ${settled} settled, ${sent} sent of ${n}`,
          ),
        );
      }
      lastProgress = progress;
    }, opts.stallMs);
    const deadline = setTimeout(
      () => finish(new Error(`${path.kind}: deadline of ${opts.deadlineMs} ms passed at ${settled}/${n}`)),
      opts.deadlineMs,
    );
    pump();
  });
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  const server1 = await opts.serverCpuSeconds?.();
  const receiver1 = await path.receiverCpuSeconds?.();
  return {
    count: n,
    seconds,
    bytes: n * opts.filler.length,
    delivery,
    settle,
    clientCpuSeconds: (client.user + client.system) / 1e6,
    receiverCpuSeconds: receiver0 === undefined || receiver1 === undefined ? undefined : receiver1 - receiver0,
    serverCpuSeconds: server0 === undefined || server1 === undefined ? undefined : server1 - server0,
  };
}

/** Several rounds of one path and case, added up. */
export function addStreams(parts: readonly StreamResult[]): StreamResult {
  const concat = (pick: (p: StreamResult) => Float64Array) => {
    const out = new Float64Array(parts.reduce((n, p) => n + pick(p).length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(pick(p), o);
      o += pick(p).length;
    }
    return out;
  };
  const sum = (pick: (p: StreamResult) => number | undefined) =>
    parts.every((p) => pick(p) !== undefined) ? parts.reduce((n, p) => n + (pick(p) as number), 0) : undefined;
  return {
    count: parts.reduce((n, p) => n + p.count, 0),
    seconds: parts.reduce((n, p) => n + p.seconds, 0),
    bytes: parts.reduce((n, p) => n + p.bytes, 0),
    delivery: concat((p) => p.delivery),
    settle: concat((p) => p.settle),
    clientCpuSeconds: parts.reduce((n, p) => n + p.clientCpuSeconds, 0),
    receiverCpuSeconds: sum((p) => p.receiverCpuSeconds),
    serverCpuSeconds: sum((p) => p.serverCpuSeconds),
  };
}
