import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { perMessage, startRun, threadCpu, timeSends } from '../src/thread-time.js';

/** /proc/self/task is what the bench reads: under CI it must be there, elsewhere a loud skip. */
function requireProcTask(): boolean {
  if (process.platform === 'linux') return true;
  if (process.env.CI === 'true') throw new Error('per-thread CPU times need Linux /proc/self/task in CI');
  console.warn(`\n!!! SKIPPED: /proc/self/task exists only on Linux (this is ${process.platform})\n`);
  return false;
}

/** Keeps the calling thread on the CPU for `ms` of wall time. */
function spin(ms: number): number {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n += 1;
  return n;
}

/** A stand-in for wrtc's module: a channel whose `send` waits `ms` on the calling thread, as wrtc's blocks it. */
function channelModule(ms: number) {
  class RTCDataChannel {
    sent = 0;
    send(_data: unknown): void {
      spin(ms);
      this.sent += 1;
    }
  }
  return { RTCDataChannel };
}

describe('thread-time', () => {
  it("finds this process's threads, the main one by its id", () => {
    if (!requireProcTask()) return;
    const threads = threadCpu();
    expect(threads?.get(String(process.pid))?.ns).toBeGreaterThan(0);
  });

  it("counts the main thread's CPU, and its time inside send apart from it", () => {
    if (!requireProcTask()) return;
    const rtc = channelModule(20);
    const sends = timeSends(rtc);
    const channel = new rtc.RTCDataChannel();
    const end = startRun(sends);
    spin(30);
    channel.send('a');
    channel.send('b');
    const times = end();
    expect(channel.sent).toBe(2); // the wrapper still sends
    expect(times?.sends).toBe(2);
    // Two sends of 20 ms; the 30 ms of work and the 40 ms in send are all on the main thread's CPU here.
    expect(times?.mainInSendMs).toBeGreaterThanOrEqual(40);
    expect(times?.mainInSendMs).toBeLessThan(times?.wallMs ?? 0);
    expect(times?.mainCpuMs).toBeGreaterThanOrEqual(times?.mainInSendMs ?? Number.POSITIVE_INFINITY);
    expect(times?.wrtcCpuMs).toBe(0); // no thread of wrtc's in this process
    // Only what happened after the start counts.
    const later = startRun(sends);
    expect(later()?.sends).toBe(0);
  });

  it("counts another process's threads too: the receiving end's, by its pid", async () => {
    if (!requireProcTask()) return;
    // A child that keeps its main thread busy until it is told to stop (stdin closes).
    const child = spawn(
      process.execPath,
      [
        '-e',
        'let busy = true; process.stdin.on("end", () => { busy = false; }).resume(); (function spin() { const end = Date.now() + 20; while (Date.now() < end); if (busy) setImmediate(spin); })();',
      ],
      { stdio: ['pipe', 'ignore', 'inherit'] },
    );
    try {
      await new Promise((r) => setTimeout(r, 300)); // started and spinning
      const end = startRun({ ms: 0, sends: 0 }, child.pid);
      await new Promise((r) => setTimeout(r, 300));
      const times = end();
      // ~300 ms of a busy main thread; the scheduler and a 2-CPU machine may take some of it.
      expect(times?.peer?.mainCpuMs).toBeGreaterThan(100);
      expect(times?.peer?.mainCpuMs).toBeLessThan((times?.wallMs ?? 0) + 50);
      expect(times?.peer?.wrtcCpuMs).toBe(0);
    } finally {
      child.stdin?.end();
      await once(child, 'exit');
    }
    expect(startRun({ ms: 0, sends: 0 }, child.pid)()?.peer).toBeUndefined(); // gone: no reading
  });

  it('divides a run by its messages, in µs, with a row for the receiving end when it was measured', () => {
    const times = { wallMs: 10, mainCpuMs: 6, mainInSendMs: 2, sends: 15, wrtcCpuMs: 4, otherCpuMs: 1 };
    expect(perMessage('run', times, 10)).toEqual([['run', '1000', '600', '200', '1.50', '400', '100']]);
    const peer = { mainCpuMs: 3, wrtcCpuMs: 5, otherCpuMs: 0.5 };
    expect(perMessage('run', { ...times, peer }, 10)).toEqual([
      ['run, sending end', '1000', '600', '200', '1.50', '400', '100'],
      ['run, receiving end', '', '300', '-', '-', '500', '50'],
    ]);
    expect(perMessage('off Linux', undefined, 10)).toEqual([['off Linux', '-', '-', '-', '-', '-', '-']]);
  });
});
