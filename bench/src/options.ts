/**
 * Bench options: flags win over `BENCH_*` environment variables, which win over the defaults (full or `--quick`).
 */
import { parseArgs } from 'node:util';

export type Phase = 'latency' | 'throughput' | 'idle';
export type TargetKind = 'baseline' | 'relay';

export interface BenchOptions {
  readonly quick: boolean;
  readonly targets: readonly TargetKind[];
  readonly phases: readonly Phase[];
  /** Measured serial echoes (after the warm-up). */
  readonly latencyCount: number;
  readonly latencyWarmup: number;
  /** Measured envelopes of the throughput phase (after its warm-up). */
  readonly throughputCount: number;
  readonly throughputWarmup: number;
  readonly window: number;
  /** Traffic phases alternate between the targets in this many rounds. */
  readonly rounds: number;
  /** Approximate envelope size in bytes. */
  readonly envelopeBytes: number;
  /** Idle connections opened at once. */
  readonly connections: number;
  /** Devices per account for the idle phase (1 sidecar + PWAs). */
  readonly perAccount: number;
  /** How many 127.0.0.x source addresses the clients use. */
  readonly addresses: number;
  readonly connectConcurrency: number;
  readonly restConcurrency: number;
  readonly settleMs: number;
  /** Write the results as JSON here too. */
  readonly json: string | undefined;
  /** Pin the client and the server to one CPU each (Linux, taskset). */
  readonly pin: boolean;
}

const FULL = {
  latencyCount: 5_000,
  latencyWarmup: 500,
  throughputCount: 100_000,
  throughputWarmup: 10_000,
  window: 256,
  rounds: 5,
  envelopeBytes: 1024,
  connections: 10_000,
  perAccount: 20,
  addresses: 8,
  connectConcurrency: 64,
  restConcurrency: 16,
  settleMs: 3_000,
};
const QUICK: typeof FULL = {
  ...FULL,
  latencyCount: 300,
  latencyWarmup: 50,
  throughputCount: 2_000,
  throughputWarmup: 200,
  rounds: 2,
  connections: 300,
  perAccount: 10,
  addresses: 4,
  settleMs: 500,
};

const NUMERIC = Object.keys(FULL) as Array<keyof typeof FULL>;
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (s: string) => `BENCH_${kebab(s).replaceAll('-', '_').toUpperCase()}`;

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function list<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new Error(`${name}: "${item}" is not one of ${allowed.join(', ')}`);
  }
  return items as T[];
}

/** One line per option, for `--help`. */
export function usage(): string {
  const lines = NUMERIC.map((k) => `  --${kebab(k)} N   (${envName(k)}; default ${FULL[k]}, quick ${QUICK[k]})`);
  return [
    'usage: npm run bench:relay -- [--quick] [options]',
    '  --quick                    small counts: a smoke run',
    '  --targets baseline,relay   (BENCH_TARGETS)',
    '  --phases latency,throughput,idle   (BENCH_PHASES)',
    '  --json FILE                also write the results as JSON',
    '  --no-pin                   do not pin client and server to one CPU each (BENCH_PIN=0)',
    ...lines,
    'Relay overrides: BENCH_RELAY_OVERRIDES=\'{"envelopesPerSecond":100000}\' (merged over the bench defaults).',
  ].join('\n');
}

/** Parses argv (without node and script) and the environment. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const numericFlags = Object.fromEntries(NUMERIC.map((k) => [kebab(k), { type: 'string' as const }]));
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      'no-pin': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      targets: { type: 'string' },
      phases: { type: 'string' },
      json: { type: 'string' },
      ...numericFlags,
    },
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick === true || env.BENCH_QUICK === '1';
  const base = quick ? QUICK : FULL;
  const numbers = {} as Record<keyof typeof FULL, number>;
  for (const k of NUMERIC) {
    const raw = (values as Record<string, string | undefined>)[kebab(k)] ?? env[envName(k)];
    numbers[k] = raw === undefined ? base[k] : positiveInt(`--${kebab(k)}`, raw);
  }
  if (numbers.addresses < 1 || numbers.addresses > 250) throw new Error('--addresses must be within 1..250');
  if (numbers.window < 1) throw new Error('--window must be at least 1');
  const targets = list('--targets', values.targets ?? env.BENCH_TARGETS ?? 'baseline,relay', [
    'baseline',
    'relay',
  ] as const);
  const phases = list('--phases', values.phases ?? env.BENCH_PHASES ?? 'latency,throughput,idle', [
    'latency',
    'throughput',
    'idle',
  ] as const);
  const pin = values['no-pin'] !== true && env.BENCH_PIN !== '0';
  return { quick, targets, phases, ...numbers, json: values.json ?? env.BENCH_JSON, pin };
}

/** `127.0.0.1` … `127.0.0.n`: loopback source addresses, so many sockets do not exhaust one address's ports. */
export function loopbackAddresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}
