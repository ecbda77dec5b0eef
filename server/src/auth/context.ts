/**
 * The state the auth operations share. Each operation (registration, pairing, devices, OTP) is a plain function of
 * this context, so the files stay small and the service object in service.ts only wires them together.
 */
import {
  type ErrorCode,
  isRelayError,
  type Proof,
  type ProofPurpose,
  RelayError,
  type TokenResponse,
} from '@oppie/protocol';
import type { Emitter } from 'mitt';
import type { Logger } from 'pino';
import type { Audit } from '../audit.js';
import type { RelayConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { type JwtDeps, signAccessToken, type TokenSubject } from './jwt.js';
import { type ProofDeps, type ProvenKey, verifyProof } from './proof.js';
import type { AuthLimiters } from './rate-limits.js';
import type { RevocationCache } from './revocations.js';
import type { AuthStores } from './stores.js';
import type { AuthEvents } from './types.js';

/** How a token was obtained: the `via` label of oppie_relay_tokens_issued_total. */
export type TokenVia = 'register' | 'token' | 'pair' | 'otp';

/** Facts about the caller that operations audit and rate-limit by. */
export interface CallContext {
  readonly ip: string;
}

export interface AuthContext {
  readonly config: RelayConfig;
  readonly stores: AuthStores;
  readonly jwt: JwtDeps;
  readonly proof: ProofDeps;
  readonly revocations: RevocationCache;
  readonly limiters: AuthLimiters;
  readonly events: Emitter<AuthEvents>;
  readonly audit: Audit;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * Counts an auth failure by code and returns the error to throw.
 *
 * @example
 * if (!device) throw refuse(ctx, 'RELAY_ERR_DEVICE_UNKNOWN');
 */
export function refuse(ctx: Pick<AuthContext, 'metrics'>, code: ErrorCode, message?: string): RelayError {
  ctx.metrics.authFailures.inc({ reason: code });
  return new RelayError(code, message);
}

/**
 * Signs a token for a device, counts and audits it (never the token itself), and shapes the REST answer.
 *
 * @example
 * return issueToken(ctx, device, 'token', call);
 */
export async function issueToken(
  ctx: AuthContext,
  device: TokenSubject,
  via: TokenVia,
  call: CallContext,
  stepUpAt?: number,
): Promise<TokenResponse> {
  const { token, expiresAt } = await signAccessToken(ctx.jwt, device, stepUpAt);
  ctx.metrics.tokensIssued.inc({ via });
  ctx.audit.log('token.issued', {
    via,
    deviceId: device.id,
    accountId: device.accountId,
    role: device.role,
    ip: call.ip,
    expiresAt,
    stepUp: stepUpAt !== undefined,
  });
  return { token, expiresAt, deviceId: device.id, accountId: device.accountId, role: device.role };
}

/**
 * Verifies a proof of possession; a refused proof is audited (stage, code, address) before it is rethrown.
 *
 * @example
 * const { deviceId } = await prove(ctx, body.proof, 'token', call, 'token');
 */
export async function prove(
  ctx: AuthContext,
  proof: Proof,
  purpose: ProofPurpose,
  call: CallContext,
  stage: string,
): Promise<ProvenKey> {
  try {
    return await verifyProof(proof, purpose, ctx.proof);
  } catch (err) {
    if (isRelayError(err)) ctx.audit.log('token.refused', { stage, code: err.code, ip: call.ip });
    throw err;
  }
}
