/**
 * The bench report: machine info, then one table of baseline vs relay with the ratios checked against the targets
 * (relay hop p50 <= 1.3x baseline, throughput >= 0.7x baseline, <= 11,000 bytes per idle connection).
 */
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import type { IdleResult } from './idle.js';
import type { ThroughputResult } from './measure.js';
import type { BenchOptions, TargetKind } from './options.js';
import { fmt, type LatencySummary, table } from './stats.js';

/** What one target produced; a phase that failed has its error instead. */
export interface TargetResult {
  /** Round-trip times of the serial echo, microseconds. */
  latency?: LatencySummary;
  throughput?: ThroughputResult;
  idle?: IdleResult;
  errors: Partial<Record<'latency' | 'throughput' | 'idle', string>>;
}

export type Results = Partial<Record<TargetKind, TargetResult>>;

export const TARGETS = {
  latencyP50Ratio: 1.3,
  throughputRatio: 0.7,
  bytesPerIdleConnection: 11_000,
} as const;

export function machineInfo() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    nproc: availableParallelism(),
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
  };
}

function ratioRow(
  name: string,
  base: number | undefined,
  relay: number | undefined,
  digits: number,
  check?: { target: string; pass: (ratio: number) => boolean },
): string[] {
  const ratio = base !== undefined && relay !== undefined ? relay / base : Number.NaN;
  const verdict = check === undefined || Number.isNaN(ratio) ? '' : check.pass(ratio) ? 'PASS' : 'FAIL';
  return [
    name,
    base === undefined ? '-' : fmt(base, digits),
    relay === undefined ? '-' : fmt(relay, digits),
    Number.isNaN(ratio) ? '-' : `${ratio.toFixed(2)}x`,
    check?.target ?? '',
    verdict,
  ];
}

function cpuPerEnvelope(t: ThroughputResult | undefined): number | undefined {
  return t?.serverCpuSeconds === undefined ? undefined : (t.serverCpuSeconds / t.count) * 1e6;
}

/** The results table (markdown). */
export function renderTable(results: Results): string {
  const b = results.baseline;
  const r = results.relay;
  const hop = (s: LatencySummary | undefined, k: 'p50' | 'p99') => (s === undefined ? undefined : s[k] / 2);
  const perConn = r?.idle?.bytesPerConnection;
  const rows = [
    ratioRow('hop latency p50 (µs)', hop(b?.latency, 'p50'), hop(r?.latency, 'p50'), 1, {
      target: `<= ${TARGETS.latencyP50Ratio}x`,
      pass: (x) => x <= TARGETS.latencyP50Ratio,
    }),
    ratioRow('hop latency p99 (µs)', hop(b?.latency, 'p99'), hop(r?.latency, 'p99'), 1),
    ratioRow('echo round trip p50 (µs)', b?.latency?.p50, r?.latency?.p50, 1),
    ratioRow('throughput (msgs/s)', b?.throughput?.msgsPerSecond, r?.throughput?.msgsPerSecond, 0, {
      target: `>= ${TARGETS.throughputRatio}x`,
      pass: (x) => x >= TARGETS.throughputRatio,
    }),
    ratioRow('throughput (MB/s)', b?.throughput?.mbPerSecond, r?.throughput?.mbPerSecond, 1),
    ratioRow('server CPU per envelope (µs)', cpuPerEnvelope(b?.throughput), cpuPerEnvelope(r?.throughput), 1),
    ratioRow('RSS per idle connection (B)', b?.idle?.bytesPerConnection, perConn, 0),
    [
      'relay RSS per idle conn vs target',
      '',
      perConn === undefined ? '-' : fmt(perConn, 0),
      '',
      `<= ${fmt(TARGETS.bytesPerIdleConnection)} B`,
      perConn === undefined ? '' : perConn <= TARGETS.bytesPerIdleConnection ? 'PASS' : 'FAIL',
    ],
  ];
  return table(['metric', 'baseline', 'relay', 'relay/baseline', 'target', 'result'], rows);
}

/** Details under the table: counts, RSS before/after, errors. */
export function renderDetails(results: Results, opts: BenchOptions): string {
  const lines: string[] = [];
  for (const [kind, res] of Object.entries(results) as Array<[TargetKind, TargetResult]>) {
    if (res.latency) {
      const l = res.latency;
      lines.push(
        `${kind}: echo RTT over ${l.count} (µs): p50 ${fmt(l.p50, 1)}, p90 ${fmt(l.p90, 1)}, p99 ${fmt(l.p99, 1)}, max ${fmt(l.max, 1)}`,
      );
    }
    if (res.throughput) {
      const t = res.throughput;
      const cpu = (s: number | undefined) =>
        s === undefined ? '-' : `${s.toFixed(2)} s (${fmt((s / t.seconds) * 100)}%)`;
      lines.push(
        `${kind}: ${fmt(t.count)} envelopes, window ${opts.window}, in ${t.seconds.toFixed(2)} s; CPU server ${cpu(t.serverCpuSeconds)}, client ${cpu(t.clientCpuSeconds)}`,
      );
    }
    if (res.idle) {
      const i = res.idle;
      lines.push(
        `${kind}: ${fmt(i.connections)} idle connections in ${i.connectSeconds.toFixed(1)} s; server RSS ${fmt(i.rssBefore / 2 ** 20, 1)} MiB -> ${fmt(i.rssAfter / 2 ** 20, 1)} MiB${i.gcExposed ? '' : ' (gc not exposed)'}`,
      );
    }
    for (const [phase, err] of Object.entries(res.errors)) lines.push(`${kind}: ${phase} FAILED: ${err}`);
  }
  lines.push('hop latency = echo round trip / 2 (A -> server -> B -> server -> A is two hops).');
  return lines.join('\n');
}
