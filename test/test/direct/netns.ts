import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { commandErrorText, deleteNamespace, removeStaleNamespaces, runCommand as sh } from '@oppie/test-kit';

/**
 * A network-namespace lab for tests that need separate hosts on one machine (strict NAT simulation for the direct
 * path). Every host is its own namespace with `lo` and one veth interface `eth0` plugged into a Linux bridge that
 * lives in a namespace of its own; nothing on the machine's real network changes. The namespaces have no route
 * anywhere but the lab's /24, so code inside them can only reach the lab's addresses and loopback.
 *
 * @example
 * if (!requireNetns()) return;
 * const lab = await NetLab.create(['a', 'b']);
 * try {
 *   lab.iptables('b', '-A', 'INPUT', '-s', lab.ip('a'), '-j', 'DROP');
 *   const server = lab.spawn('b', 'node', ['server.js']);
 * } finally {
 *   await lab.destroy();
 * }
 */

const NS_PREFIX = 'oppie-';
const CMD_TIMEOUT_MS = 10_000;
const TERM_GRACE_MS = 4_000;

let probeResult: string | null | undefined;

/** Why network namespaces cannot be used here, or null when they can (probed once per process). */
function netnsProblem(): string | null {
  if (probeResult !== undefined) return probeResult;
  probeResult = probe();
  return probeResult;
}

function probe(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const bin of ['ip', 'iptables']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `${bin} is not installed`;
    }
  }
  const ns = `${NS_PREFIX}${process.pid}-probe${randomBytes(3).toString('hex')}`;
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '-A', 'INPUT', '-p', 'udp', '-j', 'DROP']);
    sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '-F']);
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    try {
      deleteNamespace(ns);
    } catch {
      // reported by the probe itself
    }
  }
}

/**
 * Whether network namespaces (root, `ip netns`, `iptables`) work here. Under CI=true a missing capability fails the
 * test (CI runs as root with iproute2 and iptables); elsewhere the test is skipped with a loud line saying what is
 * needed. Never a silent skip.
 */
export function requireNetns(): boolean {
  const problem = netnsProblem();
  if (problem === null) return true;
  const need = 'run as root with iproute2 and iptables installed (apt-get install -y iproute2 iptables)';
  if (process.env.CI === 'true') {
    throw new Error(`network namespaces are required in CI but unusable (${problem}): ${need}`);
  }
  console.warn(`\n!!! SKIPPED: network namespaces are unusable here (${problem}). To run this test, ${need}\n`);
  return false;
}

interface Host {
  readonly ns: string;
  readonly ip: string;
}

export interface LabExecOptions {
  /** Kills the command after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Written to the command's stdin. */
  readonly input?: string;
}

export interface LabRunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Uniquely named namespaces joined by a bridge; see the module comment. */
export class NetLab {
  /** The namespace name prefix of this lab, `oppie-<pid>-<random>-`. */
  readonly prefix: string;
  /** The lab's subnet, `10.x.y.0/24`. */
  readonly subnet: string;
  private readonly hosts = new Map<string, Host>();
  private readonly bridgeNs: string;
  /** Namespaces made and not yet deleted, bridge first. */
  private readonly made: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroying: Promise<void> | undefined;

  private constructor(names: readonly string[]) {
    const rnd = randomBytes(4);
    this.prefix = `${NS_PREFIX}${process.pid}-${rnd.toString('hex').slice(0, 6)}-`;
    // 10.64.0.0 .. 10.127.255.0: a /24 per lab. The namespaces are isolated, so this only aids reading logs.
    const net = `10.${64 + ((rnd[3] ?? 0) % 64)}.${rnd[2] ?? 0}`;
    this.subnet = `${net}.0/24`;
    this.bridgeNs = `${this.prefix}bridge`;
    // Host i (0-based) gets .(i + 10).
    names.forEach((name, i) => {
      this.hosts.set(name, { ns: `${this.prefix}${name}`, ip: `${net}.${i + 10}` });
    });
  }

  /**
   * Creates one namespace per host name (lowercase letters and digits, not `bridge`), each with `lo` up and `eth0`
   * addressed in the lab's /24, all joined by a bridge in a namespace of its own. Removes stale labs of dead
   * processes first. On failure everything made so far is removed again.
   */
  static async create(names: readonly string[]): Promise<NetLab> {
    if (names.length === 0 || names.length > 200) throw new Error('NetLab.create: give 1..200 host names');
    for (const n of names) {
      if (!/^[a-z][a-z0-9]{0,15}$/.test(n) || n === 'bridge') {
        throw new Error(`NetLab.create: bad host name ${JSON.stringify(n)} (lowercase letters/digits, not "bridge")`);
      }
    }
    if (new Set(names).size !== names.length) throw new Error('NetLab.create: host names must be unique');
    removeStaleNamespaces();
    const lab = new NetLab(names);
    try {
      lab.build();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private build(): void {
    const br = this.bridgeNs;
    sh('ip', ['netns', 'add', br]);
    this.made.push(br);
    sh('ip', ['-n', br, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', br, 'link', 'set', 'br0', 'up']);
    let i = 0;
    for (const host of this.hosts.values()) {
      const port = `p${i++}`;
      sh('ip', ['netns', 'add', host.ns]);
      this.made.push(host.ns);
      sh('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up']);
      // Both ends are created inside the lab's namespaces: the machine's own namespace never sees them.
      sh('ip', ['-n', br, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
      sh('ip', ['-n', br, 'link', 'set', port, 'master', 'br0']);
      sh('ip', ['-n', br, 'link', 'set', port, 'up']);
      sh('ip', ['-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', host.ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  private host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`NetLab: no host ${JSON.stringify(name)} (hosts: ${[...this.hosts.keys()].join(', ')})`);
    if (this.destroying) throw new Error('NetLab: the lab was destroyed');
    return h;
  }

  /** The host names, in creation order. */
  names(): string[] {
    return [...this.hosts.keys()];
  }

  /** The host's address on the lab network. */
  ip(name: string): string {
    return this.host(name).ip;
  }

  /** The host's namespace name (for `ip netns exec <ns> ...` in messages or by hand). */
  ns(name: string): string {
    return this.host(name).ns;
  }

  /**
   * Starts `cmd args` inside the host's namespace (via `ip netns exec`, which execs the command in place, so the
   * child's pid is the command's). The child leads its own process group; destroy() ends the whole group.
   */
  spawn(name: string, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    const { ns } = this.host(name);
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { ...opts, detached: true });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** Runs `cmd args` in the host's namespace and returns its stdout; throws with its stderr when it fails. */
  exec(name: string, cmd: string, args: readonly string[] = [], opts: LabExecOptions = {}): string {
    const { ns } = this.host(name);
    try {
      return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], {
        encoding: 'utf8',
        stdio: ['pipe', 'pipe', 'pipe'],
        timeout: opts.timeoutMs ?? CMD_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        ...(opts.input === undefined ? {} : { input: opts.input }),
      });
    } catch (err) {
      throw new Error(`[${name}] ${cmd} ${args.join(' ')} failed: ${commandErrorText(err)}`);
    }
  }

  /**
   * Runs `cmd args` in the host's namespace without blocking the event loop; resolves with its exit status and
   * output (never rejects for a non-zero exit; a timeout kills it and resolves with signal SIGKILL).
   */
  run(name: string, cmd: string, args: readonly string[] = [], opts: LabExecOptions = {}): Promise<LabRunResult> {
    const child = this.spawn(name, cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin?.end(opts.input ?? '');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), opts.timeoutMs ?? CMD_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  /** `iptables -w args` inside the host's namespace (its own tables: the machine's firewall is untouched). */
  iptables(name: string, ...args: string[]): string {
    return this.exec(name, 'iptables', ['-w', ...args]);
  }

  /** Flushes every rule in the host's filter table and sets the policies back to ACCEPT. */
  resetFirewall(name: string): void {
    this.iptables(name, '-F');
    for (const chain of ['INPUT', 'OUTPUT', 'FORWARD']) this.iptables(name, '-P', chain, 'ACCEPT');
  }

  /**
   * Ends every process it spawned (SIGTERM to the process group, SIGKILL after a grace period), then any other
   * process left inside its namespaces, and deletes all its namespaces. Idempotent: later calls return the same
   * promise. Use it in `finally` / `afterAll`.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private async teardown(): Promise<void> {
    const live = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = live.map((c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r()))));
    for (const c of live) killGroup(c, 'SIGTERM');
    const all = Promise.all(exited);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), TERM_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (graceOver) {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) killGroup(c, 'SIGKILL');
      await Promise.race([all, new Promise((r) => setTimeout(r, 2_000))]);
    }
    const errors: string[] = [];
    // Hosts first, the bridge (made first) last: deleting it removes the veth ends still in it.
    for (const ns of [...this.made].reverse()) {
      try {
        deleteNamespace(ns);
        this.made.splice(this.made.indexOf(ns), 1);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length > 0) throw new Error(`NetLab.destroy: ${errors.join('; ')}`);
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
