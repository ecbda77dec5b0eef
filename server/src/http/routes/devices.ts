import { DeviceIdParams, DeviceList } from '@oppie/protocol';
import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import { errorResponses } from '../app.js';
import { requireDevice } from '../bearer.js';
import { type AuthRouteDeps, authLimit, bearerSecurity } from './deps.js';

/**
 * Device routes: list the caller's account, revoke a device of it.
 *
 * @example
 * registerDeviceRoutes(app, { auth, config, online });
 */
export function registerDeviceRoutes(app: App, deps: AuthRouteDeps): void {
  const onRequest = authLimit(deps);

  app.get(
    '/api/auth/devices',
    {
      onRequest,
      schema: {
        tags: ['devices'],
        summary: 'Devices of the caller account (revoked ones excluded), with their online state.',
        security: bearerSecurity,
        response: { 200: DeviceList, ...errorResponses },
      },
    },
    async (request) => {
      const claims = await requireDevice(request, deps.auth);
      return deps.auth.listAccountDevices(claims, deps.online);
    },
  );

  app.delete(
    '/api/auth/devices/:id',
    {
      onRequest,
      schema: {
        tags: ['devices'],
        summary: 'Revokes a device of the caller account (itself included); its tokens are refused from now on.',
        security: bearerSecurity,
        params: DeviceIdParams,
        response: { 204: Type.Null({ description: 'Revoked.' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const claims = await requireDevice(request, deps.auth);
      await deps.auth.revokeDevice(claims, request.params.id, { ip: request.ip });
      return reply.code(204).send(null);
    },
  );
}
