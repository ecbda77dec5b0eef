import { type SessionInfo, SessionList } from '@oppie/protocol';
import type { AuthService } from '../../auth/types.js';
import type { DeviceLocation } from '../../cluster/cluster.js';
import type { QueueStore } from '../../queue/queue-store.js';
import { type App, errorResponses } from '../app.js';
import { requireDevice } from '../bearer.js';

/**
 * GET /api/sessions: the caller's account, device by device: online, connection age, path, queue depth. Every
 * instance answers the same: locations and queues come from the shared stores.
 */
export function registerSessionsRoute(
  app: App,
  deps: {
    auth: AuthService;
    locate: (deviceIds: readonly string[]) => Promise<ReadonlyMap<string, DeviceLocation>>;
    queues: QueueStore;
  },
): void {
  app.get(
    '/api/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: "Sessions of the caller's account",
        security: [{ bearer: [] }],
        response: { 200: SessionList, ...errorResponses },
      },
    },
    async (request) => {
      const claims = await requireDevice(request, deps.auth);
      const devices = await deps.auth.listDevices(claims.accountId);
      const located = await deps.locate(devices.map((d) => d.id));
      const now = Date.now();
      const sessions: SessionInfo[] = [];
      for (const d of devices) {
        const conn = located.get(d.id);
        const q = await deps.queues.stats(d.id);
        sessions.push({
          deviceId: d.id,
          role: d.role,
          name: d.name,
          online: conn !== undefined,
          connectedAt: conn?.connectedAt ?? null,
          connectionAgeMs: conn === undefined ? null : now - conn.connectedAt,
          path: conn?.path ?? null,
          queueDepth: q.depth,
          queueBytes: q.bytes,
          inFlight: q.inflight,
        });
      }
      return { sessions };
    },
  );
}
