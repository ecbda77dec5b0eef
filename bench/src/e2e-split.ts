/**
 * `bench:e2e --split`: the same paths as e2e-paths.ts, with the receiving end in a child process
 * (e2e-receiver.ts). The sender stays in the bench process, so the bench's own CPU time is the sender's and the
 * child's (from /proc) is the receiver's: the per-end cost that the one-process topology can only report as a sum.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pairDevice, registerDevice } from '@oppie/test-kit';
import { readCpuSeconds } from './child.js';
import { clearFrameCrypto } from './e2e-clear.js';
import { plaintextSender, type StreamPath, sdkClient, sdkWireBytes } from './e2e-paths.js';
import type { ReceiverCommand, ReceiverMessage } from './e2e-receiver.js';
import type { FrameBackend } from './frame-backend.js';
import { BenchPeer, openSocket } from './peers.js';

const ENTRY = fileURLToPath(new URL('./e2e-receiver.js', import.meta.url));
const SETUP_TIMEOUT_MS = 30_000;

interface Receiver {
  readonly child: ChildProcess;
  command(cmd: ReceiverCommand): void;
  ready(): Promise<string>;
  cpuSeconds(): Promise<number>;
  close(): Promise<void>;
}

function spawnReceiver(cpu: number | undefined, onMessage: (m: ReceiverMessage) => void): Receiver {
  const stdio = ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[];
  const execArgv = (process.env.BENCH_RECEIVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // taskset execs node in place: same pid, and the IPC channel (NODE_CHANNEL_FD) is inherited.
  const child =
    cpu === undefined
      ? fork(ENTRY, [], { stdio, execArgv })
      : spawn('taskset', ['-c', String(cpu), process.execPath, ...execArgv, ENTRY], { stdio });
  let readyWaiter: { resolve: (id: string) => void; reject: (e: Error) => void } | undefined;
  child.on('message', (m: ReceiverMessage) => {
    if (m.type === 'ready') readyWaiter?.resolve(m.deviceId);
    else if (m.type === 'failure' && readyWaiter !== undefined) readyWaiter.reject(new Error(m.message));
    onMessage(m);
  });
  child.once('exit', (code) => readyWaiter?.reject(new Error(`receiver child exited (${code})`)));
  return {
    child,
    command: (cmd) => child.send(cmd),
    ready: () =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('receiver child: not ready in time')), SETUP_TIMEOUT_MS);
        readyWaiter = {
          resolve: (id) => {
            clearTimeout(timer);
            readyWaiter = undefined;
            resolve(id);
          },
          reject: (e) => {
            clearTimeout(timer);
            readyWaiter = undefined;
            reject(e);
          },
        };
      }),
    cpuSeconds: () => readCpuSeconds(child.pid as number),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.send({ cmd: 'close' } satisfies ReceiverCommand);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Routes the child's delivery batches to the path's callbacks, on this process's clock. */
function deliveries(path: () => StreamPath, settleOnDelivery: boolean) {
  return (m: ReceiverMessage) => {
    const p = path();
    if (m.type === 'failure') p.onFailure(m.message);
    if (m.type !== 'delivered') return;
    for (let k = 0; k < m.items.length; k += 2) {
      const i = m.items[k] as number;
      const at = (m.items[k + 1] as number) - performance.timeOrigin;
      p.onDelivered(i, at);
      if (settleOnDelivery) p.onSettled(i);
    }
  };
}

/** Plaintext: A (sidecar) here, B (its paired PWA) in the child; the window frees when B reports the delivery. */
export async function splitPlaintextPath(url: string, receiverCpu: number | undefined): Promise<StreamPath> {
  const sidecar = await registerDevice(url, 'e2e-bench-split-a');
  const pwa = await pairDevice(url, sidecar.token, 'e2e-bench-split-b');
  let path: StreamPath | undefined;
  const receiver = spawnReceiver(
    receiverCpu,
    deliveries(() => path as StreamPath, true),
  );
  const ready = receiver.ready();
  receiver.command({ cmd: 'plain', url, deviceId: pwa.deviceId, token: pwa.token });
  await ready;
  const a = new BenchPeer(await openSocket({ kind: 'relay', url }, sidecar), sidecar.deviceId, true);
  const p: StreamPath = {
    ...plaintextSender(a, pwa.deviceId),
    receiverCpuSeconds: () => receiver.cpuSeconds(),
    async close() {
      a.close();
      await receiver.close();
    },
  };
  a.onFailure = (m) => p.onFailure(m);
  path = p;
  return p;
}

/**
 * SDK: the sidecar OppieClient here, the phone OppieClient in the child, paired through the relay; with `clear`,
 * both on the copy cipher of e2e-clear.ts (the `sdk-clear` path).
 */
export async function splitSdkPath(
  url: string,
  receiverCpu: number | undefined,
  frameCrypto: FrameBackend,
  clear = false,
): Promise<StreamPath> {
  const sidecar = await sdkClient(
    url,
    'sidecar',
    'e2e-bench-split-workstation',
    clear ? clearFrameCrypto(frameCrypto) : undefined,
  );
  await sidecar.register();
  await sidecar.connect();
  const offer = await sidecar.createPairing();
  let path: StreamPath | undefined;
  const receiver = spawnReceiver(
    receiverCpu,
    deliveries(() => path as StreamPath, false),
  );
  const ready = receiver.ready();
  receiver.command({ cmd: 'sdk', url, link: offer.link, frameCrypto, clear });
  const [to] = await Promise.all([ready, offer.completed]);
  const p: StreamPath = {
    kind: clear ? 'sdk-clear' : 'sdk',
    onDelivered: () => {},
    onSettled: () => {},
    onFailure: () => {},
    send(i, payload) {
      sidecar.send('chat', payload, { to }).then(
        () => p.onSettled(i),
        (err: unknown) => p.onFailure(`sdk send ${i}: ${err instanceof Error ? err.message : String(err)}`),
      );
    },
    wireBytes: (payload) => sdkWireBytes(payload, sidecar.deviceId, to),
    receiverCpuSeconds: () => receiver.cpuSeconds(),
    async close() {
      await sidecar.close();
      await receiver.close();
    },
  };
  sidecar.events.on('error', (e) => p.onFailure(`sidecar: ${e.message}`));
  path = p;
  return p;
}
