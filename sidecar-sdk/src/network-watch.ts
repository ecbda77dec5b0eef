import { networkInterfaces } from 'node:os';

/** The addresses of every interface, as one comparable string. */
function fingerprint(): string {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) out.push(`${name}/${a.address}`);
  }
  return out.sort().join(',');
}

/**
 * Calls `onChange` when the machine's network interfaces or addresses change (a laptop moving between networks, a
 * VPN coming up): Node has no event for it, so it polls, cheaply, every `intervalMs` (default 5 s). The timer does not
 * keep the process alive. Returns a function that stops watching.
 *
 * @example
 * const stop = watchNetwork(() => client.networkChanged());
 * // on shutdown:
 * stop();
 */
export function watchNetwork(onChange: () => void, intervalMs = 5_000, read: () => string = fingerprint): () => void {
  let last = read();
  const timer = setInterval(() => {
    const now = read();
    if (now === last) return;
    last = now;
    onChange();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
