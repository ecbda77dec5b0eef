import type { Registry } from 'prom-client';
import type { App } from '../app.js';

/** GET /api/metrics: Prometheus text exposition. Unauthenticated, like most scrape targets: keep it off the internet. */
export function registerMetricsRoute(app: App, registry: Registry, beforeScrape: () => void): void {
  app.get('/api/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
    beforeScrape();
    return reply.header('Content-Type', registry.contentType).send(await registry.metrics());
  });
}
