import type { PushCoalescer } from '../../push/stores.js';

/** Above this many marks, expired ones are swept on the next claim (the map never outgrows the recent pushes). */
const SWEEP_ABOVE = 1024;

/**
 * Coalescing marks of one process (the embedded relay).
 *
 * @example
 * if (await coalescer.claim(deviceId, 30_000)) await send();
 */
export class MemoryPushCoalescer implements PushCoalescer {
  /** deviceId -> until (ms). */
  private readonly marks = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async claim(deviceId: string, intervalMs: number): Promise<boolean> {
    const now = this.now();
    if (this.marks.size > SWEEP_ABOVE) {
      for (const [id, until] of this.marks) if (until <= now) this.marks.delete(id);
    }
    const until = this.marks.get(deviceId);
    if (until !== undefined && until > now) return false;
    this.marks.set(deviceId, now + intervalMs);
    return true;
  }

  async release(deviceId: string): Promise<void> {
    this.marks.delete(deviceId);
  }
}
