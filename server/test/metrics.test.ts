import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics.js';

describe('metrics', () => {
  it('are all oppie_relay_* and documented in docs/metrics.md', async () => {
    const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
    const { registry } = createMetrics();
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    for (const name of names) {
      expect(name.startsWith('oppie_relay_')).toBe(true);
      if (name.startsWith('oppie_relay_process_') || name.startsWith('oppie_relay_nodejs_')) continue;
      expect(doc, name).toContain(`\`${name}\``);
    }
  });

  it('never label by device or account', () => {
    const { registry } = createMetrics();
    for (const m of registry.getMetricsAsArray()) {
      const labels = (m as unknown as { labelNames?: string[] }).labelNames ?? [];
      for (const l of labels) expect(['deviceId', 'accountId', 'device', 'account', 'user']).not.toContain(l);
    }
  });
});
