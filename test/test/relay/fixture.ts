import {
  type ConnectOptions,
  connectDevice,
  type PairedDevice,
  pairDevice,
  type RelayOverrides,
  registerDevice,
  type StartTestRelayOptions,
  startTestRelay,
  type TestDevice,
  type TestRelay,
} from '@oppie/test-kit';

export interface Pair {
  readonly t: TestRelay;
  readonly sidecar: TestDevice;
  readonly phone: PairedDevice;
  connect(device: TestDevice, opts?: ConnectOptions): ReturnType<typeof connectDevice>;
}

/** A relay with one account: a sidecar and a phone paired to it. */
export async function pairOnRelay(overrides: RelayOverrides = {}, opts: StartTestRelayOptions = {}): Promise<Pair> {
  const t = await startTestRelay(overrides, opts);
  const sidecar = await registerDevice(t.url, 'workstation');
  const phone = await pairDevice(t.url, sidecar.token, 'phone');
  return { t, sidecar, phone, connect: (device, opts) => connectDevice(t.url, device, opts) };
}
