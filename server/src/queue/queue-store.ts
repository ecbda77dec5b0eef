/**
 * Store-and-forward queues, one per recipient device, behind an async interface so the Redis engine can replace the
 * in-memory one without touching routing. The embedded default keeps queues in memory: senders keep unacknowledged
 * frames in their outbox and resend them after a relay restart.
 */
import { DeviceQueue, type QueueBounds } from './device-queue.js';
import type { QueuedEnvelope } from './queued-envelope.js';

export interface QueueStats {
  /** Pending plus in flight. */
  readonly depth: number;
  readonly bytes: number;
  readonly inflight: number;
}

export interface QueueStore {
  /** Adds an envelope; returns what overflow evicted (which may include `entry`). */
  enqueue(entry: QueuedEnvelope): Promise<QueuedEnvelope[]>;
  /**
   * Moves entries into flight for delivery until `window` are in flight or about `budgetBytes` were taken (at least
   * one entry); expired ones met on the way are returned apart.
   */
  take(
    deviceId: string,
    window: number,
    now: number,
    budgetBytes?: number,
  ): Promise<{ entries: QueuedEnvelope[]; expired: QueuedEnvelope[] }>;
  /** Removes acknowledged in-flight entries and returns them. */
  ack(deviceId: string, ids: readonly string[], from: string | undefined): Promise<QueuedEnvelope[]>;
  /** Puts in-flight entries back in front (the device disconnected before acknowledging) and returns them. */
  release(deviceId: string): Promise<QueuedEnvelope[]>;
  /** Removes every expired pending entry of every device. */
  sweep(now: number): Promise<QueuedEnvelope[]>;
  /** Removes and returns everything queued for a device (revocation). */
  purge(deviceId: string): Promise<QueuedEnvelope[]>;
  stats(deviceId: string): Promise<QueueStats>;
  /** Send time of the device's oldest unacknowledged entry. */
  oldestInflightAt(deviceId: string): Promise<number | undefined>;
  totals(): { depth: number; bytes: number };
  close(): Promise<void>;
}

/**
 * @example
 * const queues = new MemoryQueueStore({ maxCount: 1000, maxBytes: 16 << 20 });
 * const evicted = await queues.enqueue(entry);
 */
export class MemoryQueueStore implements QueueStore {
  private readonly queues = new Map<string, DeviceQueue>();
  private depth = 0;
  private bytes = 0;

  constructor(private readonly bounds: QueueBounds) {}

  private queue(deviceId: string): DeviceQueue {
    let q = this.queues.get(deviceId);
    if (q === undefined) {
      q = new DeviceQueue();
      this.queues.set(deviceId, q);
    }
    return q;
  }

  /** Applies a mutation and keeps the global totals in step; empty queues are forgotten to bound memory. */
  private track<T>(deviceId: string, fn: (q: DeviceQueue) => T): T {
    const q = this.queue(deviceId);
    const before = { count: q.count, bytes: q.bytes };
    const out = fn(q);
    this.depth += q.count - before.count;
    this.bytes += q.bytes - before.bytes;
    if (q.count === 0) this.queues.delete(deviceId);
    return out;
  }

  async enqueue(entry: QueuedEnvelope): Promise<QueuedEnvelope[]> {
    return this.track(entry.to, (q) => q.push(entry, this.bounds));
  }

  async take(deviceId: string, window: number, now: number, budgetBytes?: number) {
    const q = this.queues.get(deviceId);
    if (q === undefined || q.pendingCount === 0 || q.inflightCount >= window) return { entries: [], expired: [] };
    return this.track(deviceId, (dq) => dq.take(window - dq.inflightCount, now, budgetBytes));
  }

  async ack(deviceId: string, ids: readonly string[], from: string | undefined): Promise<QueuedEnvelope[]> {
    if (!this.queues.has(deviceId)) return [];
    return this.track(deviceId, (q) => q.ack(ids, from));
  }

  async release(deviceId: string): Promise<QueuedEnvelope[]> {
    return this.queues.get(deviceId)?.release() ?? [];
  }

  async sweep(now: number): Promise<QueuedEnvelope[]> {
    const expired: QueuedEnvelope[] = [];
    for (const deviceId of [...this.queues.keys()]) {
      if ((this.queues.get(deviceId)?.pendingCount ?? 0) === 0) continue;
      expired.push(...this.track(deviceId, (q) => q.sweep(now)));
    }
    return expired;
  }

  async purge(deviceId: string): Promise<QueuedEnvelope[]> {
    if (!this.queues.has(deviceId)) return [];
    return this.track(deviceId, (q) => q.purge());
  }

  async stats(deviceId: string): Promise<QueueStats> {
    const q = this.queues.get(deviceId);
    return { depth: q?.count ?? 0, bytes: q?.bytes ?? 0, inflight: q?.inflightCount ?? 0 };
  }

  async oldestInflightAt(deviceId: string): Promise<number | undefined> {
    return this.queues.get(deviceId)?.oldestInflightAt();
  }

  totals(): { depth: number; bytes: number } {
    return { depth: this.depth, bytes: this.bytes };
  }

  async close(): Promise<void> {
    this.queues.clear();
  }
}
