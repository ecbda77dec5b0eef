import { Jwks } from '@oppie/protocol';
import type { App } from '../app.js';
import type { AuthRouteDeps } from './deps.js';

/**
 * GET /.well-known/jwks.json: the public keys that verify relay tokens. Not rate limited: it is public, cheap and
 * meant to be cached by verifiers.
 *
 * @example
 * registerJwksRoute(app, { auth, config, online });
 */
export function registerJwksRoute(app: App, deps: AuthRouteDeps): void {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['auth'],
        summary: 'Public keys (JWKS) that verify relay access tokens.',
        response: { 200: Jwks },
      },
    },
    async (_request, reply) => {
      // Short cache: a rotation must reach verifiers well inside the old key's verification window.
      reply.header('cache-control', 'public, max-age=300');
      return deps.auth.jwks();
    },
  );
}
