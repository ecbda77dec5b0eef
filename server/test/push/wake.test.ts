import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import type { PushSend, SendOutcome } from '../../src/push/sender.js';
import type { PushCoalescer, PushSubscriptionRecord, PushSubscriptionStore } from '../../src/push/stores.js';
import { PushWake } from '../../src/push/wake.js';

const record: PushSubscriptionRecord = {
  deviceId: 'pwa1',
  endpoint: 'https://push.example.com/secret-path',
  p256dh: 'p',
  auth: 'a',
  createdAt: 0,
};
const entry = { id: 'e1', from: 'sc1', to: 'pwa1', type: 'approve', priority: 'high' } as const;

/** A wake-up whose store cleanup after the push throws, answering `outcome`. */
function failingCleanup(outcome: SendOutcome) {
  const metrics = createMetrics();
  const subscriptions: PushSubscriptionStore = {
    put: async () => {},
    get: async () => record,
    delete: async () => {
      throw new Error('store down');
    },
  };
  const coalescer: PushCoalescer = {
    claim: async () => true,
    release: async () => {
      throw new Error('store down');
    },
  };
  const send: PushSend = async () => ({ outcome, status: outcome === 'gone' ? 410 : 500 });
  const wake = new PushWake(
    { subscriptions, coalescer, send, metrics, logger: pino({ level: 'silent' }) },
    { coalesceMs: 30_000, concurrency: 1, queueMax: 10 },
  );
  const value = async (name: string, label: Record<string, string>) => {
    const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
    const sample = m?.values.find((v) => Object.entries(label).every(([k, l]) => v.labels[k] === l));
    return sample?.value ?? 0;
  };
  return { wake, value };
}

describe('PushWake', () => {
  it.each([
    ['gone', 'push_delete'],
    ['failed', 'push_release'],
  ] as const)(
    'counts one outcome when the cleanup after %s fails, and the cleanup as a store error',
    async (outcome, op) => {
      const { wake, value } = failingCleanup(outcome);
      wake.queued(entry, 'pwa');
      await vi.waitFor(async () => expect(await value('oppie_relay_store_errors_total', { op })).toBe(1));
      await wake.close();
      expect(await value('oppie_relay_push_total', { outcome })).toBe(1);
      expect(await value('oppie_relay_push_total', { outcome: 'failed' })).toBe(outcome === 'failed' ? 1 : 0);
    },
  );
});
