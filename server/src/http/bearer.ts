import { RelayError } from '@oppie/protocol';
import type { FastifyRequest } from 'fastify';
import type { AuthService, DeviceClaims } from '../auth/types.js';

/**
 * Authenticates a REST call from its `Authorization: Bearer <jwt>` header.
 * Throws RelayError (401) with the token's failure code.
 */
export async function requireDevice(request: FastifyRequest, auth: AuthService): Promise<DeviceClaims> {
  const header = request.headers.authorization;
  if (header === undefined) throw new RelayError('RELAY_ERR_TOKEN_MISSING');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new RelayError('RELAY_ERR_TOKEN_MALFORMED', 'Authorization must be "Bearer <token>"');
  return auth.verifyToken(match[1] as string);
}
