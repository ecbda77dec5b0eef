/**
 * Which path a connected peer connection took, from its stats: `turn` when either end of the selected candidate pair
 * is a relay candidate (with policy `all` often only one side is relayed), else `direct`. The local candidate's
 * `relayProtocol` tells TURN over UDP from TURN over TCP/TLS (its `protocol` says `udp` even for TURN over TCP).
 */
export interface SelectedPath {
  readonly path: 'direct' | 'turn';
  readonly relayProtocol?: 'udp' | 'tcp' | 'tls';
  /** Whether this side's own candidate is a TURN relay (what this side tells its peer). */
  readonly localRelay?: boolean;
  /**
   * A direct path within a local network, as this side sees the selected pair: both candidates host or
   * peer-reflexive, on {@link isLocalAddress} addresses, and not on a cellular or VPN interface where the stats say.
   * Not a server-reflexive (NAT-traversing) or relayed pair. A VPN overlay whose interface is not reported as one
   * (WireGuard on 10.x, Tailscale's fd7a:115c:a1e0::/48) counts as local; a dual-stack LAN whose pair is on global
   * IPv6 addresses does not.
   */
  readonly lan?: boolean;
}

/**
 * Whether a candidate's address is one that only a local network reaches: loopback, private (RFC 1918, IPv6 unique
 * local fc00::/7), link-local, or an mDNS `.local` name (what browsers put in place of their host addresses). Shared
 * address space (100.64.0.0/10, carrier NAT) is not: a phone's mobile network hands those out.
 *
 * @example
 * isLocalAddress('192.168.1.20'); // true
 * isLocalAddress('fd00::2'); // true
 * isLocalAddress('203.0.113.7'); // false
 */
export function isLocalAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '');
  if (a.endsWith('.local')) return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(a);
  if (v4 !== null) {
    const [x, y] = [Number(v4[1]), Number(v4[2])];
    return (
      x === 10 || x === 127 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) || (x === 169 && y === 254)
    );
  }
  if (!a.includes(':')) return false;
  if (a === '::1') return true;
  const first = Number.parseInt(a.split(':')[0] || '0', 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80;
}

type Stat = Record<string, unknown> & { id: string; type: string };

const LAN_TYPES = new Set(['host', 'prflx']);
/** Interfaces whose private addresses need not be a local network: a carrier's, or a VPN's overlay. */
const FAR_NETWORKS = new Set(['cellular', 'vpn']);
/**
 * Whether a candidate stat is on the local network: its `address` (or `ip` in older stats), and the `networkType`
 * where the implementation reports one (Chromium, for its own candidates).
 */
const onLan = (c: Stat | undefined): boolean => {
  if (c === undefined || !LAN_TYPES.has(String(c.candidateType)) || FAR_NETWORKS.has(String(c.networkType)))
    return false;
  const address = typeof c.address === 'string' ? c.address : c.ip;
  return typeof address === 'string' && isLocalAddress(address);
};

export async function selectedPath(pc: unknown): Promise<SelectedPath | undefined> {
  const getStats = (pc as { getStats?: () => Promise<{ forEach(fn: (s: Stat) => void): void }> }).getStats;
  if (typeof getStats !== 'function') return undefined;
  const report = await getStats.call(pc);
  const byId = new Map<string, Stat>();
  report.forEach((s) => {
    byId.set(s.id, s);
  });
  let pair: Stat | undefined;
  for (const s of byId.values()) {
    if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') {
      pair = byId.get(s.selectedCandidatePairId);
      if (pair !== undefined) break;
    }
  }
  if (pair === undefined) {
    for (const s of byId.values()) {
      if (s.type !== 'candidate-pair') continue;
      if (s.selected === true || (s.nominated === true && s.state === 'succeeded')) {
        pair = s;
        break;
      }
    }
  }
  if (pair === undefined) return undefined;
  const local = byId.get(String(pair.localCandidateId));
  const remote = byId.get(String(pair.remoteCandidateId));
  const localRelay = local?.candidateType === 'relay';
  if (!localRelay && remote?.candidateType !== 'relay')
    return { path: 'direct', localRelay, lan: onLan(local) && onLan(remote) };
  const proto = localRelay ? local?.relayProtocol : undefined;
  return proto === 'udp' || proto === 'tcp' || proto === 'tls'
    ? { path: 'turn', relayProtocol: proto, localRelay }
    : { path: 'turn', localRelay };
}
