/**
 * The queue of one recipient device: pending envelopes in three priority FIFOs, plus the in-flight set (sent, not yet
 * acknowledged). Bounded by count and bytes over both; overflow evicts the oldest pending envelope of the lowest
 * priority class present, which may be the one just added. Nothing leaves without being returned to the caller, who
 * reports it (dropped, expired, delivered).
 */
import { PRIORITY_RANK } from '@oppie/protocol';
import { Deque } from './deque.js';
import type { QueuedEnvelope } from './queued-envelope.js';

export interface QueueBounds {
  readonly maxCount: number;
  readonly maxBytes: number;
}

interface InFlight {
  readonly entry: QueuedEnvelope;
  readonly sentAt: number;
  /** Take order: release puts entries back in exactly this order, even where an id collision grouped them. */
  readonly order: number;
}

export class DeviceQueue {
  /** Index = PRIORITY_RANK: 0 high, 1 normal, 2 low. */
  private readonly pending: [Deque<QueuedEnvelope>, Deque<QueuedEnvelope>, Deque<QueuedEnvelope>] = [
    new Deque(),
    new Deque(),
    new Deque(),
  ];
  /**
   * In flight, keyed by envelope id (what a device acks). Ids are unique per sender only, so two senders' envelopes
   * may share an id: that rare case holds an array.
   */
  private readonly inflight = new Map<string, InFlight | InFlight[]>();
  private inflightSize = 0;
  private takeCounter = 0;
  count = 0;
  bytes = 0;
  /** No pending entry expires before this (a lower bound: the sweep skips the queue until then). */
  private nextExpiryAt = Number.POSITIVE_INFINITY;

  get pendingCount(): number {
    return this.count - this.inflightSize;
  }

  get inflightCount(): number {
    return this.inflightSize;
  }

  private fifo(entry: QueuedEnvelope): Deque<QueuedEnvelope> {
    return this.pending[PRIORITY_RANK[entry.priority]] as Deque<QueuedEnvelope>;
  }

  /** Adds an entry; returns what overflow evicted (possibly `entry` itself). */
  push(entry: QueuedEnvelope, bounds: QueueBounds): QueuedEnvelope[] {
    this.fifo(entry).push(entry);
    if (entry.expiresAt < this.nextExpiryAt) this.nextExpiryAt = entry.expiresAt;
    this.count++;
    this.bytes += entry.bytes;
    const evicted: QueuedEnvelope[] = [];
    while (this.count > bounds.maxCount || this.bytes > bounds.maxBytes) {
      const victim = this.evictOne();
      if (victim === undefined) break; // only in-flight left: they are bounded by the in-flight window
      evicted.push(victim);
    }
    return evicted;
  }

  private evictOne(): QueuedEnvelope | undefined {
    for (let rank = 2; rank >= 0; rank--) {
      const victim = this.pending[rank]?.shift();
      if (victim !== undefined) {
        this.count--;
        this.bytes -= victim.bytes;
        return victim;
      }
    }
    return undefined;
  }

  /**
   * Moves up to `max` pending entries (and about `budgetBytes`: at least one entry), highest priority first, into
   * flight. Expired entries met on the way are removed and returned separately.
   */
  take(
    max: number,
    now: number,
    budgetBytes = Number.POSITIVE_INFINITY,
  ): { entries: QueuedEnvelope[]; expired: QueuedEnvelope[] } {
    const entries: QueuedEnvelope[] = [];
    const expired: QueuedEnvelope[] = [];
    let budget = budgetBytes;
    for (let rank = 0; rank < 3 && entries.length < max && budget > 0; rank++) {
      const fifo = this.pending[rank] as Deque<QueuedEnvelope>;
      while (entries.length < max && budget > 0) {
        const entry = fifo.shift();
        if (entry === undefined) break;
        if (entry.expiresAt <= now) {
          this.count--;
          this.bytes -= entry.bytes;
          expired.push(entry);
          continue;
        }
        this.addInflight({ entry, sentAt: now, order: this.takeCounter++ });
        entries.push(entry);
        budget -= entry.bytes;
      }
    }
    return { entries, expired };
  }

  private addInflight(f: InFlight): void {
    const other = this.inflight.get(f.entry.id);
    if (other === undefined) this.inflight.set(f.entry.id, f);
    else if (Array.isArray(other)) other.push(f);
    else this.inflight.set(f.entry.id, [other, f]);
    this.inflightSize++;
  }

  /** Acknowledges in-flight entries. Without `from`, every in-flight entry with a listed id matches. */
  ack(ids: readonly string[], from: string | undefined): QueuedEnvelope[] {
    const acked: QueuedEnvelope[] = [];
    const done = (f: InFlight) => {
      this.inflightSize--;
      this.count--;
      this.bytes -= f.entry.bytes;
      acked.push(f.entry);
    };
    for (const id of ids) {
      const f = this.inflight.get(id);
      if (f === undefined) continue;
      if (!Array.isArray(f)) {
        if (from !== undefined && f.entry.from !== from) continue;
        this.inflight.delete(id);
        done(f);
        continue;
      }
      const keep = f.filter((x) => from !== undefined && x.entry.from !== from);
      for (const x of f) if (!keep.includes(x)) done(x);
      if (keep.length === 0) this.inflight.delete(id);
      else this.inflight.set(id, keep.length === 1 ? (keep[0] as InFlight) : keep);
    }
    return acked;
  }

  private *inflightEntries(): IterableIterator<InFlight> {
    for (const f of this.inflight.values()) {
      if (Array.isArray(f)) yield* f;
      else yield f;
    }
  }

  /** Returns in-flight entries to the front of their classes, in their original order (redelivery after reconnect). */
  /** Puts every in-flight entry back in front of its class; returns them in take order. */
  release(): QueuedEnvelope[] {
    const back = [...this.inflightEntries()].sort((a, b) => b.order - a.order);
    this.inflight.clear();
    this.inflightSize = 0;
    for (const { entry } of back) {
      this.fifo(entry).unshift(entry);
      if (entry.expiresAt < this.nextExpiryAt) this.nextExpiryAt = entry.expiresAt;
    }
    return back.reverse().map((b) => b.entry);
  }

  /** Send time of the oldest in-flight entry, for slow-consumer detection. */
  oldestInflightAt(): number | undefined {
    for (const f of this.inflightEntries()) return f.sentAt;
    return undefined;
  }

  /** Removes expired pending entries (in-flight ones are checked when released and taken again). */
  sweep(now: number): QueuedEnvelope[] {
    if (now < this.nextExpiryAt) return [];
    const expired: QueuedEnvelope[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const fifo of this.pending) {
      for (const e of fifo.removeWhere((x) => x.expiresAt <= now)) {
        this.count--;
        this.bytes -= e.bytes;
        expired.push(e);
      }
      for (const e of fifo) if (e.expiresAt < next) next = e.expiresAt;
    }
    this.nextExpiryAt = next;
    return expired;
  }

  /** Empties the queue (device revoked) and returns everything it held. */
  purge(): QueuedEnvelope[] {
    const all = [...this.inflightEntries()].map((f) => f.entry);
    this.inflight.clear();
    this.inflightSize = 0;
    for (const fifo of this.pending) {
      let e = fifo.shift();
      while (e !== undefined) {
        all.push(e);
        e = fifo.shift();
      }
    }
    this.count = 0;
    this.bytes = 0;
    return all;
  }

  /** Pending entries in drain order (tests and diagnostics). */
  *drainOrder(): IterableIterator<QueuedEnvelope> {
    for (const fifo of this.pending) yield* fifo;
  }
}
