/**
 * Datagrams the kernel dropped for a full UDP socket buffer. A WebRTC data channel runs SCTP over UDP, and
 * `@roamhq/wrtc` leaves its sockets at the kernel's default receive buffer (`net.core.rmem_default`, 208 KiB on most
 * distributions): on loopback under load its network thread falls behind, the kernel drops datagrams, SCTP takes them
 * for congestion, and a run comes out at a fraction of the next (bench/RESULTS.md, 2026-12-01 14:20Z). On a shaped
 * link (`--link-mbit`) a full qdisc drops on the sending side instead, which the kernel counts as a send-buffer error.
 * The bench reports both for every throughput run, so a slow run can be told from a slow SDK.
 */
import { readFileSync } from 'node:fs';

/** Bytes a buffer below which the bench warns: 4 MiB took the drops of these runs to none, 208 KiB did not. */
export const STEADY_RECEIVE_BUFFER = 1024 * 1024;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const COUNTERS = ['RcvbufErrors', 'SndbufErrors'] as const;

/**
 * Receive- and send-buffer errors in the text of `/proc/net/snmp`: per protocol a line of names and a line of values,
 * both starting `Udp: ` (`UdpLite: ` is another protocol).
 */
export function udpDropsOfSnmp(text: string): number {
  const lines = text.split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0]?.trim().split(/\s+/) ?? [];
  const values = lines[1]?.trim().split(/\s+/) ?? [];
  let sum = 0;
  for (const counter of COUNTERS) {
    const at = names.indexOf(counter);
    if (at > 0) sum += Number(values[at] ?? 0);
  }
  return sum;
}

/** The same in the text of `/proc/net/snmp6`: one `Udp6<Name> <value>` per line. */
export function udpDropsOfSnmp6(text: string): number {
  let sum = 0;
  for (const counter of COUNTERS) sum += Number(new RegExp(`^Udp6${counter}\\s+(\\d+)\\s*$`, 'm').exec(text)?.[1] ?? 0);
  return sum;
}

/**
 * Buffer drops so far, IPv4 and IPv6 together, in this process's network namespace (`/proc/net` is per namespace);
 * undefined where `/proc/net` does not say (not Linux).
 *
 * @example
 * const before = udpBufferDrops();
 * await run();
 * const drops = dropsSince(before);
 */
export function udpBufferDrops(): number | undefined {
  const v4 = read('/proc/net/snmp');
  const v6 = read('/proc/net/snmp6');
  if (v4 === undefined && v6 === undefined) return undefined;
  return (v4 === undefined ? 0 : udpDropsOfSnmp(v4)) + (v6 === undefined ? 0 : udpDropsOfSnmp6(v6));
}

/** Drops since `before` (from {@link udpBufferDrops}); undefined when either reading is missing. */
export function dropsSince(before: number | undefined): number | undefined {
  const now = udpBufferDrops();
  return before === undefined || now === undefined ? undefined : now - before;
}

/** `net.core.rmem_default` in bytes: the receive buffer a socket gets unless it asks for another; undefined off Linux. */
export function defaultReceiveBuffer(): number | undefined {
  const text = read('/proc/sys/net/core/rmem_default');
  return text === undefined ? undefined : Number(text.trim());
}
