/**
 * The parent side of bench:direct's `--split` receiver (direct-receiver.ts): one child process, the receiving end of
 * one throughput run after another.
 */
import { fileURLToPath } from 'node:url';
import type { DirectReceiverCommand, DirectReceiverMessage } from './direct-receiver.js';
import { forkIpcChild, type IpcChild } from './ipc-child.js';

const RECEIVER_ENTRY = fileURLToPath(new URL('./direct-receiver.js', import.meta.url));

/**
 * The child process that is the receiving end of every throughput run with `--split` (direct-receiver.ts), pinned to
 * `cpu` with `--pin` (this process then holds another CPU: one core per end, as two devices). One child serves all
 * runs, so both ends are warm when judged: a child per run (before 2026-12-02 21:00Z) spent each run compiling.
 *
 * @example
 * const receiver = new ReceiverProcess(1);
 * const phoneId = await receiver.sdk({ url, link, direct: true, compression: 'zlib' });
 * // ... the run ...
 * const got = await receiver.handed(); // what the phone's app was handed
 * await receiver.end();
 * await receiver.close();
 */
export class ReceiverProcess {
  private readonly ipc: IpcChild<DirectReceiverCommand, DirectReceiverMessage>;
  private onSignal: ((data: unknown) => void) | undefined;

  /** `entry` is the compiled direct-receiver.js (tests start it from their own path). */
  constructor(cpu?: number, entry = RECEIVER_ENTRY) {
    this.ipc = forkIpcChild<DirectReceiverCommand, DirectReceiverMessage>(
      entry,
      (m) => {
        if (m.type === 'signal') this.onSignal?.(m.data);
      },
      cpu,
    );
  }

  get pid(): number | undefined {
    return this.ipc.child.pid;
  }

  /** A raw answerer crediting every fourth of `count` messages; its signals go to `onSignal` until the run ends. */
  raw(count: number, onSignal: (data: unknown) => void): void {
    this.onSignal = onSignal;
    this.ipc.command({ cmd: 'raw', count });
  }

  signal(data: unknown): void {
    this.ipc.command({ cmd: 'signal', data });
  }

  /** A phone paired with `cmd.link` and connected: its device id. */
  async sdk(cmd: Omit<Extract<DirectReceiverCommand, { cmd: 'sdk' }>, 'cmd'>): Promise<string> {
    const ready = this.ipc.next('ready');
    this.ipc.command({ cmd: 'sdk', ...cmd });
    return (await ready).deviceId;
  }

  /** What the run's end was handed so far: the raw channel's messages, or the phone app's `diff` messages. */
  async handed(): Promise<number> {
    const count = this.ipc.next('count');
    this.ipc.command({ cmd: 'count' });
    return (await count).handed;
  }

  /** Closes the run's end; the process stays for the next run. */
  async end(): Promise<void> {
    const ended = this.ipc.next('ended');
    this.ipc.command({ cmd: 'end' });
    try {
      await ended;
    } finally {
      this.onSignal = undefined; // the run is over either way: its signals go nowhere
    }
  }

  close(): Promise<void> {
    return this.ipc.close();
  }
}
