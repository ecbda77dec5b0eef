/**
 * A per-connection token bucket for the envelope rate. It is synchronous on purpose: it runs on every envelope, and a
 * device holds one connection at a time (newest wins), on one instance, so the bucket needs no shared store.
 * Per-address limits that must hold across instances use rate-limiter-flexible instead.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
