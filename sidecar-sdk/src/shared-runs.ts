/**
 * Group commit for one asynchronous operation, such as a directory fsync. Each call resolves after a run of the
 * operation that *started after the call*, so the run covers whatever the caller did before calling. Calls made while
 * a run is in progress share the next one, which starts as soon as the current one ends: a hundred deletes in flight
 * together cost two directory syncs, not a hundred.
 *
 * @example
 * const syncDir = sharedRuns(async () => {
 *   const handle = await open(dir, 'r');
 *   try { await handle.sync(); } finally { await handle.close(); }
 * });
 * await unlink(file);
 * await syncDir(); // durable: a sync that started after the unlink has finished
 */
export interface SharedRuns {
  (): Promise<void>;
  /** Runs started so far. */
  readonly runs: number;
}

export function sharedRuns(run: () => Promise<void>): SharedRuns {
  let current: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  let runs = 0;
  const start = (): Promise<void> => {
    runs += 1;
    const started: Promise<void> = run().finally(() => {
      // A call between this run's end and the start of the one queued after it may have started a run of its own.
      if (current === started) current = undefined;
    });
    current = started;
    return started;
  };
  const call = (): Promise<void> => {
    if (current === undefined) return start();
    // The run in progress may have started before the caller's work finished: wait for the one after it. Its own
    // outcome is its callers' to see; the next run starts either way.
    next ??= current
      .catch(() => undefined)
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
  return Object.defineProperty(call, 'runs', { get: () => runs, enumerable: true }) as SharedRuns;
}
