/**
 * Which wake-worthy envelopes each device has in flight (taken for delivery, not acknowledged). An envelope acked
 * `forwarded` to a connection that turns out to be dead goes back to the queue when the connection closes, but it
 * never passed through the "queued for an offline device" trigger: when the PWA's connection closes, these are the
 * envelopes to wake it for.
 *
 * It watches the queue store from outside (a decorator) so the stores stay as they are; it keeps the ids and
 * routing fields only, never the payload.
 */
import type { QueueStore } from '../queue/queue-store.js';
import type { QueuedEnvelope } from '../queue/queued-envelope.js';

/** What a wake-up needs of an envelope. */
export type WakeRef = Pick<QueuedEnvelope, 'id' | 'from' | 'to' | 'type' | 'priority'>;

const key = (e: WakeRef) => `${e.from}\n${e.id}`;

/**
 * A device whose refs nobody touched (no take, no ack) for this long is forgotten at the next sweep: a live
 * connection with envelopes in flight is closed by heartbeats long before, so such refs only belong to a device that
 * went on elsewhere (another instance acked them) and must neither leak nor wake it later.
 */
export const INFLIGHT_REF_MAX_IDLE_MS = 15 * 60_000;

interface DeviceRefs {
  readonly refs: Map<string, WakeRef>;
  touchedAt: number;
}

/**
 * @example
 * const inflight = new InflightWakeRefs((e) => e.priority === 'high');
 * const queues = inflight.watch(new MemoryQueueStore(bounds));
 * // the PWA's connection closed and its queue was released:
 * for (const ref of inflight.take(deviceId)) wake.queued(ref, 'pwa');
 */
export class InflightWakeRefs {
  /**
   * Device id -> (sender + envelope id) -> ref. Bounded by each device's in-flight window, and in devices by
   * {@link INFLIGHT_REF_MAX_IDLE_MS} (forgotten at the sweep) and by {@link forget}.
   */
  private readonly byDevice = new Map<string, DeviceRefs>();

  /** `keep`: which taken entries may matter for a wake-up (others are not tracked at all). */
  constructor(
    private readonly keep: (entry: QueuedEnvelope) => boolean,
    private readonly clock: () => number = Date.now,
  ) {}

  private add(entries: readonly QueuedEnvelope[]): void {
    for (const e of entries) {
      if (!this.keep(e)) continue;
      let d = this.byDevice.get(e.to);
      if (d === undefined) {
        d = { refs: new Map(), touchedAt: this.clock() };
        this.byDevice.set(e.to, d);
      }
      d.touchedAt = this.clock();
      d.refs.set(key(e), { id: e.id, from: e.from, to: e.to, type: e.type, priority: e.priority });
    }
  }

  private remove(deviceId: string, entries: readonly QueuedEnvelope[]): void {
    const d = this.byDevice.get(deviceId);
    if (d === undefined) return;
    for (const e of entries) d.refs.delete(key(e));
    d.touchedAt = this.clock();
    if (d.refs.size === 0) this.byDevice.delete(deviceId);
  }

  /** Forgets and returns what `deviceId` had in flight (its connection closed and the queue was released). */
  take(deviceId: string): WakeRef[] {
    const d = this.byDevice.get(deviceId);
    this.byDevice.delete(deviceId);
    return d === undefined ? [] : [...d.refs.values()];
  }

  /** Forgets `deviceId`'s refs without waking it (it went on elsewhere, or its release failed). */
  forget(deviceId: string): void {
    this.byDevice.delete(deviceId);
  }

  /** Devices tracked (for tests and gauges). */
  get devices(): number {
    return this.byDevice.size;
  }

  /** Drops devices whose refs nobody touched for {@link INFLIGHT_REF_MAX_IDLE_MS}. */
  private age(now: number): void {
    for (const [deviceId, d] of this.byDevice) {
      if (now - d.touchedAt > INFLIGHT_REF_MAX_IDLE_MS) this.byDevice.delete(deviceId);
    }
  }

  /** Wraps `queues`: takes are recorded; acks, expiries and purges forgotten; everything else passes through. */
  watch(queues: QueueStore): QueueStore {
    return {
      enqueue: (entry) => queues.enqueue(entry),
      take: async (deviceId, window, now, budgetBytes) => {
        const taken = await queues.take(deviceId, window, now, budgetBytes);
        this.remove(deviceId, taken.expired);
        this.add(taken.entries);
        return taken;
      },
      ack: async (deviceId, ids, from) => {
        const done = await queues.ack(deviceId, ids, from);
        this.remove(deviceId, done);
        return done;
      },
      // Released entries stay recorded: a new connection takes them again (same key), a closing one takes them here.
      release: (deviceId) => queues.release(deviceId),
      sweep: async (now) => {
        const expired = await queues.sweep(now);
        for (const e of expired) this.remove(e.to, [e]);
        this.age(now);
        return expired;
      },
      purge: async (deviceId) => {
        this.byDevice.delete(deviceId);
        return queues.purge(deviceId);
      },
      stats: (deviceId) => queues.stats(deviceId),
      oldestInflightAt: (deviceId) => queues.oldestInflightAt(deviceId),
      totals: () => queues.totals(),
      close: () => queues.close(),
    };
  }
}
