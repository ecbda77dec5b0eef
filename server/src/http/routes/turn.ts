import { TurnCredentialsResponse } from '@oppie/protocol';
import type { AuthService } from '../../auth/types.js';
import { iceServersFor, type TurnOptions } from '../../turn/credentials.js';
import { type App, errorResponses } from '../app.js';
import { requireDevice } from '../bearer.js';

/** GET /api/turn/credentials: fresh ICE servers for the caller, TURN credentials minted for its device id. */
export function registerTurnRoute(app: App, deps: { auth: AuthService; turn: TurnOptions }): void {
  app.get(
    '/api/turn/credentials',
    {
      schema: {
        tags: ['turn'],
        summary: 'STUN/TURN servers with short-lived TURN credentials for this device',
        security: [{ bearer: [] }],
        response: { 200: TurnCredentialsResponse, ...errorResponses },
      },
    },
    async (request) => {
      const claims = await requireDevice(request, deps.auth);
      return iceServersFor(deps.turn, claims.deviceId, Date.now());
    },
  );
}
