/**
 * The parent side of a server child process: spawn, wait for `ready`, ask for a GC, read its RSS from /proc, close.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ChildCommand, ChildMessage } from './child-protocol.js';

export type ServerKind = 'baseline' | 'relay';

export interface ServerChild {
  readonly kind: ServerKind;
  readonly url: string;
  readonly pid: number;
  /** Runs two GC passes in the child; resolves false when the child has no exposed gc. */
  gc(): Promise<boolean>;
  /** The child's resident set size in bytes (VmRSS of /proc/<pid>/status). */
  rss(): Promise<number>;
  /** CPU time the child has used so far (user + system), in seconds. */
  cpuSeconds(): Promise<number>;
  close(): Promise<void>;
}

const ENTRY: Record<ServerKind, string> = {
  baseline: fileURLToPath(new URL('./baseline-server.js', import.meta.url)),
  relay: fileURLToPath(new URL('./relay-server.js', import.meta.url)),
};

const START_TIMEOUT_MS = 30_000;
const COMMAND_TIMEOUT_MS = 30_000;

/** Reads VmRSS of a process, in bytes. */
export async function readRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Linux reports process times in clock ticks; USER_HZ is 100 on every mainstream kernel build. */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat). */
export async function readCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; the fields after it start behind the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function waitMessage(child: ChildProcess, accept: (m: ChildMessage) => boolean, what: string, ms: number) {
  return new Promise<ChildMessage>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`server child: no ${what} within ${ms} ms`)), ms);
    const onMessage = (m: ChildMessage) => {
      if (m.type === 'failed') finish(new Error(`server child failed: ${m.message}`));
      else if (accept(m)) finish(undefined, m);
    };
    const onExit = (code: number | null) => finish(new Error(`server child exited (${code}) before ${what}`));
    function finish(err?: Error, m?: ChildMessage) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m as ChildMessage);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * Starts a server in a child process with `--expose-gc` (plus the flags in `BENCH_SERVER_NODE_ARGS`).
 *
 * @param env extra environment (the relay reads its overrides from `BENCH_RELAY_OVERRIDES`)
 * @param cpu pin the server to this CPU (Linux, taskset)
 * @example
 * const relay = await spawnServer('relay', { BENCH_RELAY_OVERRIDES: JSON.stringify({ envelopesPerSecond: 1e6 }) });
 */
export async function spawnServer(
  kind: ServerKind,
  env: Record<string, string> = {},
  cpu?: number,
): Promise<ServerChild> {
  // BENCH_SERVER_NODE_ARGS adds node flags for the server only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const execArgv = ['--expose-gc', ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const options = { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as const };
  // taskset execs node in place: same pid, and the IPC channel (NODE_CHANNEL_FD) is inherited.
  const child =
    cpu === undefined
      ? fork(ENTRY[kind], [], { ...options, stdio: [...options.stdio], execArgv })
      : spawn('taskset', ['-c', String(cpu), process.execPath, ...execArgv, ENTRY[kind]], {
          ...options,
          stdio: [...options.stdio],
        });
  let ready: ChildMessage;
  try {
    ready = await waitMessage(child, (m) => m.type === 'ready', 'ready', START_TIMEOUT_MS);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const pid = child.pid as number;
  const command = async (cmd: ChildCommand) => {
    const reply = waitMessage(
      child,
      (m) => m.type === 'done' && m.cmd === cmd.cmd,
      `${cmd.cmd} reply`,
      COMMAND_TIMEOUT_MS,
    );
    child.send(cmd);
    return reply;
  };
  return {
    kind,
    url: (ready as { url: string }).url,
    pid,
    async gc() {
      const m = await command({ cmd: 'gc' });
      return m.type === 'done' && m.gc;
    },
    rss: () => readRss(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        await command({ cmd: 'close' });
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
      clearTimeout(timer);
    },
  };
}
