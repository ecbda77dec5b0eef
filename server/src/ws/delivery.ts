/**
 * Delivery from the queues to live sockets, and the notices that tell a sender what became of its envelopes.
 *
 * Every routed envelope goes through the recipient's queue, online or not, so there is one path with one set of
 * guarantees: at-least-once to the device (in flight until it acks), an in-flight window per device, TTL checked at
 * every step, and every drop or expiry reported to the sender as a queued `dropped`/`expired` notice.
 */
import type { DropReason, RelayFrame } from '@oppie/protocol';
import type { Cluster } from '../cluster/cluster.js';
import type { Metrics, TrafficCounters } from '../metrics.js';
import type { DedupeStore } from '../queue/dedupe.js';
import type { QueueStore } from '../queue/queue-store.js';
import type { QueuedEnvelope } from '../queue/queued-envelope.js';
import { relayFrameId } from './connection.js';
import type { Hub } from './hub.js';

/** Sender id of relay notices in the queues. */
export const RELAY_SENDER = 'relay';
const MAX_IDS_PER_NOTICE = 512;

export interface DeliveryOptions {
  readonly inflightMaxCount: number;
  /** Delivery stops adding to a socket's send buffer above this many bytes and resumes as it drains. */
  readonly sendWatermarkBytes: number;
  readonly noticeTtlMs: number;
}

export class Delivery {
  private readonly pumping = new Set<string>();
  private readonly again = new Set<string>();

  constructor(
    private readonly hub: Hub,
    private readonly queues: QueueStore,
    private readonly dedupe: DedupeStore,
    private readonly metrics: Metrics,
    private readonly traffic: TrafficCounters,
    private readonly opts: DeliveryOptions,
    private readonly onError: (err: unknown, deviceId: string) => void,
    private readonly cluster: Cluster,
  ) {}

  /**
   * Sends what is queued for a device while it has room in its window. Serialised per device. A device connected
   * to another instance is woken there (one hop); an offline one drains when it connects.
   */
  pump(deviceId: string): void {
    if (this.hub.get(deviceId) === undefined) {
      void this.wakeElsewhere(deviceId);
      return;
    }
    if (this.pumping.has(deviceId)) {
      this.again.add(deviceId);
      return;
    }
    this.pumping.add(deviceId);
    this.drain(deviceId)
      .catch((err: unknown) => this.onError(err, deviceId))
      .finally(() => {
        this.pumping.delete(deviceId);
        // A pump() that arrived after drain's last check must not be lost.
        if (this.again.delete(deviceId)) this.pump(deviceId);
      });
  }

  /**
   * A wake-up from another instance: pumps `deviceId` if its connection is here, and says whether it is. Unlike
   * {@link Delivery.pump} it never wakes another instance in turn, so a wake-up cannot echo between instances.
   */
  pumpHeld(deviceId: string): boolean {
    if (this.hub.get(deviceId) === undefined) return false;
    this.pump(deviceId);
    return true;
  }

  /** Wakes the instance holding `deviceId` (not this one); true when one does. */
  wakeElsewhere(deviceId: string): Promise<boolean> {
    return this.cluster.wake(deviceId);
  }

  private async drain(deviceId: string): Promise<void> {
    do {
      this.again.delete(deviceId);
      const conn = this.hub.get(deviceId);
      if (conn === undefined || conn.closing || !conn.ready) return;
      const budget = this.opts.sendWatermarkBytes - conn.ws.bufferedAmount;
      if (budget <= 0) {
        // The socket is not draining as fast as we fill it: wait for acks (or the heartbeat sweep) to pump again.
        conn.stalledSince ??= Date.now();
        return;
      }
      conn.stalledSince = undefined;
      const { entries, expired } = await this.queues.take(deviceId, this.opts.inflightMaxCount, Date.now(), budget);
      if (expired.length > 0) await this.expired(expired, 'dequeue');
      if (entries.length === 0) continue;
      if (this.hub.get(deviceId) !== conn || conn.closing) {
        // Replaced or closing while we took: hand the entries back for the next connection.
        await this.queues.release(deviceId);
        return;
      }
      for (const e of entries) {
        conn.sendText(e.text);
        this.traffic.count(e.type, 'out', e.bytes);
      }
      this.again.add(deviceId); // the window and the budget may still have room
    } while (this.again.has(deviceId));
  }

  /** The device acknowledged envelopes: record latency, free the window, send more. */
  async acked(deviceId: string, ids: readonly string[], from: string | undefined): Promise<void> {
    const done = await this.queues.ack(deviceId, ids, from);
    const now = Date.now();
    for (const e of done) this.traffic.delivered(e.priority, (now - e.acceptedAt) / 1000);
    if (done.length > 0) this.pump(deviceId);
  }

  /** Reports dropped envelopes to their senders. */
  async dropped(entries: readonly QueuedEnvelope[], reason: DropReason): Promise<void> {
    for (const e of entries) this.metrics.queueDrops.inc({ reason: e.from === RELAY_SENDER ? 'notice_lost' : reason });
    await this.forget(entries);
    await this.notify(entries, (ids, to) => ({ type: 'dropped', payload: { ids, to, reason } }));
  }

  /** Reports expired envelopes to their senders. */
  async expired(entries: readonly QueuedEnvelope[], stage: 'enqueue' | 'dequeue' | 'sweep'): Promise<void> {
    this.metrics.queueExpired.inc({ stage }, entries.length);
    await this.forget(entries);
    await this.notify(entries, (ids, to) => ({ type: 'expired', payload: { ids, to } }));
  }

  /**
   * A sender told of a drop or expiry may resend the same id: it must be taken as new, not as a duplicate, on every
   * instance. The drop happens on whichever instance overflowed or swept the queue, often not the one the sender
   * talks to (its de-duplication window is there), so the ids go to the other instances too.
   */
  private async forget(entries: readonly QueuedEnvelope[]): Promise<void> {
    const bySender = groupIds(entries, (e) => e.from);
    for (const { of, ids } of bySender) for (const id of ids) await this.dedupe.forget(of.from, id);
    if (!this.cluster.shared) return;
    for (const { of, ids } of bySender) {
      for (const part of slices(ids)) this.cluster.publish({ kind: 'forget', senderId: of.from, ids: part });
    }
  }

  /**
   * Queues one notice per (sender, recipient) group, so a notice survives the sender being offline. Notices about
   * notices are not sent (counted only), which keeps a full queue from feeding itself.
   */
  private async notify(
    entries: readonly QueuedEnvelope[],
    build: (
      ids: string[],
      to: string,
    ) => Pick<RelayFrame<'dropped'>, 'type' | 'payload'> | Pick<RelayFrame<'expired'>, 'type' | 'payload'>,
  ): Promise<void> {
    const now = Date.now();
    for (const { of, ids } of groupIds(entries, (e) => `${e.from}\n${e.to}`)) {
      for (const part of slices(ids)) {
        const { type, payload } = build(part, of.to);
        const id = relayFrameId();
        const text = JSON.stringify({ type, id, timestamp: now, payload });
        const evicted = await this.queues.enqueue({
          id,
          from: RELAY_SENDER,
          to: of.from,
          type,
          priority: 'high',
          text,
          bytes: Buffer.byteLength(text),
          acceptedAt: now,
          expiresAt: now + this.opts.noticeTtlMs,
        });
        if (evicted.length > 0) await this.dropped(evicted, 'queue_full');
      }
      this.pump(of.from);
    }
  }
}

/** Devices' envelopes (not relay notices) grouped by `key`: one envelope of each group, and the group's ids. */
function groupIds(
  entries: readonly QueuedEnvelope[],
  key: (e: QueuedEnvelope) => string,
): Array<{ readonly of: QueuedEnvelope; readonly ids: string[] }> {
  const groups = new Map<string, { of: QueuedEnvelope; ids: string[] }>();
  for (const e of entries) {
    if (e.from === RELAY_SENDER) continue;
    const g = groups.get(key(e));
    if (g === undefined) groups.set(key(e), { of: e, ids: [e.id] });
    else g.ids.push(e.id);
  }
  return [...groups.values()];
}

/** `ids` in slices of at most MAX_IDS_PER_NOTICE, the most one notice or cluster event names. */
function* slices(ids: readonly string[]): Generator<string[]> {
  for (let i = 0; i < ids.length; i += MAX_IDS_PER_NOTICE) yield ids.slice(i, i + MAX_IDS_PER_NOTICE);
}
