/**
 * CPU pinning. On a small machine the scheduler sometimes runs the client and the server on one core and sometimes on
 * two, which moves latency and throughput by 2x between runs; pinning each to its own core makes runs comparable.
 * Linux only (taskset); without it, or with fewer than two allowed CPUs, nothing is pinned.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Pinning {
  readonly client: number;
  readonly server: number;
}

/** CPUs this process may run on, from `Cpus_allowed_list` ("0-3,8"). */
export function allowedCpus(): number[] {
  const status = readFileSync('/proc/self/status', 'utf8');
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] ?? '';
  const cpus: number[] = [];
  for (const part of list.split(',').filter(Boolean)) {
    const [lo, hi] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = lo; c <= (hi ?? lo); c++) cpus.push(c);
  }
  return cpus;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The client on the first allowed CPU, the server on the second; undefined when pinning is not possible. */
export function planPinning(): Pinning | undefined {
  if (process.platform !== 'linux' || !hasTaskset()) return undefined;
  const [client, server] = allowedCpus();
  return client === undefined || server === undefined ? undefined : { client, server };
}

/** Pins every thread of this process to `cpu`. */
export function pinSelf(cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
}
