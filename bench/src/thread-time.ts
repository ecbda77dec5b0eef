/**
 * Where a throughput run's time goes: CPU time by thread in this process (and, with `--split`, in the receiving end's
 * process, read from its /proc by pid: which end is at its limit), and the time the main thread spends inside
 * wrtc's `RTCDataChannel.send`, which blocks its caller until wrtc's network thread has taken the message (that wait
 * is not CPU time). On this machine the raw channel is bound by wrtc's network thread; the SDK by its main thread
 * (its JavaScript plus that wait) for deflated payloads, and for undeflated ones by wrtc's network thread too, which
 * its messages cost more (bench/RESULTS.md, 2026-12-02): the breakdown shows which, run by run.
 *
 * CPU times come from `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on the CPU; Linux). wrtc's threads are told by
 * their names (`comm`): `PeerConnectionF` (its factory's signaling and network threads), `rtc-low-prio`,
 * `TaskQueuePacedS`, `rtp_send_contro`, `TestAudioDevice` (seen with a data channel open, 2026-12-02); every other
 * thread but the main one (V8's helpers and compilers, the SDK's deflate thread, libuv's pool: all `node`) counts as
 * other. The time inside `send` is wall time, and includes what `send` itself spends on the CPU, which the main
 * thread's CPU counts too.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU nanoseconds so far of each thread of a process, by thread id, with its name; undefined off Linux. */
export type ThreadCpu = ReadonlyMap<string, { readonly name: string; readonly ns: number }>;

/** CPU milliseconds of one process over a run: its main thread, wrtc's threads, every other thread. */
export interface ProcessCpu {
  readonly mainCpuMs: number;
  readonly wrtcCpuMs: number;
  readonly otherCpuMs: number;
}

/**
 * Milliseconds of one run: the main thread's CPU and wait in `send`, wrtc's threads' CPU, the other threads' CPU; and
 * `peer`, the CPU of the receiving end's process when it is another one (`--split`), which shows whether that end is
 * the one at its limit.
 */
export interface RunTimes extends ProcessCpu {
  readonly wallMs: number;
  readonly mainInSendMs: number;
  readonly sends: number;
  readonly peer?: ProcessCpu | undefined;
}

const WRTC_THREAD = /^(PeerConnection|pc_|rtc-|TaskQueue|rtp_|TestAudio)/;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Thread CPU times of process `pid` (this one by default); undefined off Linux or once it is gone. */
export function threadCpu(pid: number = process.pid): ThreadCpu | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const out = new Map<string, { name: string; ns: number }>();
  for (const tid of tids) {
    // A thread can end between the listing and the read: it then counts no more.
    const stat = read(`/proc/${pid}/task/${tid}/schedstat`);
    const name = read(`/proc/${pid}/task/${tid}/comm`);
    if (stat === undefined || name === undefined) continue;
    out.set(tid, { name: name.trim(), ns: Number(stat.split(' ')[0]) });
  }
  return out;
}

/** What the threads of process `pid` spent between two readings, by kind (its main thread's id is the pid). */
function spentBetween(before: ThreadCpu, after: ThreadCpu, pid: number): ProcessCpu {
  const ms = { main: 0, wrtc: 0, other: 0 };
  for (const [tid, t] of after) {
    const spent = (t.ns - (before.get(tid)?.ns ?? 0)) / 1e6;
    if (tid === String(pid)) ms.main += spent;
    else if (WRTC_THREAD.test(t.name)) ms.wrtc += spent;
    else ms.other += spent;
  }
  return { mainCpuMs: ms.main, wrtcCpuMs: ms.wrtc, otherCpuMs: ms.other };
}

/**
 * Counts the time callers spend inside `RTCDataChannel.prototype.send` of `rtc` (every channel of this process, the
 * SDK's and the raw channel's): the wrapper adds two clock reads a send.
 */
export function timeSends(rtc: unknown): { readonly ms: number; readonly sends: number } {
  const proto = (rtc as { RTCDataChannel: { prototype: { send(data: unknown): void } } }).RTCDataChannel.prototype;
  const original = proto.send;
  const counter = { ms: 0, sends: 0 };
  proto.send = function (this: unknown, data: unknown) {
    const t0 = performance.now();
    try {
      original.call(this, data);
    } finally {
      counter.ms += performance.now() - t0;
      counter.sends += 1;
    }
  };
  return counter;
}

/**
 * Starts measuring a run; the returned function ends it. Undefined times off Linux.
 *
 * @example
 * const sends = timeSends(rtc);
 * const end = startRun(sends);
 * await run();
 * const times = end(); // { wallMs, mainCpuMs, mainInSendMs, ... }
 */
export function startRun(
  sends: { readonly ms: number; readonly sends: number },
  peerPid?: number,
): () => RunTimes | undefined {
  const before = threadCpu();
  const peerBefore = peerPid === undefined ? undefined : threadCpu(peerPid);
  const t0 = performance.now();
  const sent = { ms: sends.ms, count: sends.sends };
  return () => {
    const after = threadCpu();
    const peerAfter = peerPid === undefined ? undefined : threadCpu(peerPid);
    if (before === undefined || after === undefined) return undefined;
    return {
      wallMs: performance.now() - t0,
      ...spentBetween(before, after, process.pid),
      mainInSendMs: sends.ms - sent.ms,
      sends: sends.sends - sent.count,
      peer:
        peerPid === undefined || peerBefore === undefined || peerAfter === undefined
          ? undefined
          : spentBetween(peerBefore, peerAfter, peerPid),
    };
  };
}

/**
 * Table rows of `times` per message of a run of `messages`, in µs: wall, main CPU, main in send, sends, wrtc, other;
 * and when the receiving end ran in a process of its own, a row of its CPU too.
 */
export function perMessage(label: string, times: RunTimes | undefined, messages: number): string[][] {
  if (times === undefined) return [[label, '-', '-', '-', '-', '-', '-']];
  const us = (ms: number) => ((ms * 1000) / messages).toFixed(0);
  const rows = [
    [
      `${label}${times.peer === undefined ? '' : ', sending end'}`,
      us(times.wallMs),
      us(times.mainCpuMs),
      us(times.mainInSendMs),
      (times.sends / messages).toFixed(2),
      us(times.wrtcCpuMs),
      us(times.otherCpuMs),
    ],
  ];
  const p = times.peer;
  if (p !== undefined) {
    rows.push([`${label}, receiving end`, '', us(p.mainCpuMs), '-', '-', us(p.wrtcCpuMs), us(p.otherCpuMs)]);
  }
  return rows;
}
