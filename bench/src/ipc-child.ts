/**
 * The parent side of a bench child spoken to over IPC (the `--split` receivers of bench:e2e and bench:direct):
 * commands in, typed messages out, a `failure` message or the child's exit rejecting whatever waits, and a close
 * that cannot hang.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readCpuSeconds } from './child.js';

const WAIT_MS = 30_000;
const CLOSE_KILL_MS = 10_000;

export interface IpcChild<Cmd, Msg extends { readonly type: string }> {
  readonly child: ChildProcess;
  command(cmd: Cmd): void;
  /** The child's next message of `type`; a `failure` message, its exit or 30 s without one rejects. */
  next<T extends Msg['type']>(type: T): Promise<Extract<Msg, { type: T }>>;
  cpuSeconds(): Promise<number>;
  /** Sends `{ cmd: 'close' }` and waits for the exit (SIGKILL after 10 s). */
  close(): Promise<void>;
}

/**
 * Forks `entry` (pinned to `cpu` with taskset when given; `BENCH_RECEIVER_NODE_ARGS` are its node flags); every
 * message also goes to `onMessage`.
 *
 * @example
 * const receiver = forkIpcChild<Command, Message>(ENTRY, () => {});
 * const ready = receiver.next('ready');
 * receiver.command({ cmd: 'sdk', url, link });
 * const { deviceId } = await ready;
 */
export function forkIpcChild<Cmd, Msg extends { readonly type: string; readonly message?: string }>(
  entry: string,
  onMessage: (m: Msg) => void,
  cpu?: number,
): IpcChild<Cmd, Msg> {
  const stdio = ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[];
  const execArgv = (process.env.BENCH_RECEIVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // taskset execs node in place: same pid, and the IPC channel (NODE_CHANNEL_FD) is inherited.
  const child =
    cpu === undefined
      ? fork(entry, [], { stdio, execArgv })
      : spawn('taskset', ['-c', String(cpu), process.execPath, ...execArgv, entry], { stdio });
  const waiters = new Set<(m: Msg | Error) => void>();
  child.on('message', (m: Msg) => {
    for (const w of [...waiters]) w(m.type === 'failure' ? new Error(m.message) : m);
    onMessage(m);
  });
  child.once('exit', (code) => {
    for (const w of [...waiters]) w(new Error(`child ${entry} exited (${code})`));
  });
  return {
    child,
    command: (cmd) => child.send(cmd as object),
    next: (type) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`child ${entry}: no ${type} within ${WAIT_MS} ms`)), WAIT_MS);
        const done = (m: Msg | Error) => {
          if (!(m instanceof Error) && m.type !== type) return;
          clearTimeout(timer);
          waiters.delete(done);
          if (m instanceof Error) reject(m);
          else resolve(m as Extract<Msg, { type: typeof type }>);
        };
        waiters.add(done);
      }),
    cpuSeconds: () => readCpuSeconds(child.pid as number),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_KILL_MS);
      child.send({ cmd: 'close' });
      await exited;
      clearTimeout(timer);
    },
  };
}
