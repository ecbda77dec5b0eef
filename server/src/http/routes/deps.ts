import type { FastifyRequest } from 'fastify';
import type { Auth } from '../../auth/service.js';
import type { RelayConfig } from '../../config.js';

/** What the auth routes need from the server. */
export interface AuthRouteDeps {
  readonly auth: Auth;
  readonly config: RelayConfig;
  /** Which of `deviceIds` have a live connection on any instance (owned by the WebSocket layer). */
  readonly online: (deviceIds: readonly string[]) => Promise<ReadonlySet<string>>;
}

/**
 * The per-address auth limit as an onRequest hook: it runs before the body is parsed, so a flood costs little.
 *
 * @example
 * app.post('/api/auth/token', { onRequest: authLimit(deps) }, handler);
 */
export function authLimit(deps: AuthRouteDeps): (request: FastifyRequest) => Promise<void> {
  return (request) => deps.auth.limitAuthRequest(request.ip);
}

/** The security requirement of bearer-authenticated routes, for the OpenAPI document. */
export const bearerSecurity = [{ bearer: [] }];
