/**
 * V8 heap growth for a process that streams frames for hours: what `oppie-sidecar run` sets for itself, and what an
 * application embedding the SDK may set for its own process.
 *
 * Why: after each full collection V8 (11.3, Node 20) sets the old generation's next limit from how fast the process
 * filled it. A process that promotes little, as a streaming sidecar does, may get a limit ~23 MB above its ~21 MB live
 * heap, and then V8 starts incremental marking again right after every full collection: one every 150-300 ms. With one
 * CPU, the concurrent marking took a quarter of the sidecar's throughput in a quarter to half of the bench's
 * processes, at random (bench/RESULTS.md, 2026-12-03). `--heap-growing-percent` fixes the factor instead (300: four
 * times the live heap, V8's own most for a heap of this size); read at each collection, it takes effect when set at
 * run time too.
 */
import v8 from 'node:v8';

/**
 * The growth `oppie-sidecar run` sets: the next old-generation limit is four times the live heap (plus the young
 * generation), about 100 MB for a sidecar's ~25 MB.
 */
export const STREAMING_HEAP_GROWING_PERCENT = 300;

/** The most {@link tuneHeapForStreaming} accepts: V8 takes more, and a heap that grows 11 times is not a tuning. */
export const MAX_HEAP_GROWING_PERCENT = 1000;

/** The flag on the command line (`NODE_OPTIONS` refuses it), with a value or without. */
const FLAG = /^--heap[-_]growing[-_]percent(=|$)/;

/** What {@link tuneHeapForStreaming} did. */
export interface HeapTuning {
  /**
   * `set`: the flag was set now; `command-line`: the process was started with one, which is left as it is; `off`:
   * `percent` 0 asked for V8's own growth.
   */
  readonly outcome: 'set' | 'command-line' | 'off';
  /** The percent set, with `set`. */
  readonly percent?: number;
}

/** Where {@link tuneHeapForStreaming} looks and what it calls: the process's by default (tests pass their own). */
export interface HeapTuningOptions {
  /** Growth in percent: 1-{@link MAX_HEAP_GROWING_PERCENT}, or 0 for V8's own. Default {@link STREAMING_HEAP_GROWING_PERCENT}. */
  readonly percent?: number;
  /** Default `process.execArgv`. */
  readonly execArgv?: readonly string[];
  /** Default `v8.setFlagsFromString`. */
  readonly setFlags?: (flags: string) => void;
}

/**
 * Fixes V8's old-generation growth for this process at `percent` (default {@link STREAMING_HEAP_GROWING_PERCENT}),
 * unless the process was started with its own `--heap-growing-percent`. It changes the whole process's collector, so
 * the SDK never calls it on its own: `oppie-sidecar run` does, and so may an application whose process mostly
 * streams. The cost is memory: the old generation may grow to four times its live size between full collections.
 *
 * @throws RangeError when `percent` is not an integer from 0 to {@link MAX_HEAP_GROWING_PERCENT}
 * @example
 * import { tuneHeapForStreaming } from '@oppie/sidecar-sdk';
 * tuneHeapForStreaming(); // { outcome: 'set', percent: 300 }
 */
export function tuneHeapForStreaming(options: HeapTuningOptions = {}): HeapTuning {
  const percent = options.percent ?? STREAMING_HEAP_GROWING_PERCENT;
  if (!Number.isInteger(percent) || percent < 0 || percent > MAX_HEAP_GROWING_PERCENT) {
    throw new RangeError(
      `heap growth must be an integer percent from 0 to ${MAX_HEAP_GROWING_PERCENT}, got ${percent}`,
    );
  }
  const execArgv = options.execArgv ?? process.execArgv;
  if (execArgv.some((a) => FLAG.test(a))) return { outcome: 'command-line' };
  if (percent === 0) return { outcome: 'off' };
  (options.setFlags ?? v8.setFlagsFromString)(`--heap-growing-percent=${percent}`);
  return { outcome: 'set', percent };
}
