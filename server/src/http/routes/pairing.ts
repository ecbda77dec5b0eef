import { ErrorBody, PairingClaimRequest, PairingClaimResponse, PairingResponse } from '@oppie/protocol';
import type { App } from '../app.js';
import { errorResponses } from '../app.js';
import { requireDevice } from '../bearer.js';
import { type AuthRouteDeps, authLimit, bearerSecurity } from './deps.js';

/**
 * Pairing routes: a sidecar creates a code, a PWA claims it.
 *
 * @example
 * registerPairingRoutes(app, { auth, config, online });
 */
export function registerPairingRoutes(app: App, deps: AuthRouteDeps): void {
  const onRequest = authLimit(deps);

  app.post(
    '/api/pairing',
    {
      onRequest,
      schema: {
        tags: ['pairing'],
        summary: 'A one-time pairing code for the calling sidecar (role sidecar only).',
        security: bearerSecurity,
        response: { 200: PairingResponse, ...errorResponses },
      },
    },
    async (request) => {
      const claims = await requireDevice(request, deps.auth);
      return deps.auth.createPairing(claims, { ip: request.ip });
    },
  );

  app.post(
    '/api/pairing/claim',
    {
      onRequest,
      schema: {
        tags: ['pairing'],
        summary: 'A PWA claims a pairing code (proof purpose "pair:<code>") and joins the sidecar account.',
        body: PairingClaimRequest,
        response: { 200: PairingClaimResponse, ...errorResponses, 410: ErrorBody },
      },
    },
    (request) => deps.auth.claimPairing(request.body, { ip: request.ip }),
  );
}
