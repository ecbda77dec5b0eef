/**
 * One Web Push request with `web-push`: RFC 8291 encryption for the subscription's keys, a VAPID signature
 * (RFC 8292), TTL and urgency, and the push service's answer folded into an outcome.
 */
import type { Agent } from 'node:https';
import webpush, { WebPushError } from 'web-push';
import type { PushSubscriptionRecord } from './stores.js';
import type { VapidDetails } from './vapid.js';

/** `gone`: the push service no longer knows the subscription (404/410), so it must be deleted. */
export type SendOutcome = 'sent' | 'gone' | 'failed';

export interface SendResult {
  readonly outcome: SendOutcome;
  /** HTTP status of the push service, when it answered. */
  readonly status?: number;
  readonly error?: Error;
}

/** Sends an encrypted payload to a subscription; never rejects. */
export type PushSend = (sub: PushSubscriptionRecord, payload: string) => Promise<SendResult>;

export interface WebPushSendOptions {
  readonly vapid: VapidDetails;
  readonly ttlSeconds: number;
  readonly timeoutMs: number;
  /** TLS agent for the push endpoints (extra CAs from PUSH_CA_FILE); default: Node's global agent. */
  readonly agent?: Agent;
}

/**
 * The production sender.
 *
 * @example
 * const send = webPushSender({ vapid, ttlSeconds: 3600, timeoutMs: 10_000 });
 * const { outcome } = await send(subscription, JSON.stringify({ t: 'wake', ids: [id], from }));
 */
export function webPushSender(opts: WebPushSendOptions): PushSend {
  const { subject, publicKey, privateKey } = opts.vapid;
  return async (sub, payload) => {
    try {
      const res = await webpush.sendNotification(
        { endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } },
        payload,
        {
          vapidDetails: { subject, publicKey, privateKey },
          TTL: opts.ttlSeconds,
          urgency: 'high',
          contentEncoding: 'aes128gcm',
          timeout: opts.timeoutMs,
          ...(opts.agent !== undefined && { agent: opts.agent }),
        },
      );
      return { outcome: 'sent', status: res.statusCode };
    } catch (err) {
      if (err instanceof WebPushError) {
        const outcome = err.statusCode === 404 || err.statusCode === 410 ? 'gone' : 'failed';
        return { outcome, status: err.statusCode, error: err };
      }
      return { outcome: 'failed', error: err instanceof Error ? err : new Error(String(err)) };
    }
  };
}
