/**
 * `npm run bench:cluster [-- options]`: the relay scaled out, as production runs it. One redis-server, three relay
 * processes with REDIS_URL (`node server/dist/main.js`), haproxy in front (round robin, no stickiness), all on
 * 127.0.0.1.
 *
 * 1. Hop latency, same instance vs cross instance. A sidecar and a phone (registered/paired through haproxy) connect
 *    DIRECTLY to chosen relay processes, bypassing the balancer, so placement is deterministic: A = both on instance 1,
 *    B = phone on 1, sidecar on 2 (the envelope goes through the Redis queue and a pub/sub wake-up of instance 2).
 *    Then LB = both through haproxy, wherever round robin puts them (reported). The phone sends a chat, the sidecar
 *    (auto-acking) answers with a chat at once, the phone times the round trip; sequential, warm-up first. The cases
 *    alternate over `--rounds` rounds so load drift on the machine hits them alike. Target: p50(B) <= 2x p50(A).
 * 2. Idle connections: `--connections` distinct devices (a sidecar and PWAs per account) open one socket each through
 *    haproxy; each relay's RSS (/proc/<pid>/status VmRSS, after a full GC forced over its inspector) before
 *    and after, divided by the connections that instance holds (its /api/metrics `oppie_relay_connections`).
 *
 * Exit code 1 when a phase failed (not when the target was missed: the table says that).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type ConnectedSocket,
  connectDevice,
  decodePayload,
  freePort,
  type Haproxy,
  type PairedDevice,
  pairDevice,
  type RedisServer,
  type RelayProcess,
  registerDevice,
  startHaproxy,
  startRelayProcess,
  startTestRedis,
  type TestDevice,
} from '@oppie/test-kit';
import type WebSocket from 'ws';
import { collectGarbage, inspectorUrl } from './cluster-gc.js';
import { freshenTokens, registerRelayDevices } from './devices.js';
import { loopbackAddresses } from './options.js';
import { runPool } from './pool.js';
import { machineInfo } from './report.js';
import { fmt, quantile, table } from './stats.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Hop latency target: cross-instance p50 at most this many times the same-instance p50. */
const CROSS_RATIO_TARGET = 2;

interface ClusterOptions {
  readonly latencyCount: number;
  readonly latencyWarmup: number;
  readonly rounds: number;
  readonly payloadBytes: number;
  readonly connections: number;
  readonly perAccount: number;
  readonly connectConcurrency: number;
  readonly restConcurrency: number;
  readonly settleMs: number;
  readonly phases: readonly string[];
}

const DEFAULTS = {
  latencyCount: 2_000,
  latencyWarmup: 100,
  rounds: 2,
  payloadBytes: 256,
  connections: 3_000,
  perAccount: 20,
  connectConcurrency: 32,
  restConcurrency: 16,
  settleMs: 3_000,
};

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function usage(): string {
  return [
    'usage: npm run bench:cluster -- [options]',
    '  --phases latency,idle   (default both)',
    ...Object.entries(DEFAULTS).map(([k, v]) => `  --${kebab(k)} N   (default ${v})`),
  ].join('\n');
}

function parseOptions(argv: readonly string[]): ClusterOptions | 'help' {
  const numeric = Object.fromEntries(Object.keys(DEFAULTS).map((k) => [kebab(k), { type: 'string' as const }]));
  const { values } = parseArgs({
    args: [...argv],
    options: { help: { type: 'boolean', short: 'h' }, phases: { type: 'string' }, ...numeric },
    strict: true,
  });
  if (values.help) return 'help';
  const out = { ...DEFAULTS } as Record<keyof typeof DEFAULTS, number>;
  for (const k of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const raw = (values as Record<string, string | undefined>)[kebab(k)];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${kebab(k)} must be a non-negative integer, got "${raw}"`);
    out[k] = n;
  }
  if (out.rounds < 1) throw new Error('--rounds must be at least 1');
  if (out.perAccount < 2 || out.perAccount > 30) throw new Error('--per-account must be within 2..30');
  if (out.connections > 3_800) throw new Error('--connections: haproxy here allows 4,096 connections (maxconn)');
  const phases = (values.phases ?? 'latency,idle').split(',').map((s) => s.trim());
  for (const p of phases) if (p !== 'latency' && p !== 'idle') throw new Error(`--phases: unknown phase "${p}"`);
  return { ...out, phases };
}

/** Everything this bench started, stopped in reverse order whatever happened. */
interface Cluster {
  redis?: RedisServer;
  relays: RelayProcess[];
  lb?: Haproxy;
}

async function startCluster(): Promise<Cluster> {
  const cluster: Cluster = { relays: [] };
  try {
    cluster.redis = await startTestRedis();
    const lbPort = await freePort();
    const env = {
      REDIS_URL: cluster.redis.url,
      PUBLIC_URL: `http://127.0.0.1:${lbPort}`, // the issuer every instance names: the balancer's address
      // Every client comes from 127.0.0.1 (through haproxy: its address), so the per-address limits are lifted.
      ENVELOPES_PER_SECOND: '100000',
      ENVELOPE_BURST: '100000',
      UPGRADES_PER_IP_PER_SECOND: '100000',
      AUTH_REQUESTS_PER_IP_PER_MINUTE: '1000000',
      REGISTRATIONS_PER_IP_PER_HOUR: '1000000',
      MAX_CONNECTIONS_PER_IP: '100000',
      TOKEN_TTL_SECONDS: '900',
      SHUTDOWN_GRACE_SECONDS: '1',
      // An inspector on a free loopback port, so the bench can force a GC before reading RSS (cluster-gc.ts).
      NODE_OPTIONS: '--inspect=127.0.0.1:0',
    };
    // The first instance creates the shared signing key in Redis; the others find it.
    cluster.relays.push(await startRelayProcess({ env }));
    cluster.relays.push(...(await Promise.all([startRelayProcess({ env }), startRelayProcess({ env })])));
    cluster.lb = await startHaproxy({
      port: lbPort,
      backends: cluster.relays.map((r) => ({ host: '127.0.0.1', port: r.port })),
    });
    return cluster;
  } catch (err) {
    await stopCluster(cluster);
    throw err;
  }
}

async function stopCluster(c: Cluster): Promise<void> {
  const quietly = (p: Promise<void> | undefined) => p?.catch((err: unknown) => log(`cleanup: ${errorText(err)}`));
  await quietly(c.lb?.stop());
  await Promise.all(c.relays.map((r) => quietly(r.stop())));
  await quietly(c.redis?.stop());
}

/** VmRSS of a process, bytes. */
function rssOf(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Each relay's RSS after a full GC in it (settled 200 ms); `gc` says whether every GC ran. */
async function settledRss(relays: readonly RelayProcess[]): Promise<{ rss: number[]; gc: boolean }> {
  const gcs = await Promise.all(relays.map((r) => collectGarbage(inspectorUrl(r.output()))));
  await sleep(200);
  return { rss: relays.map((r) => rssOf(r.pid)), gc: gcs.every(Boolean) };
}

/** Live authenticated connections on one instance (its own gauge, all roles). */
async function connectionsOn(relay: RelayProcess): Promise<number> {
  const text = await (await fetch(`${relay.url}/api/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^oppie_relay_connections\{role="[^"]+"\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

// ---------------------------------------------------------------------------------------------------------------------
// Hop latency

type CaseName = 'A same instance' | 'B cross instance' | 'LB via haproxy';

interface Placement {
  readonly name: CaseName;
  /** Where the phone and the sidecar connect; `undefined` = through haproxy. */
  readonly phoneAt: number | undefined;
  readonly sidecarAt: number | undefined;
}

const CASES: readonly Placement[] = [
  { name: 'A same instance', phoneAt: 0, sidecarAt: 0 },
  { name: 'B cross instance', phoneAt: 0, sidecarAt: 1 },
  { name: 'LB via haproxy', phoneAt: undefined, sidecarAt: undefined },
];

interface CaseResult {
  samples: number[];
  /** Instance (1-based) of phone/sidecar per round, e.g. "1/2". */
  placements: string[];
}

/** The instance (1-based) whose connection gauge rose above `before`: where the device just connected. 0: unknown. */
async function whereIs(relays: readonly RelayProcess[], before: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const now = await Promise.all(relays.map(connectionsOn));
    const i = now.findIndex((n, k) => n > (before[k] ?? 0));
    if (i !== -1) return i + 1;
    await sleep(50);
  }
  return 0;
}

async function connectAt(
  cluster: Cluster,
  at: number | undefined,
  device: TestDevice,
): Promise<{ socket: ConnectedSocket; instance: number }> {
  const lb = cluster.lb as Haproxy;
  const url = at === undefined ? lb.url : (cluster.relays[at] as RelayProcess).url;
  const before = await Promise.all(cluster.relays.map(connectionsOn));
  const socket = await connectDevice(url, device, { autoAck: true, timeoutMs: 10_000 });
  const instance = at === undefined ? await whereIs(cluster.relays, before) : at + 1;
  return { socket, instance };
}

/** One case, one round: connect both, warm up, `count` sequential round trips (µs), close both. */
async function runCase(
  cluster: Cluster,
  placement: Placement,
  sidecar: TestDevice,
  phone: PairedDevice,
  count: number,
  warmup: number,
  payloadBytes: number,
): Promise<{ samples: number[]; placement: string }> {
  const s = await connectAt(cluster, placement.sidecarAt, sidecar);
  let p: { socket: ConnectedSocket; instance: number } | undefined;
  try {
    p = await connectAt(cluster, placement.phoneAt, phone);
    const ph = p.socket;
    const sc = s.socket;
    // The sidecar answers every chat from the phone with a chat carrying the same text, at once.
    (sc.ws as WebSocket).on('message', (data: Buffer) => {
      const f = JSON.parse(data.toString()) as { type: string; payload?: unknown; metadata?: { deviceId?: string } };
      if (f.type === 'chat') sc.chat(phone.deviceId, decodePayload(f));
    });
    // The phone waits for the answer with its own listener (TestSocket still auto-acks it).
    let waiting: { text: string; resolve: () => void; reject: (err: Error) => void } | undefined;
    (ph.ws as WebSocket).on('message', (data: Buffer) => {
      const f = JSON.parse(data.toString()) as { type: string; payload?: unknown };
      if (f.type !== 'chat' || waiting === undefined) return;
      const text = decodePayload(f);
      const w = waiting;
      waiting = undefined;
      if (text === w.text) w.resolve();
      else w.reject(new Error(`${placement.name}: answer ${text.slice(0, 8)} to #${w.text.slice(0, 8)}`));
    });
    const pad = 'x'.repeat(Math.max(0, payloadBytes - 16));
    const roundTrip = (i: number) =>
      new Promise<number>((resolve, reject) => {
        const text = `${String(i).padStart(8, '0')}:${pad}`;
        const timer = setTimeout(() => reject(new Error(`${placement.name}: no answer to #${i} within 10 s`)), 10_000);
        const t0 = process.hrtime.bigint();
        waiting = {
          text,
          resolve: () => {
            clearTimeout(timer);
            resolve(Number(process.hrtime.bigint() - t0) / 1000);
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        ph.chat(sidecar.deviceId, text);
      });
    const samples: number[] = [];
    for (let i = 0; i < warmup + count; i++) {
      const us = await roundTrip(i);
      if (i >= warmup) samples.push(us);
      // TestSocket buffers what nobody consumed (relay acks, presence, the chats): keep it small.
      if (i % 100 === 0) {
        ph.drain();
        sc.drain();
      }
    }
    return { samples, placement: `${p.instance}/${s.instance}` };
  } finally {
    await p?.socket.close();
    await s.socket.close();
  }
}

async function latencyPhase(cluster: Cluster, opts: ClusterOptions): Promise<Map<CaseName, CaseResult>> {
  const lb = cluster.lb as Haproxy;
  const sidecar = await registerDevice(lb.url, 'bench-cluster-sidecar');
  const phone = await pairDevice(lb.url, sidecar.token, 'bench-cluster-phone');
  const results = new Map<CaseName, CaseResult>(CASES.map((c) => [c.name, { samples: [], placements: [] }]));
  const perRound = Math.ceil(opts.latencyCount / opts.rounds);
  for (let round = 0; round < opts.rounds; round++) {
    for (const c of CASES) {
      const r = await runCase(cluster, c, sidecar, phone, perRound, opts.latencyWarmup, opts.payloadBytes);
      const out = results.get(c.name) as CaseResult;
      out.samples.push(...r.samples);
      out.placements.push(r.placement);
      const sorted = [...r.samples].sort((a, b) => a - b);
      log(
        `  round ${round + 1} ${c.name} (phone/sidecar on ${r.placement}): RTT p50 ${fmt(quantile(sorted, 0.5), 0)} µs`,
      );
      // The closed sessions' presence and cleanup settle before the next case connects.
      await sleep(200);
    }
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------------------------
// Idle connections

interface IdleInstance {
  readonly instance: number;
  readonly connections: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
}

interface IdleResult {
  readonly devices: number;
  readonly registerSeconds: number;
  readonly connectSeconds: number;
  /** Whether every RSS reading followed a forced full GC. */
  readonly gc: boolean;
  readonly perInstance: IdleInstance[];
}

async function idlePhase(cluster: Cluster, opts: ClusterOptions): Promise<IdleResult> {
  const lb = cluster.lb as Haproxy;
  const addresses = loopbackAddresses(4);
  const rest = { concurrency: opts.restConcurrency, addresses, deadlineMs: 600_000 };
  log(`idle: registering ${opts.connections} devices through haproxy (${opts.perAccount} per account)`);
  const t0 = Date.now();
  const registered = await registerRelayDevices(lb.url, opts.connections, {
    ...rest,
    perAccount: opts.perAccount,
    log,
  });
  const devices = await freshenTokens(lb.url, registered, 300_000, rest);
  const registerSeconds = (Date.now() - t0) / 1000;
  await sleep(opts.settleMs);
  const baseConns = await Promise.all(cluster.relays.map(connectionsOn));
  const before = await settledRss(cluster.relays);
  log(`idle: opening ${devices.length} connections through haproxy`);
  const sockets: ConnectedSocket[] = [];
  const started = Date.now();
  try {
    await runPool(
      devices.length,
      async (i) => {
        const device = devices[i] as TestDevice;
        // connectDevice, not the bench's openSocket: on Redis a presence frame can arrive before the welcome.
        const connect = () =>
          connectDevice(lb.url, device, { localAddress: addresses[i % addresses.length], timeoutMs: 15_000 });
        sockets.push(await connect().catch(connect)); // one retry, as relay-bench does
      },
      {
        concurrency: opts.connectConcurrency,
        deadlineMs: 600_000,
        label: 'idle connect',
        progressEvery: 1000,
        onProgress: (n) => log(`  connected ${n}/${devices.length}`),
      },
    );
    const connectSeconds = (Date.now() - started) / 1000;
    await sleep(opts.settleMs);
    const closedEarly = sockets.filter((s) => !s.isOpen).length;
    if (closedEarly > 0) throw new Error(`${closedEarly} of ${sockets.length} idle connections closed while settling`);
    const conns = await Promise.all(cluster.relays.map(connectionsOn));
    const after = await settledRss(cluster.relays);
    return {
      devices: devices.length,
      registerSeconds,
      connectSeconds,
      gc: before.gc && after.gc,
      perInstance: cluster.relays.map((_, i) => ({
        instance: i + 1,
        connections: (conns[i] ?? 0) - (baseConns[i] ?? 0),
        rssBefore: before.rss[i] ?? 0,
        rssAfter: after.rss[i] ?? 0,
      })),
    };
  } finally {
    for (const s of sockets) s.ws.terminate();
  }
}

// ---------------------------------------------------------------------------------------------------------------------

function latencyTable(results: Map<CaseName, CaseResult>): string {
  const rows = [...results].map(([name, r]) => {
    const sorted = [...r.samples].sort((a, b) => a - b);
    const q = (x: number) => fmt(quantile(sorted, x), 0);
    return [name, r.placements.join(', '), fmt(sorted.length), q(0.5), q(0.95), q(0.99), fmt(sorted.at(-1) ?? NaN)];
  });
  return table(['case', 'phone/sidecar instance per round', 'samples', 'RTT p50 µs', 'p95', 'p99', 'max'], rows);
}

function idleTable(r: IdleResult): string {
  const mib = (b: number) => fmt(b / 2 ** 20, 1);
  const rows = r.perInstance.map((i) => [
    String(i.instance),
    fmt(i.connections),
    `${fmt((i.connections / r.devices) * 100, 1)}%`,
    mib(i.rssBefore),
    mib(i.rssAfter),
    i.connections > 0 ? fmt((i.rssAfter - i.rssBefore) / i.connections) : '-',
  ]);
  const sum = (f: (i: IdleInstance) => number) => r.perInstance.reduce((a, i) => a + f(i), 0);
  const total = sum((i) => i.connections);
  rows.push([
    'all',
    fmt(total),
    '',
    mib(sum((i) => i.rssBefore)),
    mib(sum((i) => i.rssAfter)),
    total > 0 ? fmt(sum((i) => i.rssAfter - i.rssBefore) / total) : '-',
  ]);
  return table(['instance', 'idle connections', 'share', 'RSS before MiB', 'RSS after MiB', 'bytes/conn'], rows);
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(usage());
    return 0;
  }
  const opts = parsed;
  const machine = machineInfo();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `Oppie relay cluster bench ${machine.date}\nnode ${machine.node}, ${machine.nproc} CPUs (${machine.cpu}), ${machine.memGiB} GiB, kernel ${machine.kernel}, load average at start ${load}`,
  );
  console.log(
    `3 relay processes + redis-server + haproxy on 127.0.0.1, not pinned; latency ${opts.latencyCount} round trips per case (+${opts.latencyWarmup} warm-up per round, ${opts.rounds} rounds), payload ${opts.payloadBytes} B; idle ${opts.connections} connections (${opts.perAccount}/account)\n`,
  );
  const errors: Record<string, string> = {};
  let latency: Map<CaseName, CaseResult> | undefined;
  let idle: IdleResult | undefined;
  const cluster = await startCluster();
  const onSignal = () => {
    void stopCluster(cluster).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(
      `cluster: redis ${cluster.redis?.port}, relays ${cluster.relays.map((r) => `${r.port} (pid ${r.pid})`).join(', ')}, haproxy ${cluster.lb?.port}`,
    );
    if (opts.phases.includes('latency')) {
      log('latency: same instance (A), cross instance (B), through haproxy (LB)');
      latency = await latencyPhase(cluster, opts).catch((err: unknown) => {
        errors.latency = errorText(err);
        return undefined;
      });
    }
    if (opts.phases.includes('idle')) {
      idle = await idlePhase(cluster, opts).catch((err: unknown) => {
        errors.idle = errorText(err);
        return undefined;
      });
    }
  } finally {
    await stopCluster(cluster);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const loadEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  if (latency) {
    console.log(latencyTable(latency));
    const p50 = (n: CaseName) =>
      quantile(
        [...(latency?.get(n)?.samples ?? [])].sort((a, b) => a - b),
        0.5,
      );
    const ratio = p50('B cross instance') / p50('A same instance');
    const lbRatio = p50('LB via haproxy') / p50('A same instance');
    console.log(
      `\ncross/same instance p50 ratio: ${ratio.toFixed(2)}x (target <= ${CROSS_RATIO_TARGET}x): ${ratio <= CROSS_RATIO_TARGET ? 'PASS' : 'FAIL'}`,
    );
    console.log(`through haproxy / same instance direct p50 ratio: ${lbRatio.toFixed(2)}x`);
    console.log(
      `one-way hop p50 (RTT/2): A ${fmt(p50('A same instance') / 2)} µs, B ${fmt(p50('B cross instance') / 2)} µs, LB ${fmt(p50('LB via haproxy') / 2)} µs\n`,
    );
  }
  if (idle) {
    console.log(idleTable(idle));
    const shares = idle.perInstance.map((i) => i.connections);
    console.log(
      `\n${fmt(idle.devices)} devices registered/paired through haproxy in ${idle.registerSeconds.toFixed(1)} s; connected in ${idle.connectSeconds.toFixed(1)} s; spread min/max ${Math.min(...shares)}/${Math.max(...shares)}; RSS is VmRSS ${idle.gc ? 'after a forced full GC in each relay' : 'WITHOUT a forced GC (inspector unreachable)'}`,
    );
  }
  console.log(`load average at end ${loadEnd}`);
  for (const [phase, err] of Object.entries(errors)) console.log(`${phase} FAILED: ${err}`);
  return Object.keys(errors).length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
