/**
 * `bench:direct --link-mbit N`: the bench again, inside a network namespace of its own whose loopback is shaped to N
 * Mbit/s (a `tbf` qdisc). On an unshaped loopback the link is faster than any compressor, so the SDK's deflate is
 * pure cost; a phone's link (Wi-Fi, LTE) is not, and there the bytes deflate saves are what counts. The namespace
 * holds everything (the relay, both clients, both ends of the raw channel), so every byte of every path crosses the
 * one shaped loopback, in both directions, and nothing outside the namespace is touched. Linux and root only (`ip`,
 * `tc` of iproute2); the kernel here has `tbf` but not `netem`, so the link has a rate and no added delay.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { deleteNamespace, removeStaleNamespaces, runCommand as run } from '@oppie/test-kit';

/** `oppie-<pid>-...` like every namespace the project makes, so a sweep of dead runs' namespaces removes it. */
const NS_PREFIX = 'oppie-';
/** The namespace's one non-loopback address (a private /24 that exists only inside it). */
const HOST_ADDRESS = '10.231.0.1/24';

/** A namespace `ns` whose loopback carries `mbit` Mbit/s, with one address outside loopback. */
function build(ns: string, mbit: number): void {
  run('ip', ['netns', 'add', ns]);
  run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // Chromium gathers no host candidate from loopback: an address on an interface of the namespace's own (a veth
  // pair with both ends inside) gives it one, and traffic to a local address still goes through lo.
  run('ip', ['-n', ns, 'link', 'add', 'oppie0', 'type', 'veth', 'peer', 'name', 'oppie1']);
  run('ip', ['-n', ns, 'addr', 'add', HOST_ADDRESS, 'dev', 'oppie0']);
  for (const dev of ['oppie0', 'oppie1']) run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  // The bucket holds at least a timer tick's worth of the rate (HZ 250), or tbf caps a fast link below its rate.
  const burst = Math.max(256 * 1024, Math.ceil((mbit * 1e6) / 8 / 250));
  run('tc', [
    '-n',
    ns,
    'qdisc',
    'add',
    'dev',
    'lo',
    'root',
    'tbf',
    'rate',
    `${mbit}mbit`,
    'burst',
    String(burst),
    'latency',
    '50ms',
  ]);
}

/** Deletes `ns` and what still runs in it; a failure is a warning, so it cannot hide the run's own result. */
function remove(ns: string): void {
  try {
    deleteNamespace(ns);
  } catch (err) {
    process.stderr.write(`warning: network namespace ${ns} not removed: ${(err as Error).message}\n`);
  }
}

let probed: string | undefined | null = null;

/**
 * Why a shaped run cannot happen here, or undefined when it can: Linux, root, iproute2, and a namespace with the veth
 * pair and the tbf qdisc really built and removed once (root in a container may lack the capability, a kernel the
 * qdisc).
 */
export function shapedLinkMissing(): string | undefined {
  if (probed !== null) return probed;
  probed = probe();
  return probed;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'creating a network namespace needs root';
  for (const cmd of ['ip', 'tc']) {
    try {
      run(cmd, ['-V']);
    } catch {
      return `\`${cmd}\` is missing (apt-get install iproute2)`;
    }
  }
  const ns = `${NS_PREFIX}${process.pid}-bench-probe`;
  try {
    build(ns, 100);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    remove(ns);
  }
}

/**
 * Inside a shaped run: the rate of the tbf qdisc on this namespace's loopback, so the report names the link it was
 * measured on, not what an environment variable says.
 */
export function shapedLinkRate(): string | undefined {
  try {
    return /\btbf\b.*\brate (\S+)/.exec(run('tc', ['qdisc', 'show', 'dev', 'lo']))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Runs `node <nodeArgs>` in a new namespace whose loopback carries `mbit` Mbit/s, and removes the namespace after (also
 * on SIGINT/SIGTERM). Resolves with the child's exit code. The child sees `BENCH_LINK_MBIT`.
 *
 * @example
 * process.exitCode = await runOnShapedLink(100, ['--expose-gc', 'bench/dist/direct-bench.js', '--quick']);
 */
export async function runOnShapedLink(mbit: number, nodeArgs: readonly string[]): Promise<number> {
  if (!(Number.isFinite(mbit) && mbit >= 1 && mbit <= 100_000))
    throw new RangeError(`--link-mbit must be 1 to 100000, got ${mbit}`);
  const missing = shapedLinkMissing();
  if (missing !== undefined) throw new Error(`--link-mbit: ${missing}`);
  removeStaleNamespaces();
  const ns = `${NS_PREFIX}${process.pid}-bench`;
  let child: ChildProcess | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    child?.kill('SIGKILL');
    remove(ns);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    build(ns, mbit);
    const started = spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_LINK_MBIT: String(mbit) },
    });
    child = started;
    // A spawn that fails emits 'error' and no 'close'.
    const code = await new Promise<number | null>((resolve, reject) => {
      started.once('error', reject);
      started.once('close', (c) => resolve(c));
    });
    return code ?? 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    remove(ns);
  }
}
