import { ChallengeResponse, RegisterRequest, TokenRequest, TokenResponse } from '@oppie/protocol';
import type { App } from '../app.js';
import { errorResponses } from '../app.js';
import { type AuthRouteDeps, authLimit } from './deps.js';

/**
 * Proof-of-possession routes: challenge, register, token.
 *
 * @example
 * registerProofRoutes(app, { auth, config, online });
 */
export function registerProofRoutes(app: App, deps: AuthRouteDeps): void {
  const onRequest = authLimit(deps);

  app.get(
    '/api/auth/challenge',
    {
      onRequest,
      schema: {
        tags: ['auth'],
        summary: 'A single-use challenge to sign in a proof of possession (valid 60 s).',
        response: { 200: ChallengeResponse, ...errorResponses },
      },
    },
    () => deps.auth.challenge(),
  );

  app.post(
    '/api/auth/register',
    {
      onRequest,
      schema: {
        tags: ['auth'],
        summary: 'A sidecar creates an account with itself as first device (proof purpose "register").',
        body: RegisterRequest,
        response: { 201: TokenResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const res = await deps.auth.register(request.body, { ip: request.ip });
      return reply.code(201).send(res);
    },
  );

  app.post(
    '/api/auth/token',
    {
      onRequest,
      schema: {
        tags: ['auth'],
        summary: 'A new access token for a registered device (proof purpose "token").',
        body: TokenRequest,
        response: { 200: TokenResponse, ...errorResponses },
      },
    },
    (request) => deps.auth.refreshToken(request.body, { ip: request.ip }),
  );
}
