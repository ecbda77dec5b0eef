/**
 * When to wake a PWA, and how often: a high-priority envelope queued for an offline PWA with a subscription becomes
 * one Web Push. Triggers wait in a bounded queue served by a fixed number of concurrent requests; relaying never
 * waits for any of it. Every trigger that does not become a push is counted by reason.
 */
import type { PushWakePayload, RoleName } from '@oppie/protocol';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { QueuedEnvelope } from '../queue/queued-envelope.js';
import type { PushSend } from './sender.js';
import type { PushCoalescer, PushSubscriptionStore } from './stores.js';

/** Routed types that never wake: signals are useless by the time a phone wakes, receipts are bookkeeping. */
const NO_WAKE = new Set(['signal', 'receipt']);
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
  queued(entry: QueuedEnvelope, role: RoleName | undefined): void {
    if (role !== 'pwa' || entry.priority !== 'high' || NO_WAKE.has(entry.type)) return;
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
    this.pump();
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
    try {
      const sub = await subscriptions.get(job.deviceId);
      // No subscription is the normal case for a PWA that never asked for notifications: nothing to count.
      if (sub === undefined) return;
      if (this.opts.coalesceMs > 0 && !(await coalescer.claim(job.deviceId, this.opts.coalesceMs))) {
        this.count('coalesced');
        return;
      }
      const payload: PushWakePayload = { t: 'wake', ids: job.ids, from: job.from };
      const result = await send(sub, JSON.stringify(payload));
      this.count(result.outcome);
      if (result.outcome === 'gone') {
        await subscriptions.delete(job.deviceId, sub.endpoint);
      } else if (result.outcome === 'failed') {
        logger.warn({ err: result.error, status: result.status, deviceId: job.deviceId }, 'web push failed');
        // A failed push did not wake anyone: the next trigger may try again at once.
        if (this.opts.coalesceMs > 0) await coalescer.release(job.deviceId);
      }
    } catch (err) {
      this.count('failed');
      logger.warn({ err, deviceId: job.deviceId }, 'web push wake-up failed');
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
