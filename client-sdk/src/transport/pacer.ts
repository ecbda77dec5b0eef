/**
 * Paces routed frames to the relay's per-device rate (from the welcome's limits), so a burst from the app waits in the
 * SDK instead of being refused by the relay. Bounded: the queue holds outbox entries (already bounded by the outbox);
 * the urgent lane holds at most one frame per key (the latest receipt per peer) and goes first, so receipts are never
 * stuck behind bulk data.
 */
import type { Timers } from '../platform.js';

export class Pacer {
  private readonly queue: object[] = [];
  private readonly urgent = new Map<string, object>();
  private tokens: number;
  private last: number;
  private timer: unknown;

  constructor(
    private readonly timers: Timers,
    private readonly now: () => number,
    private readonly send: (frame: object) => boolean,
    private rate = 100,
    private burst = 100,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Adopts the relay's limits, keeping a margin so clock jitter never trips the relay's bucket. */
  setLimits(perSecond: number, burst: number): void {
    this.rate = Math.max(1, Math.floor(perSecond * 0.9));
    this.burst = Math.max(1, Math.floor(burst * 0.5));
    this.tokens = Math.min(this.tokens, this.burst);
  }

  push(frame: object): void {
    this.queue.push(frame);
    this.flush();
  }

  /** Queues `frame` ahead of bulk frames, replacing a not yet sent frame with the same key. */
  pushUrgent(key: string, frame: object): void {
    this.urgent.set(key, frame);
    this.flush();
  }

  /** Removes queued frames that match (they are about to go another way). */
  drop(match: (frame: object) => boolean): void {
    let kept = 0;
    for (const frame of this.queue) if (!match(frame)) this.queue[kept++] = frame;
    this.queue.length = kept;
    for (const [key, frame] of this.urgent) if (match(frame)) this.urgent.delete(key);
  }

  clear(): void {
    this.queue.length = 0;
    this.urgent.clear();
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  flush(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    for (const [key, frame] of this.urgent) {
      if (this.tokens < 1) break;
      if (!this.send(frame)) return; // not connected: the welcome resends everything
      this.urgent.delete(key);
      this.tokens -= 1;
    }
    while (this.urgent.size === 0 && this.queue.length > 0 && this.tokens >= 1) {
      if (!this.send(this.queue[0] as object)) return;
      this.queue.shift();
      this.tokens -= 1;
    }
    if ((this.queue.length > 0 || this.urgent.size > 0) && this.timer === undefined) {
      const wait = Math.ceil(((1 - this.tokens) * 1000) / this.rate);
      this.timer = this.timers.setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, wait);
    }
  }
}
