import { afterEach, describe, expect, it } from 'vitest';
import { defaultPlatform, runtimeTimers } from '../src/platform.js';

const nextCheckPhase = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('runtimeTimers', () => {
  const saved = { setImmediate: globalThis.setImmediate, clearImmediate: globalThis.clearImmediate };
  afterEach(() => Object.assign(globalThis, saved));

  it('runs a 0 ms timer at the next turn, in order with setImmediate (Node waits 1 ms for setTimeout 0)', async () => {
    const timers = runtimeTimers();
    const order: string[] = [];
    await nextCheckPhase(); // from inside a turn, as a frame's handler schedules its receipts
    timers.setTimeout(() => order.push('timer 0'), 0);
    setImmediate(() => order.push('immediate after it'));
    timers.setTimeout(() => order.push('timer 5'), 5);
    await nextCheckPhase();
    expect(order).toEqual(['timer 0', 'immediate after it']);
    await sleep(20);
    expect(order).toEqual(['timer 0', 'immediate after it', 'timer 5']);
  });

  it('cancels timers of both kinds', async () => {
    const timers = runtimeTimers();
    const fired: number[] = [];
    for (const ms of [0, 3]) timers.clearTimeout(timers.setTimeout(() => fired.push(ms), ms));
    timers.clearTimeout(undefined); // nothing scheduled: nothing to cancel, no error
    await sleep(20);
    expect(fired).toEqual([]);
  });

  it('falls back to setTimeout where the runtime has no setImmediate (browsers)', async () => {
    Object.assign(globalThis, { setImmediate: undefined, clearImmediate: undefined });
    const timers = runtimeTimers();
    const fired: number[] = [];
    const handle = timers.setTimeout(() => fired.push(1), 0);
    timers.setTimeout(() => fired.push(2), 0);
    timers.clearTimeout(handle);
    await sleep(20);
    expect(fired).toEqual([2]);
  });

  it('is what defaultPlatform gives when no timers are passed', async () => {
    const { timers } = defaultPlatform({ WebSocket: class {} as never });
    const order: string[] = [];
    await nextCheckPhase();
    timers.setTimeout(() => order.push('timer 0'), 0);
    setImmediate(() => order.push('immediate after it'));
    await nextCheckPhase();
    expect(order).toEqual(['timer 0', 'immediate after it']);
  });
});
