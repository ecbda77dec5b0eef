/**
 * Which hosts a push endpoint may not be on: used when a subscription is stored (a fast first refusal) and again for
 * every address a push request is about to connect to (the check that counts, see agent.ts).
 */
import { isIP } from 'node:net';

/** `a.b.c.d` -> four octets. */
function octets(ip: string): number[] {
  return ip.split('.').map(Number);
}

/**
 * Loopback, private, shared (CGNAT), link-local, "this network", IETF protocol, benchmarking, multicast, reserved
 * and broadcast IPv4 ranges.
 */
function privateIpv4([a = 0, b = 0, c = 0]: readonly number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 0 && c === 0) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

/** The eight 16-bit groups of a valid IPv6 address (`isIP(ip) === 6`), an embedded IPv4 tail included. */
function groups(ip: string): number[] {
  let text = ip;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail?.[1] !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = octets(tail[1]);
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** The IPv4 address in groups `i` and `i + 1`. */
function embedded(g: readonly number[], i: number): number[] {
  const hi = g[i] ?? 0;
  const lo = g[i + 1] ?? 0;
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
}

/**
 * IPv6 ranges that are not a public unicast host: ::/96 (unspecified, loopback, IPv4-compatible), IPv4-mapped,
 * NAT64 (64:ff9b::/96) and 6to4 (2002::/16) with a private IPv4 inside, local-use NAT64 (64:ff9b:1::/48), unique
 * local (fc00::/7), link-local and site-local (fe80::/9), multicast (ff00::/8).
 */
function privateIpv6(ip: string): boolean {
  const g = groups(ip);
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0] = g;
  const zero64 = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0;
  if (zero64 && g4 === 0 && g5 === 0) return true;
  if (zero64 && g4 === 0 && g5 === 0xffff) return privateIpv4(embedded(g, 6));
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return privateIpv4(embedded(g, 6));
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return true;
  if (g0 === 0x2002) return privateIpv4(embedded(g, 1));
  return (g0 & 0xfe00) === 0xfc00 || (g0 & 0xff80) === 0xfe80 || (g0 & 0xff00) === 0xff00;
}

/** True for an IP address (v4 or v6, without brackets) that is not a public unicast host. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return privateIpv4(octets(ip));
  if (family === 6) return privateIpv6(ip.toLowerCase());
  return false;
}

/**
 * True for `localhost` and its subdomains (with or without the final dot), and for a private address literal
 * (IPv6 in brackets or not). Other names are decided when they are resolved.
 */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return isPrivateAddress(host);
}
