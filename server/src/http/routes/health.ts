import { HealthResponse } from '@oppie/protocol';
import type { App } from '../app.js';

export interface HealthDeps {
  readonly startedAt: number;
  readonly draining: () => boolean;
  readonly connections: () => number;
  /** Named readiness checks; each throws when its dependency is unusable. */
  readonly checks: Record<string, () => Promise<void>>;
}

/**
 * GET /api/health: liveness and readiness in one document. 200 when ready, 503 when a check fails or the relay is
 * draining, so a load balancer's readiness probe and a human read the same thing.
 */
export function registerHealthRoute(app: App, deps: HealthDeps): void {
  app.get(
    '/api/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness and readiness (store checked)',
        response: { 200: HealthResponse, 503: HealthResponse },
      },
    },
    async (_req, reply) => {
      const checks: Record<string, { ok: boolean; error?: string }> = {};
      for (const [name, check] of Object.entries(deps.checks)) {
        try {
          await check();
          checks[name] = { ok: true };
        } catch (err) {
          checks[name] = { ok: false, error: (err as Error).message };
        }
      }
      const draining = deps.draining();
      const ready = !draining && Object.values(checks).every((c) => c.ok);
      const status = draining ? 'draining' : ready ? 'ok' : 'degraded';
      return reply.code(ready ? 200 : 503).send({
        status,
        live: true,
        ready,
        checks,
        uptimeMs: Date.now() - deps.startedAt,
        connections: deps.connections(),
      });
    },
  );
}
