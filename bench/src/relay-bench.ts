/**
 * `npm run bench:relay [-- --quick]`: the relay against a bare `ws` forwarder, in one run, on 127.0.0.0/8 only.
 *
 * For each target a server runs in a child process: (a) serial echo latency, (b) windowed throughput, then in a fresh
 * child (c) the server's RSS per idle connection. Prints machine info and a table with the ratios vs the targets.
 * Exit code 1 when a phase failed (not when a target was missed: the table says that).
 */
import { writeFile } from 'node:fs/promises';
import { type ServerChild, spawnServer } from './child.js';
import { baselineDevices, freshenTokens, registerRelayDevices } from './devices.js';
import { measureIdle } from './idle.js';
import { type BenchOptions, loopbackAddresses, parseOptions, type TargetKind, usage } from './options.js';
import type { BenchDevice } from './peers.js';
import { type Pinning, pinSelf, planPinning } from './pin.js';
import { relayOverridesJson } from './relay-overrides.js';
import { machineInfo, type Results, renderDetails, renderTable, type TargetResult } from './report.js';
import { runTraffic } from './traffic.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

let pinning: Pinning | undefined;

function spawn(kind: TargetKind): Promise<ServerChild> {
  return spawnServer(kind, kind === 'relay' ? { BENCH_RELAY_OVERRIDES: relayOverridesJson() } : {}, pinning?.server);
}

async function idlePhase(kind: TargetKind, opts: BenchOptions, out: TargetResult): Promise<void> {
  const server = await spawn(kind);
  const addresses = loopbackAddresses(opts.addresses);
  try {
    let devices: BenchDevice[];
    if (kind === 'relay') {
      log(`relay: registering ${opts.connections} devices (${opts.perAccount} per account)`);
      const rest = { concurrency: opts.restConcurrency, addresses, deadlineMs: 1_200_000 };
      const registered = await registerRelayDevices(server.url, opts.connections, {
        ...rest,
        perAccount: opts.perAccount,
        log,
      });
      devices = await freshenTokens(server.url, registered, 180_000, rest);
    } else devices = baselineDevices(opts.connections, 'bench-idle');
    log(`${kind}: opening ${opts.connections} idle connections from ${addresses.length} source addresses`);
    out.idle = await measureIdle(server, { kind, url: server.url }, devices, {
      addresses,
      concurrency: opts.connectConcurrency,
      connectTimeoutMs: 15_000,
      settleMs: opts.settleMs,
      deadlineMs: 900_000,
      log,
    });
  } finally {
    await server.close();
  }
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2), process.env);
  if (parsed === 'help') {
    console.log(usage());
    return 0;
  }
  const opts = parsed;
  // Machine info first: once pinned, this process sees one CPU.
  const machine = machineInfo();
  pinning = opts.pin ? planPinning() : undefined;
  if (pinning) pinSelf(pinning.client);
  console.log(
    `Oppie relay bench ${machine.date}\nnode ${machine.node}, ${machine.nproc} CPUs (${machine.cpu}), ${machine.memGiB} GiB, kernel ${machine.kernel}`,
  );
  console.log(
    `${pinning ? `pinned: client cpu ${pinning.client}, server cpu ${pinning.server}` : 'not pinned'}; mode ${opts.quick ? 'quick' : 'full'}: echo ${opts.latencyCount} (+${opts.latencyWarmup} warm-up), throughput ${opts.throughputCount} (+${opts.throughputWarmup}) window ${opts.window}, envelope ~${opts.envelopeBytes} B, idle ${opts.connections} connections (${opts.perAccount}/account, ${opts.addresses} source addresses)\n`,
  );
  const results: Results = {};
  for (const kind of opts.targets) results[kind] = { errors: {} };
  if (opts.phases.includes('latency') || opts.phases.includes('throughput')) {
    await runTraffic(opts, results, spawn, log);
  }
  for (const kind of opts.targets) {
    const out = results[kind] as TargetResult;
    if (opts.phases.includes('idle')) {
      await idlePhase(kind, opts, out).catch((err: unknown) => {
        out.errors.idle = errorText(err);
      });
    }
  }
  console.log(renderTable(results));
  console.log(`\n${renderDetails(results, opts)}`);
  if (opts.json !== undefined) {
    await writeFile(opts.json, `${JSON.stringify({ machine, pinning, options: opts, results }, null, 2)}\n`);
  }
  const failed = Object.values(results).some((r) => Object.keys(r.errors).length > 0);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
