/**
 * `npm run bench:e2e [-- --quick]`: the cost of end-to-end encryption, in one run, against one relay in a child process
 * (127.0.0.1 only). For two payload sizes (1 KiB frames, 47 KiB single frames just below the SDK's 48 KiB chunking
 * threshold; `--bytes-large 84000` makes the large one a full 62 KiB chunk after deflate)
 * it streams application messages with a window of in-flight messages over
 *
 *   (a) plaintext: raw protocol devices, acknowledging to the relay as the protocol requires;
 *   (b) sdk: OppieClient sidecar -> OppieClient phone, paired through the relay, `send()` promises in flight (they
 *       resolve on the peer's end-to-end receipt), MemoryStore storage;
 *   (c) sdk-clear: the same SDK path with the AEAD replaced by a copy (e2e-clear.ts): same frames and sizes, no
 *       encryption;
 *
 * alternating between them in rounds, then measures unloaded one-way latency (window 1), then the pure crypto cost
 * per frame (PeerSession.seal + open, in process). Prints a table of msgs/s, MB/s, latency and two ratios: sdk /
 * sdk-clear, what end-to-end encryption costs, judged against the targets (E2E costs <= 15% throughput for 1 KiB
 * frames, <= 10% for 64 KiB chunks), and sdk / plaintext, what the whole SDK (encryption, outbox, ordering, receipts)
 * costs against raw protocol devices that do none of it.
 * Exit code 1 when a phase failed (not when a target was missed: the table says that).
 */

import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type ServerChild, spawnServer } from './child.js';
import { clearFrameCrypto } from './e2e-clear.js';
import { type CryptoCost, measureCrypto } from './e2e-crypto.js';
import { addStreams, measureStream, type StreamResult } from './e2e-measure.js';
import { indexedPayload, type PathKind, plaintextPath, type StreamPath, sdkPath } from './e2e-paths.js';
import { splitPlaintextPath, splitSdkPath } from './e2e-split.js';
import { FRAME_BACKENDS, type FrameBackend, useFrameBackend } from './frame-backend.js';
import { allowedCpus, type Pinning, pinSelf, planPinning } from './pin.js';
import { relayOverridesJson } from './relay-overrides.js';
import { machineInfo } from './report.js';
import { fmt, type LatencySummary, median, summarize, table } from './stats.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

interface Case {
  readonly name: 'small' | 'large';
  readonly label: string;
  /** Application payload characters (ASCII, so bytes). */
  readonly bytes: number;
  readonly count: number;
  readonly warmup: number;
  readonly window: number;
  readonly serialCount: number;
  readonly cryptoIterations: number;
  /** Minimum SDK / plaintext throughput. */
  readonly targetRatio: number;
  readonly targetText: string;
}

interface Options {
  readonly quick: boolean;
  readonly rounds: number;
  readonly cases: readonly Case[];
  readonly paths: readonly PathKind[];
  readonly phases: readonly ('stream' | 'serial' | 'crypto')[];
  readonly pin: boolean;
  readonly json: string | undefined;
  /** The receiving end of each path in its own process (e2e-receiver.ts). */
  readonly split: boolean;
  /** The SDK's frame cipher in this process (frame-backend.ts). */
  readonly frameCrypto: FrameBackend;
}

const USAGE = `usage: npm run bench:e2e -- [--quick] [options]
  --quick                 small counts: a smoke run
  --rounds N              rounds that alternate the paths (default 5, quick 2)
  --sizes small,large     1 KiB frames, 47 KiB single frames (default both)
  --paths plaintext,sdk-clear,sdk   (default all three; one alone is for profiling). sdk-clear: the SDK with
                          the AEAD replaced by a copy, the baseline of the E2E cost
  --phases stream,serial,crypto
  --count-small N --count-large N --window-small N --window-large N
  --bytes-large N         characters of the large payload (default 48,128: below the SDK's chunking threshold,
                          one frame; 84,000 deflates to about one full 62 KiB chunk on the SDK paths)
  --frame-crypto sidecar|node|portable   the SDK's AEAD and base64url: what sidecar-sdk injects (native
                          libsodium + Buffer, default), Node's OpenSSL + Buffer, or the libsodium wasm + JS
                          codec a browser uses
  --split                 the receiving end (PWA / phone) in its own process: per-end CPU, and its own core
                          when the machine has a third one (with two it shares the sender's)
  --no-pin                do not pin client and relay to one CPU each (BENCH_PIN=0)
  --json FILE             also write the results as JSON
Relay overrides: BENCH_RELAY_OVERRIDES='{"inflightMaxCount":256}'; relay node flags: BENCH_SERVER_NODE_ARGS.`;

function parse(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'no-pin': { type: 'boolean' },
      rounds: { type: 'string' },
      sizes: { type: 'string' },
      paths: { type: 'string' },
      phases: { type: 'string' },
      'count-small': { type: 'string' },
      'count-large': { type: 'string' },
      'window-small': { type: 'string' },
      'window-large': { type: 'string' },
      'bytes-large': { type: 'string' },
      json: { type: 'string' },
      'frame-crypto': { type: 'string' },
      split: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick === true || process.env.BENCH_QUICK === '1';
  const int = (name: string, raw: string | undefined, dflt: number, min = 1) => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${raw}"`);
    return n;
  };
  const list = <T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T[] => {
    const items = (raw ?? allowed.join(',')).split(',').map((s) => s.trim());
    for (const i of items) if (!allowed.includes(i as T)) throw new Error(`--${name}: "${i}" is not one of ${allowed}`);
    return items as T[];
  };
  const sizes = list('sizes', values.sizes, ['small', 'large'] as const);
  const largeBytes = int('bytes-large', values['bytes-large'], 47 * 1024, 1024);
  const all: Case[] = [
    {
      name: 'small',
      label: '1 KiB',
      bytes: 1024,
      count: int('count-small', values['count-small'], quick ? 2_000 : 50_000),
      warmup: quick ? 300 : 5_000,
      window: int('window-small', values['window-small'], 256),
      serialCount: quick ? 100 : 1_000,
      cryptoIterations: quick ? 2_000 : 20_000,
      targetRatio: 0.85,
      targetText: 'cost <= 15%',
    },
    {
      name: 'large',
      label: largeBytes === 47 * 1024 ? '47 KiB' : `${(largeBytes / 1024).toFixed(1)} KiB`,
      bytes: largeBytes,
      count: int('count-large', values['count-large'], quick ? 300 : 10_000),
      warmup: quick ? 50 : 1_000,
      window: int('window-large', values['window-large'], 64),
      serialCount: quick ? 50 : 500,
      cryptoIterations: quick ? 200 : 2_000,
      targetRatio: 0.9,
      targetText: 'cost <= 10%',
    },
  ];
  return {
    quick,
    rounds: int('rounds', values.rounds, quick ? 2 : 5),
    cases: all.filter((c) => sizes.includes(c.name)),
    paths: list('paths', values.paths, ['plaintext', 'sdk-clear', 'sdk'] as const),
    phases: list('phases', values.phases, ['stream', 'serial', 'crypto'] as const),
    pin: values['no-pin'] !== true && process.env.BENCH_PIN !== '0',
    json: values.json,
    split: values.split === true,
    frameCrypto: list('frame-crypto', values['frame-crypto'] ?? 'sidecar', FRAME_BACKENDS)[0] ?? 'sidecar',
  };
}

/** Per case and path. */
interface PathResult {
  stream?: StreamResult;
  /** The stream phase round by round (the same rounds, in the same order, on every path). */
  rounds?: StreamResult[];
  serial?: StreamResult;
  /** Bytes of the sender's envelope text for one message of this case. */
  wire?: number;
  errors: string[];
}
type CaseResults = Record<PathKind, PathResult>;

/** A base64url string of `n` characters (what an application would put in a text payload). */
function fillerOf(n: number): string {
  return randomBytes(Math.ceil((n * 3) / 4) + 3)
    .toString('base64url')
    .slice(0, n);
}

const ROUND_WARMUP_SHARE = 0.1;
const ALL_PATHS: readonly PathKind[] = ['plaintext', 'sdk-clear', 'sdk'];

async function runStreams(
  opts: Options,
  server: ServerChild,
  paths: Map<PathKind, StreamPath>,
  results: Map<string, CaseResults>,
): Promise<void> {
  let nextIndex = 0;
  for (const c of opts.cases) {
    const out = results.get(c.name) as CaseResults;
    const filler = fillerOf(c.bytes);
    const perRound = Math.ceil(c.count / opts.rounds);
    const parts = new Map<PathKind, StreamResult[]>();
    for (const [kind, path] of paths) out[kind].wire = path.wireBytes(indexedPayload(0, filler));
    if (opts.phases.includes('stream')) {
      log(`${c.label}: ${opts.rounds} rounds x ${perRound} per path, window ${c.window}, ${c.warmup} warm-up`);
      for (let r = 0; r < opts.rounds; r++) {
        const order = r % 2 === 0 ? opts.paths : [...opts.paths].reverse();
        for (const kind of order) {
          const path = paths.get(kind);
          if (path === undefined || out[kind].errors.length > 0) continue;
          try {
            const common = { window: c.window, filler, stallMs: 10_000, deadlineMs: 600_000 };
            const warm = r === 0 ? c.warmup : Math.max(1, Math.round(perRound * ROUND_WARMUP_SHARE));
            await measureStream(path, { ...common, count: warm, firstIndex: nextIndex });
            nextIndex += warm;
            const part = await measureStream(path, {
              ...common,
              count: perRound,
              firstIndex: nextIndex,
              serverCpuSeconds: () => server.cpuSeconds(),
            });
            nextIndex += perRound;
            parts.set(kind, [...(parts.get(kind) ?? []), part]);
            log(
              `  round ${r + 1} ${kind}: ${fmt(part.count / part.seconds)} msgs/s, ${fmt(part.bytes / part.seconds / 1e6, 1)} MB/s`,
            );
          } catch (err) {
            out[kind].errors.push(`stream: ${errorText(err)}`);
          }
        }
      }
      for (const [kind, list] of parts) {
        if (out[kind].errors.length > 0) continue;
        out[kind].stream = addStreams(list);
        out[kind].rounds = list;
      }
    }
    if (opts.phases.includes('serial')) {
      log(`${c.label}: serial (window 1), ${c.serialCount} per path`);
      for (const kind of opts.paths) {
        const path = paths.get(kind);
        if (path === undefined) continue;
        try {
          const common = { window: 1, filler, stallMs: 10_000, deadlineMs: 300_000 };
          await measureStream(path, { ...common, count: 50, firstIndex: nextIndex });
          nextIndex += 50;
          out[kind].serial = await measureStream(path, { ...common, count: c.serialCount, firstIndex: nextIndex });
          nextIndex += c.serialCount;
        } catch (err) {
          out[kind].errors.push(`serial: ${errorText(err)}`);
        }
      }
    }
  }
}

/**
 * Per round, `f(of) / f(base)`, sorted ascending: each round runs every path back to back (in alternating order),
 * so a ratio within a round is not moved by drift between rounds (load, clock, GC phase) the way the totals are.
 */
function pairedRatios(
  base: readonly StreamResult[] | undefined,
  of: readonly StreamResult[] | undefined,
  f: (x: StreamResult) => number | undefined,
): number[] {
  if (base === undefined || of === undefined || base.length !== of.length) return [];
  const out: number[] = [];
  for (let i = 0; i < base.length; i++) {
    const r = ratioOf(f(of[i] as StreamResult), f(base[i] as StreamResult));
    if (!Number.isNaN(r)) out.push(r);
  }
  return out.sort((a, b) => a - b);
}

const mps = (s: StreamResult | undefined) => (s === undefined ? undefined : s.count / s.seconds);
const mbps = (s: StreamResult | undefined) => (s === undefined ? undefined : s.bytes / s.seconds / 1e6);
const lat = (xs: Float64Array | undefined): LatencySummary | undefined =>
  xs === undefined ? undefined : summarize(Array.from(xs));

interface Triple {
  readonly plain: number | undefined;
  readonly clear: number | undefined;
  readonly sdk: number | undefined;
}

const ratioOf = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined && b !== 0 ? a / b : Number.NaN;
const ratioText = (r: number) => (Number.isNaN(r) ? '-' : `${r.toFixed(2)}x`);

/**
 * One metric on the three paths. `check` judges sdk / sdk-clear, the cost of encryption alone, against the target:
 * by `judged` when given (the median of the paired rounds), else by this row's own ratio.
 */
function row(name: string, v: Triple, digits: number, check?: Case, judged?: number): string[] {
  const cost = ratioOf(v.sdk, v.clear);
  const decisive = judged ?? cost;
  const verdict = check === undefined || Number.isNaN(decisive) ? '' : decisive >= check.targetRatio ? 'PASS' : 'FAIL';
  const cell = (x: number | undefined) => (x === undefined ? '-' : fmt(x, digits));
  return [
    name,
    cell(v.plain),
    cell(v.clear),
    cell(v.sdk),
    ratioText(cost),
    ratioText(ratioOf(v.sdk, v.plain)),
    check === undefined ? '' : `>= ${check.targetRatio}x (${check.targetText})`,
    verdict,
  ];
}

function renderStreams(opts: Options, results: Map<string, CaseResults>): string {
  const rows: string[][] = [];
  for (const c of opts.cases) {
    const r = results.get(c.name) as CaseResults;
    const p = r.plaintext;
    const k = r['sdk-clear'];
    const s = r.sdk;
    const perMsg = (x: StreamResult | undefined, cpu: 'ends' | 'sender' | 'receiver' | 'server') => {
      if (x === undefined) return undefined;
      const secs =
        cpu === 'server'
          ? x.serverCpuSeconds
          : cpu === 'sender'
            ? x.receiverCpuSeconds === undefined
              ? undefined
              : x.clientCpuSeconds
            : cpu === 'receiver'
              ? x.receiverCpuSeconds
              : x.clientCpuSeconds + (x.receiverCpuSeconds ?? 0);
      return secs === undefined ? undefined : (secs / x.count) * 1e6;
    };
    /** Messages per second if each role (sender, receiver, relay) had a core of its own: the busiest one's limit. */
    const oneCoreEach = (x: StreamResult | undefined) => {
      const costs = [perMsg(x, 'sender'), perMsg(x, 'receiver'), perMsg(x, 'server')];
      if (costs.some((c) => c === undefined)) return undefined;
      return 1e6 / Math.max(...(costs as number[]));
    };
    /** The metric `f` of the stream phase (or of the serial phase) of each path. */
    const of = (f: (x: StreamResult | undefined) => number | undefined, phase: 'stream' | 'serial' = 'stream') => ({
      plain: f(p[phase]),
      clear: f(k[phase]),
      sdk: f(s[phase]),
    });
    const at = (sel: 'delivery' | 'settle', q: 'p50' | 'p99', scale: number) => (x: StreamResult | undefined) => {
      const l = lat(x?.[sel]);
      return l === undefined ? undefined : l[q] / scale;
    };
    const l = `${c.label}`;
    const cost = ratioOf(mps(s.stream), mps(k.stream));
    const paired = pairedRatios(k.rounds, s.rounds, mps);
    const pairedCpu = pairedRatios(s.rounds, k.rounds, (x) => perMsg(x, 'ends'));
    const pct = (r: number) => `${((1 - r) * 100).toFixed(1)}%`;
    const spread = (rs: readonly number[]) =>
      rs.length === 0 ? '-' : `${pct(median(rs))} (${pct(rs[rs.length - 1] as number)} .. ${pct(rs[0] as number)})`;
    rows.push(
      row(
        `${l}: throughput (msgs/s), window ${c.window}`,
        of(mps),
        0,
        c,
        paired.length > 0 ? median(paired) : undefined,
      ),
      row(`${l}: throughput (MB/s of payload)`, of(mbps), 1),
      [`${l}: E2E throughput cost`, '', '', '', Number.isNaN(cost) ? '-' : pct(cost), '', '', ''],
      [`${l}: E2E cost, median (range) of ${paired.length} paired rounds³`, '', '', '', spread(paired), '', '', ''],
      [`${l}: E2E client CPU cost, median (range) of paired rounds³`, '', '', '', spread(pairedCpu), '', '', ''],
      row(`${l}: delivery latency p50 under load (ms)`, of(at('delivery', 'p50', 1000)), 2),
      row(`${l}: delivery latency p99 under load (ms)`, of(at('delivery', 'p99', 1000)), 2),
      row(`${l}: window release p50 (ms)¹`, of(at('settle', 'p50', 1000)), 2),
      row(`${l}: window release p99 (ms)¹`, of(at('settle', 'p99', 1000)), 2),
      row(`${l}: unloaded one-way latency p50 (µs)`, of(at('delivery', 'p50', 1), 'serial'), 0),
      row(`${l}: unloaded one-way latency p99 (µs)`, of(at('delivery', 'p99', 1), 'serial'), 0),
      row(
        `${l}: unloaded send() -> receipt p50 (µs)`,
        { ...of(at('settle', 'p50', 1), 'serial'), plain: undefined },
        0,
      ),
      row(
        `${l}: client CPU per message (µs, both ends)`,
        of((x) => perMsg(x, 'ends')),
        1,
      ),
      ...(opts.split
        ? [
            row(
              `${l}: sender CPU per message (µs)`,
              of((x) => perMsg(x, 'sender')),
              1,
            ),
            row(
              `${l}: receiver CPU per message (µs)`,
              of((x) => perMsg(x, 'receiver')),
              1,
            ),
          ]
        : []),
      row(
        `${l}: relay CPU per message (µs)`,
        of((x) => perMsg(x, 'server')),
        1,
      ),
      ...(opts.split ? [row(`${l}: one core per role (msgs/s, projected)²`, of(oneCoreEach), 0, c)] : []),
      row(`${l}: envelope on the wire (bytes)`, { plain: p.wire, clear: k.wire, sdk: s.wire }, 0),
    );
  }
  return table(
    [
      'metric',
      'plaintext (raw protocol)',
      'sdk, AEAD off',
      'sdk (E2E)',
      'sdk / sdk AEAD off (E2E cost)',
      'sdk / plaintext (whole SDK)',
      'target (E2E cost)',
      'result',
    ],
    rows,
  );
}

function renderCrypto(costs: readonly CryptoCost[], opts: Options, results: Map<string, CaseResults>): string {
  const rows = costs.map((k) => {
    const c = opts.cases.find((x) => x.label === k.label);
    const r = c === undefined ? undefined : results.get(c.name);
    const ends = (x: StreamResult | undefined) =>
      x === undefined ? Number.NaN : ((x.clientCpuSeconds + (x.receiverCpuSeconds ?? 0)) / x.count) * 1e6;
    const plainCpu = ends(r?.plaintext.stream);
    const sdkCpu = ends(r?.sdk.stream);
    const gap = sdkCpu - plainCpu;
    const clearGap = sdkCpu - ends(r?.['sdk-clear'].stream);
    return [
      k.label,
      fmt(k.plaintextBytes),
      `${fmt(k.seal, 1)} / ${fmt(k.open, 1)}`,
      `${fmt(k.nodeSeal, 1)} / ${fmt(k.nodeOpen, 1)}`,
      `${fmt(k.sidecarSeal, 1)} / ${fmt(k.sidecarOpen, 1)}`,
      fmt(k.plaintextBytes / (k.sidecarSeal + k.sidecarOpen), 1),
      `${fmt(k.nonce, 1)} / ${fmt(k.nodeNonce, 1)}`,
      `${fmt(k.aeadEncrypt, 1)} / ${fmt(k.aeadDecrypt, 1)}`,
      `${fmt(k.nodeAeadEncrypt, 1)} / ${fmt(k.nodeAeadDecrypt, 1)}`,
      `${fmt(k.nativeAeadEncrypt, 1)} / ${fmt(k.nativeAeadDecrypt, 1)}`,
      `${fmt(k.sdkToB64u, 1)} / ${fmt(k.sdkFromB64u, 1)}`,
      `${fmt(k.nodeToB64u, 1)} / ${fmt(k.nodeFromB64u, 1)}`,
      Number.isFinite(gap) ? fmt(gap, 1) : '-',
      Number.isFinite(clearGap) ? fmt(clearGap, 1) : '-',
    ];
  });
  return table(
    [
      'frame',
      'plaintext B',
      'seal / open µs, portable',
      'seal / open µs, node',
      'seal / open µs, sidecar',
      'sidecar seal+open MB/s',
      'nonce µs sodium / WebCrypto',
      'AEAD enc / dec µs, wasm',
      'AEAD enc / dec µs, OpenSSL',
      'AEAD enc / dec µs, native',
      'b64u enc / dec µs, SDK JS',
      'b64u enc / dec µs, Buffer',
      'client CPU gap sdk-plain µs/msg',
      'client CPU gap sdk-clear µs/msg',
    ],
    rows,
  );
}

async function main(): Promise<number> {
  const parsed = parse(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const opts = parsed;
  const machine = machineInfo();
  useFrameBackend(opts.frameCrypto);
  const pinning: Pinning | undefined = opts.pin ? planPinning() : undefined;
  if (pinning) pinSelf(pinning.client);
  // The receiver child (--split) gets a third CPU when there is one; on two it shares the sender's, as without --split.
  const receiverCpu = pinning === undefined ? undefined : (allowedCpus()[2] ?? pinning.client);
  console.log(
    `Oppie end-to-end bench ${machine.date}\nnode ${machine.node}, ${machine.nproc} CPUs (${machine.cpu}), ${machine.memGiB} GiB, kernel ${machine.kernel}`,
  );
  console.log(
    `${pinning ? `pinned: client cpu ${pinning.client}, relay cpu ${pinning.server}${opts.split ? `, receiver cpu ${receiverCpu}` : ''}` : 'not pinned'}; ${opts.split ? 'receiver in its own process; ' : ''}SDK frame crypto ${opts.frameCrypto}; mode ${opts.quick ? 'quick' : 'full'}, ${opts.rounds} rounds; ${opts.cases.map((c) => `${c.label}: ${c.count} (+${c.warmup}) window ${c.window}, serial ${c.serialCount}`).join('; ')}\n`,
  );
  const results = new Map<string, CaseResults>();
  for (const c of opts.cases) {
    results.set(c.name, { plaintext: { errors: [] }, 'sdk-clear': { errors: [] }, sdk: { errors: [] } });
  }
  const costs: CryptoCost[] = [];
  let failed = false;
  if (opts.phases.includes('stream') || opts.phases.includes('serial')) {
    const server = await spawnServer('relay', { BENCH_RELAY_OVERRIDES: relayOverridesJson() }, pinning?.server);
    const paths = new Map<PathKind, StreamPath>();
    try {
      for (const kind of opts.paths) {
        try {
          const clear = kind === 'sdk-clear';
          const path =
            kind === 'plaintext'
              ? opts.split
                ? await splitPlaintextPath(server.url, receiverCpu)
                : await plaintextPath(server.url)
              : opts.split
                ? await splitSdkPath(server.url, receiverCpu, opts.frameCrypto, clear)
                : await sdkPath(server.url, clear ? clearFrameCrypto(opts.frameCrypto) : undefined);
          paths.set(kind, path);
        } catch (err) {
          for (const r of results.values()) r[kind].errors.push(`setup: ${errorText(err)}`);
        }
      }
      await runStreams(opts, server, paths, results);
    } finally {
      for (const p of paths.values()) await p.close().catch(() => {});
      await server.close();
    }
  }
  if (opts.phases.includes('crypto')) {
    log('crypto: PeerSession.seal + open in process');
    for (const c of opts.cases) {
      try {
        costs.push(await measureCrypto(c.label, fillerOf(c.bytes), c.cryptoIterations));
      } catch (err) {
        log(`crypto ${c.label} FAILED: ${errorText(err)}`);
        failed = true;
      }
    }
  }
  console.log(renderStreams(opts, results));
  console.log(
    "¹ window release: plaintext = B received the envelope; sdk = send() resolved (the peer's end-to-end receipt came back).",
  );
  console.log(
    '³ sdk / sdk-clear within each round (the two run back to back), as a cost; the target is judged on the median, since the totals move by several points between runs of the same code.',
  );
  if (opts.split) {
    console.log(
      '² 1e6 / max(sender, receiver, relay CPU per message): the rate if each role had a core of its own (as deployed), from the CPU each used here.',
    );
  }
  if (costs.length > 0) console.log(`\n${renderCrypto(costs, opts, results)}`);
  for (const c of opts.cases) {
    const r = results.get(c.name) as CaseResults;
    for (const kind of ALL_PATHS) {
      const s = r[kind].stream;
      if (s !== undefined) {
        const cpu = (x: number | undefined) =>
          x === undefined ? '-' : `${x.toFixed(2)} s (${fmt((x / s.seconds) * 100)}%)`;
        console.log(
          `${c.label} ${kind}: ${fmt(s.count)} messages in ${s.seconds.toFixed(2)} s; CPU relay ${cpu(s.serverCpuSeconds)}, ${s.receiverCpuSeconds === undefined ? `client ${cpu(s.clientCpuSeconds)}` : `sender ${cpu(s.clientCpuSeconds)}, receiver ${cpu(s.receiverCpuSeconds)}`}`,
        );
      }
      for (const e of r[kind].errors) {
        console.log(`${c.label} ${kind} FAILED: ${e}`);
        failed = true;
      }
    }
  }
  if (opts.json !== undefined) {
    const plain = Object.fromEntries(
      [...results].map(([name, r]) => [
        name,
        Object.fromEntries(
          ALL_PATHS.map((k) => [
            k,
            {
              errors: r[k].errors,
              msgsPerSecond: mps(r[k].stream),
              roundMsgsPerSecond: r[k].rounds?.map((x) => mps(x)),
              mbPerSecond: mbps(r[k].stream),
              delivery: lat(r[k].stream?.delivery),
              settle: lat(r[k].stream?.settle),
              serialDelivery: lat(r[k].serial?.delivery),
              serialSettle: lat(r[k].serial?.settle),
              clientCpuSeconds: r[k].stream?.clientCpuSeconds,
              receiverCpuSeconds: r[k].stream?.receiverCpuSeconds,
              serverCpuSeconds: r[k].stream?.serverCpuSeconds,
            },
          ]),
        ),
      ]),
    );
    await writeFile(
      opts.json,
      `${JSON.stringify({ machine, pinning, options: opts, results: plain, crypto: costs }, null, 2)}\n`,
    );
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
