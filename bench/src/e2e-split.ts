/**
 * `bench:e2e --split`: the same paths as e2e-paths.ts, with the receiving end in a child process
 * (e2e-receiver.ts). The sender stays in the bench process, so the bench's own CPU time is the sender's and the
 * child's (from /proc) is the receiver's: the per-end cost that the one-process topology can only report as a sum.
 */
import { fileURLToPath } from 'node:url';
import { pairDevice, registerDevice } from '@oppie/test-kit';
import { clearFrameCrypto } from './e2e-clear.js';
import { plaintextSender, type StreamPath, sdkClient, sdkWireBytes } from './e2e-paths.js';
import type { ReceiverCommand, ReceiverMessage } from './e2e-receiver.js';
import type { FrameBackend } from './frame-backend.js';
import { forkIpcChild, type IpcChild } from './ipc-child.js';
import { BenchPeer, openSocket } from './peers.js';

const ENTRY = fileURLToPath(new URL('./e2e-receiver.js', import.meta.url));
type Receiver = IpcChild<ReceiverCommand, ReceiverMessage>;

const spawnReceiver = (cpu: number | undefined, onMessage: (m: ReceiverMessage) => void): Receiver =>
  forkIpcChild<ReceiverCommand, ReceiverMessage>(ENTRY, onMessage, cpu);

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
  const ready = receiver.next('ready');
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
  const ready = receiver.next('ready').then((m) => m.deviceId);
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
