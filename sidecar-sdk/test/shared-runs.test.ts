import { describe, expect, it } from 'vitest';
import { sharedRuns } from '../src/shared-runs.js';

/** A run the test ends by hand, so what overlaps with what is exact. */
function controlledRuns() {
  const pending: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  const run = sharedRuns(
    () =>
      new Promise<void>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
  );
  return { run, pending };
}

const settledSoon = async (p: Promise<unknown>) => {
  let settled = false;
  p.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return settled;
};

describe('sharedRuns', () => {
  it('starts a run for a call when none is in progress', async () => {
    const { run, pending } = controlledRuns();
    const a = run();
    expect(run.runs).toBe(1);
    pending[0]?.resolve();
    await a;
    const b = run();
    expect(run.runs).toBe(2);
    pending[1]?.resolve();
    await b;
  });

  it('gives every call made during a run the next run, which starts only when that one ends', async () => {
    const { run, pending } = controlledRuns();
    const first = run();
    const second = run();
    const third = run();
    expect(second).toBe(third);
    expect(run.runs).toBe(1);
    pending[0]?.resolve();
    await first;
    // The first run may have started before the later callers' work was done: they wait for a run of their own.
    expect(await settledSoon(second)).toBe(false);
    expect(run.runs).toBe(2);
    // A call during the second run waits for a third.
    const fourth = run();
    expect(fourth).not.toBe(second);
    pending[1]?.resolve();
    await second;
    expect(await settledSoon(fourth)).toBe(false);
    pending[2]?.resolve();
    await fourth;
    expect(run.runs).toBe(3);
  });

  it('reports a failed run to its own callers only, and the next run still starts for those waiting', async () => {
    const { run, pending } = controlledRuns();
    const first = run();
    const second = run();
    pending[0]?.reject(new Error('EIO'));
    await expect(first).rejects.toThrow('EIO');
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(run.runs).toBe(2);
    pending[1]?.resolve();
    await expect(second).resolves.toBeUndefined();
  });
});
