import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';

/**
 * The addresses a direct path can use, as one comparable string. Loopback and link-local addresses (fe80::/10,
 * 169.254/16) are left out: a veth pair that a container runtime adds carries only those, and restarting a working
 * data channel for it would resend the peer's whole window on the relay for nothing.
 */
export function networkFingerprint(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(interfaces)) {
    for (const a of addrs ?? []) {
      if (a.internal || /^fe[89ab][0-9a-f]:/i.test(a.address) || a.address.startsWith('169.254.')) continue;
      out.push(`${name}/${a.address}`);
    }
  }
  return out.sort().join(',');
}

/**
 * Calls `onChange` when the machine's usable addresses change (a laptop moving between networks, a VPN coming up;
 * see {@link networkFingerprint}): Node has no event for it, so it polls, cheaply, every `intervalMs` (default 5 s). The timer does not
 * keep the process alive. Returns a function that stops watching.
 *
 * @example
 * const stop = watchNetwork(() => client.networkChanged());
 * // on shutdown:
 * stop();
 */
export function watchNetwork(
  onChange: () => void,
  intervalMs = 5_000,
  read: () => string = networkFingerprint,
): () => void {
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
