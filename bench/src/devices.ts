/**
 * Bench devices on the relay: sidecars registered, PWAs paired to them (`perAccount` devices per account, so the
 * account connection limit and per-account presence fan-out stay realistic). Baseline devices are just ids.
 */
import { pairDevice, refreshToken, registerDevice, type TestDevice } from '@oppie/test-kit';
import type { BenchDevice } from './peers.js';
import { runPool } from './pool.js';

export interface RegisterOptions {
  /** Devices per account: one sidecar and `perAccount - 1` PWAs. */
  readonly perAccount: number;
  readonly concurrency: number;
  /** Source addresses to spread the REST calls over. */
  readonly addresses: readonly string[];
  readonly deadlineMs: number;
  readonly log: (line: string) => void;
}

/**
 * Registers `count` relay devices.
 *
 * @example
 * const devices = await registerRelayDevices(url, 10_000, { perAccount: 20, concurrency: 16, addresses, deadlineMs: 600_000, log });
 */
export async function registerRelayDevices(url: string, count: number, opts: RegisterOptions): Promise<TestDevice[]> {
  const perAccount = Math.max(1, opts.perAccount);
  const accounts = Math.ceil(count / perAccount);
  const addr = (i: number) => opts.addresses[i % opts.addresses.length];
  const started = Date.now();
  const sidecars = await runPool(
    accounts,
    (i) => registerDevice(url, `bench-sidecar-${i}`, { localAddress: addr(i) }),
    {
      concurrency: opts.concurrency,
      deadlineMs: opts.deadlineMs,
      label: 'register sidecar',
    },
  );
  const pwas = await runPool(
    count - accounts,
    (i) => {
      const sidecar = sidecars[i % accounts] as TestDevice;
      return pairDevice(url, sidecar.token, `bench-pwa-${i}`, { localAddress: addr(i) });
    },
    {
      concurrency: opts.concurrency,
      deadlineMs: Math.max(1, opts.deadlineMs - (Date.now() - started)),
      label: 'pair pwa',
      progressEvery: 2000,
      onProgress: (n) => opts.log(`  paired ${n}/${count - accounts}`),
    },
  );
  opts.log(`  ${accounts} sidecars + ${pwas.length} PWAs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return [...sidecars, ...pwas];
}

/** Renews tokens that would expire within `marginMs` (a long registration can outlive the first tokens). */
export async function freshenTokens(
  url: string,
  devices: TestDevice[],
  marginMs: number,
  opts: Pick<RegisterOptions, 'concurrency' | 'addresses' | 'deadlineMs'>,
): Promise<TestDevice[]> {
  const stale = devices.map((d, i) => [d, i] as const).filter(([d]) => d.expiresAt - Date.now() < marginMs);
  if (stale.length === 0) return devices;
  const renewed = await runPool(
    stale.length,
    (k) => {
      const [d] = stale[k] as readonly [TestDevice, number];
      return refreshToken(url, d, { localAddress: opts.addresses[k % opts.addresses.length] });
    },
    { concurrency: opts.concurrency, deadlineMs: opts.deadlineMs, label: 'refresh token' },
  );
  const out = [...devices];
  stale.forEach(([, i], k) => {
    out[i] = renewed[k] as TestDevice;
  });
  return out;
}

/** Baseline devices: ids only, in the relay's id alphabet. */
export function baselineDevices(count: number, prefix: string): BenchDevice[] {
  return Array.from({ length: count }, (_, i) => ({ deviceId: `${prefix}-${i.toString().padStart(6, '0')}` }));
}
