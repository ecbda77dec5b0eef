import { PushSubscriptionRequest, VapidPublicKeyResponse } from '@oppie/protocol';
import { Type } from '@sinclair/typebox';
import type { AuthService } from '../../auth/types.js';
import type { Push } from '../../push/index.js';
import { type App, errorResponses } from '../app.js';
import { requireDevice } from '../bearer.js';
import { bearerSecurity } from './deps.js';

/**
 * Web Push routes: the VAPID public key, and the caller PWA's subscription (one per device; a new one replaces it).
 *
 * @example
 * registerPushRoutes(app, { auth, push });
 */
export function registerPushRoutes(app: App, deps: { auth: AuthService; push: Push }): void {
  const { auth, push } = deps;
  app.get(
    '/api/push/vapid-public-key',
    {
      schema: {
        tags: ['push'],
        summary: 'The applicationServerKey for pushManager.subscribe() (VAPID public key, base64url).',
        response: { 200: VapidPublicKeyResponse, ...errorResponses },
      },
    },
    async () => ({ publicKey: push.publicKey() }),
  );

  app.put(
    '/api/push/subscription',
    {
      schema: {
        tags: ['push'],
        summary: "Stores the caller PWA's push subscription (PushSubscription.toJSON()), replacing its previous one.",
        security: bearerSecurity,
        body: PushSubscriptionRequest,
        response: { 204: Type.Null({ description: 'Stored.' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const claims = await requireDevice(request, auth);
      await push.subscribe(claims, request.body);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/api/push/subscription',
    {
      schema: {
        tags: ['push'],
        summary: "Removes the caller PWA's push subscription (also when it had none).",
        security: bearerSecurity,
        response: { 204: Type.Null({ description: 'Removed.' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const claims = await requireDevice(request, auth);
      await push.unsubscribe(claims);
      return reply.code(204).send(null);
    },
  );
}
