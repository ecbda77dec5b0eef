/**
 * One Web Push request: `web-push` builds it (RFC 8291 encryption for the subscription's keys, a VAPID signature per
 * RFC 8292, TTL and urgency); we send it, because the endpoint is chosen by a device and may be hostile: the request
 * goes through the guarded agent (agent.ts), has one deadline for all of it, and reads a bounded answer.
 */
import { type Agent, request } from 'node:https';
import webpush, { type RequestDetails } from 'web-push';
import type { PushSubscriptionRecord } from './stores.js';
import type { VapidDetails } from './vapid.js';

/** `gone`: the push service no longer knows the subscription (404/410), so it must be deleted. */
export type SendOutcome = 'sent' | 'gone' | 'failed';

/** Push services answer with at most a short error document; anything longer is not a push service. */
export const MAX_RESPONSE_BYTES = 4096;

export interface SendResult {
  readonly outcome: SendOutcome;
  /** HTTP status of the push service, when it answered. */
  readonly status?: number;
  /** Why a push failed; its message never holds the endpoint's path (the capability a device registered). */
  readonly error?: Error;
}

/** Sends an encrypted payload to a subscription; never rejects. */
export type PushSend = (sub: PushSubscriptionRecord, payload: string) => Promise<SendResult>;

export interface WebPushSendOptions {
  readonly vapid: VapidDetails;
  readonly ttlSeconds: number;
  /** PUSH_TIMEOUT_SECONDS in ms: the whole request (lookup, connect, TLS, send, answer) or it is destroyed. */
  readonly timeoutMs: number;
  /** The guarded agent (pushAgent()): extra CAs, and no private endpoints unless allowed. */
  readonly agent: Agent;
}

/** Why a request ended without a usable answer. */
export class PushSendError extends Error {
  override readonly name = 'PushSendError';

  constructor(
    readonly code: 'PUSH_ERR_TIMEOUT' | 'PUSH_ERR_RESPONSE_TOO_LARGE',
    message: string,
  ) {
    super(message);
  }
}

function outcomeOf(status: number): SendOutcome {
  if (status >= 200 && status < 300) return 'sent';
  return status === 404 || status === 410 ? 'gone' : 'failed';
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** POSTs a built request; resolves with the outcome once, whatever happens (error, deadline, oversized answer). */
function post(details: RequestDetails, opts: Pick<WebPushSendOptions, 'agent' | 'timeoutMs'>): Promise<SendResult> {
  return new Promise((resolve) => {
    let done = false;
    const url = new URL(details.endpoint);
    const req = request(url, { method: 'POST', headers: details.headers, agent: opts.agent });
    // `destroy`: the socket is not reusable (the answer was not read to its end), so it must not go back to the pool.
    const finish = (result: SendResult, destroy: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (destroy) req.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      const err = new PushSendError('PUSH_ERR_TIMEOUT', `push request to ${url.host} took over ${opts.timeoutMs} ms`);
      finish({ outcome: 'failed', error: err }, true);
    }, opts.timeoutMs);
    req.on('error', (err) => finish({ outcome: 'failed', error: asError(err) }, true));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read <= MAX_RESPONSE_BYTES) return;
        const err = new PushSendError(
          'PUSH_ERR_RESPONSE_TOO_LARGE',
          `push service answered over ${MAX_RESPONSE_BYTES} bytes`,
        );
        finish({ outcome: 'failed', status, error: err }, true);
      });
      res.on('end', () => {
        const outcome = outcomeOf(status);
        const error = outcome === 'sent' ? undefined : new Error(`push service answered ${status}`);
        finish({ outcome, status, ...(error !== undefined && { error }) }, false);
      });
      res.on('error', (err) => finish({ outcome: 'failed', status, error: asError(err) }, true));
    });
    req.end(details.body ?? undefined);
  });
}

/**
 * The production sender.
 *
 * @example
 * const send = webPushSender({ vapid, ttlSeconds: 3600, timeoutMs: 10_000, agent: pushAgent({ allowPrivate: false }) });
 * const { outcome } = await send(subscription, JSON.stringify({ t: 'wake', ids: [id], from }));
 */
export function webPushSender(opts: WebPushSendOptions): PushSend {
  const { subject, publicKey, privateKey } = opts.vapid;
  return async (sub, payload) => {
    let details: RequestDetails;
    try {
      details = webpush.generateRequestDetails(
        { endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } },
        payload,
        {
          vapidDetails: { subject, publicKey, privateKey },
          TTL: opts.ttlSeconds,
          urgency: 'high',
          contentEncoding: 'aes128gcm',
        },
      );
    } catch (err) {
      return { outcome: 'failed', error: asError(err) };
    }
    return post(details, opts);
  };
}
