/**
 * When to wake a PWA, and how often: a high-priority envelope queued for an offline PWA with a subscription becomes
 * one Web Push. Triggers wait in a bounded queue served by a fixed number of concurrent requests; relaying never
 * waits for any of it. Every trigger that does not become a push is counted by reason.
 */
import type { PushWakePayload, RoleName } from '@oppie/protocol';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { QueuedEnvelope } from '../queue/queued-envelope.js';
import type { PushSend, SendResult } from './sender.js';
import type { PushCoalescer, PushSubscriptionRecord, PushSubscriptionStore } from './stores.js';

/** What a wake-up needs of an envelope. */
export type WakeRef = Pick<QueuedEnvelope, 'id' | 'from' | 'to' | 'type' | 'priority'>;

/** Routed types that never wake: signals are useless by the time a phone wakes, receipts are bookkeeping. */
const NO_WAKE = new Set(['signal', 'receipt']);

/** Whether an envelope for a PWA may wake it: high priority, and not a signal or receipt. */
export function wakes(entry: Pick<WakeRef, 'priority' | 'type'>): boolean {
  return entry.priority === 'high' && !NO_WAKE.has(entry.type);
}
/** Ids carried by one push at most (each at most 64 characters): well below the 4 KiB push services accept. */
export const MAX_WAKE_IDS = 16;

export type PushOutcome = 'sent' | 'gone' | 'failed' | 'dropped' | 'coalesced';

export interface PushWakeOptions {
  /** PUSH_COALESCE_SECONDS in ms; 0 sends for every trigger. */
  readonly coalesceMs: number;
  readonly concurrency: number;
  readonly queueMax: number;
}

export interface PushWakeDeps {
  readonly subscriptions: PushSubscriptionStore;
  readonly coalescer: PushCoalescer;
  readonly send: PushSend;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

interface Job {
  readonly deviceId: string;
  readonly from: string;
  readonly ids: string[];
}

/**
 * @example
 * const wake = new PushWake({ subscriptions, coalescer, send, metrics, logger }, { coalesceMs: 30_000, concurrency: 8, queueMax: 1000 });
 * wake.queued(entry, 'pwa'); // from the router, after the envelope was queued for an offline device
 */
export class PushWake {
  /** Jobs not started yet, by device: a second trigger joins the waiting job instead of queueing another. */
  private readonly waiting = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private active = 0;
  private closed = false;
  private idle: (() => void) | undefined;

  constructor(
    private readonly deps: PushWakeDeps,
    private readonly opts: PushWakeOptions,
  ) {}

  private count(outcome: PushOutcome): void {
    this.deps.metrics.push.inc({ outcome });
  }

  /**
   * An envelope was queued for a device connected nowhere. Sync and cheap: it only decides and queues.
   * `role` is the recipient's role from the account directory.
   */
  queued(entry: WakeRef, role: RoleName | undefined): void {
    if (role !== 'pwa') return;
    this.add(entry);
    this.pump();
  }

  /**
   * A PWA's connection closed with `entries` in flight; they went back to its queue. Like {@link queued} for each,
   * except that they are all added before any is sent, so they share one push.
   */
  released(entries: readonly WakeRef[]): void {
    for (const entry of entries) this.add(entry);
    this.pump();
  }

  private add(entry: WakeRef): void {
    if (!wakes(entry)) return;
    const waiting = this.waiting.get(entry.to);
    if (waiting !== undefined) {
      if (waiting.ids.length < MAX_WAKE_IDS) waiting.ids.push(entry.id);
      this.count('coalesced');
      return;
    }
    if (this.closed || this.queue.length >= this.opts.queueMax) {
      this.count('dropped');
      return;
    }
    const job: Job = { deviceId: entry.to, from: entry.from, ids: [entry.id] };
    this.waiting.set(job.deviceId, job);
    this.queue.push(job);
  }

  /** The device came online: its next offline period gets a push without waiting out the interval. */
  online(deviceId: string): void {
    if (this.opts.coalesceMs === 0) return;
    this.deps.coalescer.release(deviceId).catch((err: unknown) => {
      this.deps.logger.debug({ err, deviceId }, 'push coalescing mark not released');
    });
  }

  private pump(): void {
    while (this.active < this.opts.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.waiting.delete(job.deviceId);
      this.active++;
      void this.run(job).finally(() => {
        this.active--;
        if (this.active === 0) this.idle?.();
        this.pump();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    const { subscriptions, coalescer, send, logger } = this.deps;
    let outcome: PushOutcome;
    let result: SendResult;
    let sub: PushSubscriptionRecord | undefined;
    try {
      sub = await subscriptions.get(job.deviceId);
      // No subscription is the normal case for a PWA that never asked for notifications: nothing to count.
      if (sub === undefined) return;
      if (this.opts.coalesceMs > 0 && !(await coalescer.claim(job.deviceId, this.opts.coalesceMs))) {
        this.count('coalesced');
        return;
      }
      const payload: PushWakePayload = { t: 'wake', ids: job.ids, from: job.from };
      result = await send(sub, JSON.stringify(payload));
      outcome = result.outcome;
    } catch (err) {
      // The store failed before anything was sent.
      this.count('failed');
      logger.warn({ err, deviceId: job.deviceId }, 'web push wake-up failed');
      return;
    }
    // One outcome per push: cleanup that fails afterwards is a store error, not a second failure.
    this.count(outcome);
    if (outcome === 'gone') {
      await this.cleanup('push_delete', job.deviceId, () => subscriptions.delete(job.deviceId, sub.endpoint));
    } else if (outcome === 'failed') {
      // Status code and error only: the endpoint's path is the device's capability and stays out of the logs.
      const host = URL.canParse(sub.endpoint) ? new URL(sub.endpoint).host : undefined;
      logger.warn({ err: result.error, status: result.status, host, deviceId: job.deviceId }, 'web push failed');
      // A failed push did not wake anyone: the next trigger may try again at once.
      if (this.opts.coalesceMs > 0) {
        await this.cleanup('push_release', job.deviceId, () => coalescer.release(job.deviceId));
      }
    }
  }

  private async cleanup(op: string, deviceId: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.deps.metrics.storeErrors.inc({ op });
      this.deps.logger.warn({ err, deviceId, op }, 'web push cleanup failed');
    }
  }

  /**
   * Stops taking triggers, drops the waiting ones (counted) and waits up to `graceMs` for requests in flight, so
   * they do not touch a store that is being closed.
   */
  async close(graceMs = 1000): Promise<void> {
    this.closed = true;
    for (const _ of this.queue.splice(0)) this.count('dropped');
    this.waiting.clear();
    if (this.active === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.idle = resolve;
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
