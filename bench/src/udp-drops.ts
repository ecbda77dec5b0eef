/**
 * Datagrams the kernel dropped because a UDP socket's receive buffer was full. A WebRTC data channel runs SCTP over
 * UDP, and `@roamhq/wrtc` leaves its sockets at the kernel's default buffer (`net.core.rmem_default`, 208 KiB on
 * most distributions): on loopback under load its network thread falls behind, the kernel drops datagrams, SCTP
 * takes them for congestion, and a run comes out at a fraction of the next (bench/RESULTS.md, 2026-12-01 14:20Z).
 * The bench reports the drops of every throughput run, so a slow run can be told from a slow SDK.
 */
import { readFileSync } from 'node:fs';

/** Bytes a buffer below which the bench warns: 1 MiB took the drops of these runs to none. */
export const STEADY_RECEIVE_BUFFER = 1024 * 1024;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `RcvbufErrors` of `/proc/net/snmp` (a header line of names, then a line of values, per protocol). */
function ipv4(text: string): number {
  const lines = text.split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const at = names.indexOf('RcvbufErrors');
  return at < 0 ? 0 : Number(values[at] ?? 0);
}

/** `Udp6RcvbufErrors` of `/proc/net/snmp6` (one `name value` per line). */
function ipv6(text: string): number {
  const m = /^Udp6RcvbufErrors\s+(\d+)$/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}

/**
 * Receive-buffer drops so far, IPv4 and IPv6 together, in this network namespace; undefined where `/proc/net` does
 * not say (not Linux).
 *
 * @example
 * const before = udpReceiveDrops();
 * await run();
 * const drops = dropsSince(before);
 */
export function udpReceiveDrops(): number | undefined {
  const v4 = read('/proc/net/snmp');
  const v6 = read('/proc/net/snmp6');
  if (v4 === undefined && v6 === undefined) return undefined;
  return (v4 === undefined ? 0 : ipv4(v4)) + (v6 === undefined ? 0 : ipv6(v6));
}

/** Drops since `before` (from {@link udpReceiveDrops}); undefined when either reading is missing. */
export function dropsSince(before: number | undefined): number | undefined {
  const now = udpReceiveDrops();
  return before === undefined || now === undefined ? undefined : now - before;
}

/** `net.core.rmem_default` in bytes: the receive buffer a socket gets unless it asks for another; undefined off Linux. */
export function defaultReceiveBuffer(): number | undefined {
  const text = read('/proc/sys/net/core/rmem_default');
  return text === undefined ? undefined : Number(text.trim());
}
