/** A bounded worker pool: `count` tasks, at most `concurrency` at once, all within a deadline. */

export interface PoolOptions {
  readonly concurrency: number;
  /** Whole-pool time limit, in milliseconds. */
  readonly deadlineMs: number;
  /** What the tasks are, for error and progress messages. */
  readonly label: string;
  /** Called every `progressEvery` completed tasks. */
  readonly onProgress?: (done: number) => void;
  readonly progressEvery?: number;
}

/**
 * Runs `task(i)` for i in [0, count); resolves with the results in order, rejects on the first failure or when the
 * deadline passes.
 *
 * @example
 * const devices = await runPool(1000, (i) => pairDevice(url, token, `pwa-${i}`), { concurrency: 16, deadlineMs: 60_000, label: 'pairing' });
 */
export async function runPool<T>(count: number, task: (i: number) => Promise<T>, opts: PoolOptions): Promise<T[]> {
  const results = new Array<T>(count);
  const deadline = Date.now() + opts.deadlineMs;
  let next = 0;
  let done = 0;
  let failed = false;
  const every = opts.progressEvery ?? 1000;
  const worker = async () => {
    while (next < count && !failed) {
      if (Date.now() > deadline) {
        throw new Error(`${opts.label}: deadline of ${opts.deadlineMs} ms passed after ${done}/${count}`);
      }
      const i = next++;
      try {
        results[i] = await task(i);
      } catch (err) {
        failed = true;
        throw new Error(`${opts.label} #${i} failed: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
      done += 1;
      if (done % every === 0) opts.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, count) }, worker));
  return results;
}
