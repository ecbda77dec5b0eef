import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { STREAMING_HEAP_GROWING_PERCENT, tuneHeapForStreaming } from '../src/heap-tuning.js';

const run = promisify(execFile);

describe('tuneHeapForStreaming', () => {
  it('sets --heap-growing-percent, 300 unless told', () => {
    const set: string[] = [];
    const setFlags = (f: string) => void set.push(f);
    expect(tuneHeapForStreaming({ execArgv: [], setFlags })).toEqual({ outcome: 'set', percent: 300 });
    expect(tuneHeapForStreaming({ execArgv: [], setFlags, percent: 150 })).toEqual({ outcome: 'set', percent: 150 });
    expect(set).toEqual(['--heap-growing-percent=300', '--heap-growing-percent=150']);
    expect(STREAMING_HEAP_GROWING_PERCENT).toBe(300);
  });

  it('leaves a growth the process was started with, in any spelling', () => {
    const setFlags = () => expect.unreachable('the command line decides');
    for (const execArgv of [
      ['--heap-growing-percent=50'],
      ['--expose-gc', '--heap_growing_percent=50'],
      ['--heap-growing-percent', '50'],
    ]) {
      expect(tuneHeapForStreaming({ execArgv, setFlags })).toEqual({ outcome: 'command-line' });
    }
    // Another flag that merely starts alike is not it.
    const set: string[] = [];
    tuneHeapForStreaming({ execArgv: ['--heap-growing-percentage=5'], setFlags: (f) => void set.push(f) });
    expect(set).toEqual(['--heap-growing-percent=300']);
  });

  it('percent 0 leaves V8 its own growth', () => {
    const setFlags = () => expect.unreachable('nothing to set');
    expect(tuneHeapForStreaming({ execArgv: [], setFlags, percent: 0 })).toEqual({ outcome: 'off' });
  });

  it.each([-1, 1.5, Number.NaN, 1001])('refuses percent %s with a RangeError', (percent) => {
    expect(() => tuneHeapForStreaming({ execArgv: [], setFlags: () => {}, percent })).toThrow(RangeError);
  });

  // The point of the flag is that V8 reads it at each full collection, also when set after start-up. A child with
  // 100 MB live then retains 150 MB more in 1 MB arrays (old generation straight away): fixed at 10% growth V8
  // collects along the way; at the sidecar's 300% it has room for all of it.
  it('takes effect at run time in this Node', async () => {
    const built = fileURLToPath(new URL('../dist/heap-tuning.js', import.meta.url));
    const child = `
      import v8 from 'node:v8';
      const { tuneHeapForStreaming } = await import(${JSON.stringify(built)});
      const keep = [];
      const mb = () => new Array(1 << 17).fill(keep.length);
      for (let i = 0; i < 100; i++) keep.push(mb());
      tuneHeapForStreaming({ percent: Number(process.argv[1]) });
      globalThis.gc();
      const profiler = new v8.GCProfiler();
      profiler.start();
      for (let i = 0; i < 150; i++) {
        keep.push(mb());
        if (i % 5 === 4) await new Promise((resolve) => setImmediate(resolve));
      }
      const full = profiler.stop().statistics.filter((s) => s.gcType === 'MarkSweepCompact').length;
      console.log(full);`;
    const fullCollections = async (percent: number) => {
      const { stdout } = await run(process.execPath, [
        '--expose-gc',
        '--input-type=module',
        '-e',
        child,
        String(percent),
      ]);
      return Number(stdout.trim());
    };
    expect(await fullCollections(10)).toBeGreaterThan(0);
    expect(await fullCollections(STREAMING_HEAP_GROWING_PERCENT)).toBe(0);
  }, 30_000);
});
