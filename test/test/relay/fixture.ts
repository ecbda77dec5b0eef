import {
  type ConnectOptions,
  connectDevice,
  type PairedDevice,
  pairDevice,
  type RelayOverrides,
  registerDevice,
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
export async function pairOnRelay(overrides: RelayOverrides = {}): Promise<Pair> {
  const t = await startTestRelay(overrides);
  const sidecar = await registerDevice(t.url, 'workstation');
  const phone = await pairDevice(t.url, sidecar.token, 'phone');
  return { t, sidecar, phone, connect: (device, opts) => connectDevice(t.url, device, opts) };
}
