/**
 * The traffic phases, interleaved: both servers run side by side and the measured counts are split into rounds that
 * alternate between them (baseline, relay, baseline, relay, …), so drift on the machine (a noisy neighbour, CPU
 * frequency, client JIT state) lands on both targets alike instead of on whichever ran first.
 */
import { pairDevice, registerDevice } from '@oppie/test-kit';
import type { ServerChild } from './child.js';
import { baselineDevices } from './devices.js';
import { measureEcho, measureThroughput, payloadFor, type ThroughputResult } from './measure.js';
import type { BenchOptions, TargetKind } from './options.js';
import { type BenchDevice, BenchPeer, openSocket } from './peers.js';
import type { Results } from './report.js';
import { summarize } from './stats.js';

interface Session {
  readonly kind: TargetKind;
  readonly server: ServerChild;
  readonly a: BenchPeer;
  readonly b: BenchPeer;
}

/** Warm-up of every round after the first: enough to refill caches after the other target's turn. */
const ROUND_WARMUP = { latency: 50, throughput: 1_000 };

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function pairOfDevices(server: ServerChild): Promise<[BenchDevice, BenchDevice]> {
  if (server.kind === 'baseline') {
    const [a, b] = baselineDevices(2, 'bench-echo');
    return [a as BenchDevice, b as BenchDevice];
  }
  const sidecar = await registerDevice(server.url, 'bench-a');
  const pwa = await pairDevice(server.url, sidecar.token, 'bench-b');
  return [sidecar, pwa];
}

async function openSession(server: ServerChild): Promise<Session> {
  const target = { kind: server.kind, url: server.url };
  const [da, db] = await pairOfDevices(server);
  const acks = server.kind === 'relay';
  const a = new BenchPeer(await openSocket(target, da), da.deviceId, acks);
  const b = new BenchPeer(await openSocket(target, db), db.deviceId, acks);
  return { kind: server.kind, server, a, b };
}

function addUp(parts: readonly ThroughputResult[]): ThroughputResult {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const seconds = parts.reduce((n, p) => n + p.seconds, 0);
  const bytes = parts.reduce((n, p) => n + p.bytes, 0);
  const server = parts.every((p) => p.serverCpuSeconds !== undefined)
    ? parts.reduce((n, p) => n + (p.serverCpuSeconds as number), 0)
    : undefined;
  return {
    count,
    seconds,
    bytes,
    msgsPerSecond: count / seconds,
    mbPerSecond: bytes / seconds / 1e6,
    serverCpuSeconds: server,
    clientCpuSeconds: parts.reduce((n, p) => n + p.clientCpuSeconds, 0),
  };
}

/**
 * Runs the latency and throughput phases for every target, filling `results`. A target whose setup or phase fails
 * records the error and drops out of the remaining rounds.
 */
export async function runTraffic(
  opts: BenchOptions,
  results: Results,
  spawn: (kind: TargetKind) => Promise<ServerChild>,
  log: (line: string) => void,
): Promise<void> {
  const sessions: Session[] = [];
  const servers: ServerChild[] = [];
  try {
    for (const kind of opts.targets) {
      const out = results[kind] as NonNullable<Results[TargetKind]>;
      try {
        const server = await spawn(kind);
        servers.push(server);
        sessions.push(await openSession(server));
      } catch (err) {
        out.errors.latency = `setup: ${errorText(err)}`;
      }
    }
    const payload = payloadFor(opts.envelopeBytes);
    const rounds = Math.max(1, opts.rounds);
    const samples = new Map<TargetKind, number[]>();
    const parts = new Map<TargetKind, ThroughputResult[]>();
    const live = (phase: 'latency' | 'throughput') =>
      sessions.filter(
        (s) => results[s.kind]?.errors[phase] === undefined && results[s.kind]?.errors.latency === undefined,
      );

    if (opts.phases.includes('latency')) {
      const perRound = Math.ceil(opts.latencyCount / rounds);
      log(`echo latency: ${rounds} rounds x ${perRound} per target, ${opts.latencyWarmup} warm-up`);
      for (let r = 0; r < rounds; r++) {
        for (const s of live('latency')) {
          try {
            const rtts = await measureEcho(s.a, s.b, {
              warmup: r === 0 ? opts.latencyWarmup : ROUND_WARMUP.latency,
              count: perRound,
              payload,
              perMessageTimeoutMs: 5_000,
              deadlineMs: 300_000,
            });
            samples.set(s.kind, [...(samples.get(s.kind) ?? []), ...rtts]);
          } catch (err) {
            (results[s.kind] as NonNullable<Results[TargetKind]>).errors.latency = errorText(err);
          }
        }
      }
      for (const [kind, rtts] of samples) {
        const out = results[kind] as NonNullable<Results[TargetKind]>;
        if (out.errors.latency === undefined) out.latency = summarize(rtts);
      }
    }

    if (opts.phases.includes('throughput')) {
      const perRound = Math.ceil(opts.throughputCount / rounds);
      log(
        `throughput: ${rounds} rounds x ${perRound} per target, window ${opts.window}, ${opts.throughputWarmup} warm-up`,
      );
      for (let r = 0; r < rounds; r++) {
        for (const s of live('throughput')) {
          try {
            const part = await measureThroughput(s.a, s.b, {
              warmup: r === 0 ? opts.throughputWarmup : ROUND_WARMUP.throughput,
              count: perRound,
              window: opts.window,
              payload,
              stallMs: 10_000,
              deadlineMs: 600_000,
              serverCpuSeconds: () => s.server.cpuSeconds(),
            });
            parts.set(s.kind, [...(parts.get(s.kind) ?? []), part]);
          } catch (err) {
            (results[s.kind] as NonNullable<Results[TargetKind]>).errors.throughput = errorText(err);
          }
        }
      }
      for (const [kind, list] of parts) {
        const out = results[kind] as NonNullable<Results[TargetKind]>;
        if (out.errors.throughput === undefined) out.throughput = addUp(list);
      }
    }
  } finally {
    for (const s of sessions) {
      s.a.close();
      s.b.close();
    }
    await Promise.all(servers.map((s) => s.close()));
  }
}
