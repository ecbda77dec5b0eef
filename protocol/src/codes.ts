/**
 * The registry of relay error codes. Codes are stable strings: clients branch on them, so a code is never renamed
 * and a retired code is never reused (list it in {@link RETIRED_ERROR_CODES} instead).
 *
 * `status` is the HTTP status used when the error answers a REST call or refuses a WebSocket upgrade.
 * `close` is the WebSocket close code used when the error ends a live connection (see close-codes.ts).
 */
import type { CloseCode } from './close-codes.js';

interface CodeInfo {
  readonly status: number;
  readonly close?: CloseCode;
  readonly message: string;
}

export const ERROR_CODES = {
  // Tokens (REST bearer, WebSocket upgrade, in-band `auth`).
  RELAY_ERR_TOKEN_MISSING: { status: 401, message: 'no bearer token was given' },
  RELAY_ERR_TOKEN_MALFORMED: { status: 401, message: 'the token is not a well-formed JWT' },
  RELAY_ERR_TOKEN_EXPIRED: { status: 401, close: 4005, message: 'the token has expired' },
  RELAY_ERR_TOKEN_NOT_YET_VALID: { status: 401, message: 'the token is not valid yet (nbf/iat in the future)' },
  RELAY_ERR_TOKEN_ALG_NOT_ALLOWED: { status: 401, message: 'the token algorithm is not RS256' },
  RELAY_ERR_TOKEN_SIGNATURE_INVALID: { status: 401, message: 'the token signature does not verify' },
  RELAY_ERR_TOKEN_ISSUER_INVALID: { status: 401, message: 'the token issuer is not this relay' },
  RELAY_ERR_TOKEN_AUDIENCE_INVALID: { status: 401, message: 'the token audience is not this relay' },
  RELAY_ERR_TOKEN_KID_UNKNOWN: { status: 401, message: 'the token names a signing key this relay does not know' },
  RELAY_ERR_TOKEN_CLAIMS_INVALID: { status: 401, message: 'the token claims are incomplete or inconsistent' },
  // Devices and accounts.
  RELAY_ERR_DEVICE_REVOKED: {
    status: 401,
    close: 4500,
    message: 'this device has been revoked',
  },
  RELAY_ERR_DEVICE_UNKNOWN: { status: 401, message: 'no such device is registered' },
  RELAY_ERR_DEVICE_NOT_FOUND: { status: 404, message: 'no such device in your account' },
  RELAY_ERR_DEVICE_EXISTS: { status: 409, message: 'a device with this public key is already registered' },
  RELAY_ERR_ROLE_FORBIDDEN: { status: 403, message: 'this role may not perform the operation' },
  // Proof of key possession.
  RELAY_ERR_PROOF_INVALID: { status: 400, message: 'the proof of possession is malformed' },
  RELAY_ERR_SIGNATURE_INVALID: { status: 401, message: 'the device signature does not verify' },
  RELAY_ERR_CHALLENGE_INVALID: { status: 401, message: 'the challenge is unknown, expired or already used' },
  RELAY_ERR_TIMESTAMP_SKEW: { status: 401, message: 'the signed timestamp is outside the allowed clock skew' },
  RELAY_ERR_NONCE_REPLAYED: { status: 401, message: 'the signed nonce has already been used' },
  // Registration and pairing.
  RELAY_ERR_ENROLLMENT_REQUIRED: { status: 403, message: 'registration needs an operator-issued enrollment token' },
  RELAY_ERR_ENROLLMENT_INVALID: { status: 403, message: 'the enrollment token is unknown, expired or used up' },
  RELAY_ERR_PAIRING_CODE_INVALID: { status: 404, message: 'the pairing code is unknown or already used' },
  RELAY_ERR_PAIRING_CODE_EXPIRED: { status: 410, message: 'the pairing code has expired' },
  RELAY_ERR_PAIRING_ATTEMPTS_EXCEEDED: {
    status: 429,
    message: 'too many wrong pairing attempts; the code is burnt',
  },
  // One-time passwords (TOTP step-up).
  RELAY_ERR_OTP_NOT_ENROLLED: { status: 409, message: 'the account has no one-time password enrolled' },
  RELAY_ERR_OTP_ALREADY_ENROLLED: { status: 409, message: 'the account already has a one-time password' },
  RELAY_ERR_OTP_INVALID: { status: 401, message: 'the one-time password is wrong or was already used' },
  RELAY_ERR_STEP_UP_REQUIRED: {
    status: 403,
    message: 'this account requires a recent OTP step-up before approve',
  },
  // Web Push wake-up.
  RELAY_ERR_PUSH_DISABLED: { status: 404, message: 'Web Push is switched off on this relay (PUSH_ENABLED=false)' },
  RELAY_ERR_PUSH_SUBSCRIPTION_INVALID: {
    status: 400,
    message: 'the push subscription is not usable (endpoint or keys)',
  },
  // Envelopes on the WebSocket.
  RELAY_ERR_BINARY_UNSUPPORTED: { status: 400, message: 'binary frames are not part of the protocol' },
  RELAY_ERR_MALFORMED_JSON: { status: 400, message: 'the frame is not valid JSON' },
  RELAY_ERR_JSON_TOO_DEEP: { status: 400, message: 'the frame nests JSON deeper than allowed' },
  RELAY_ERR_PAYLOAD_TOO_LARGE: { status: 413, message: 'the frame is larger than the relay accepts' },
  RELAY_ERR_ENVELOPE_INVALID: { status: 400, message: 'the envelope does not match the protocol schema' },
  RELAY_ERR_TYPE_NOT_ALLOWED: { status: 400, message: 'this message type may not be sent by a device' },
  RELAY_ERR_SENDER_MISMATCH: {
    status: 400,
    message: 'metadata.deviceId is not the authenticated device',
  },
  RELAY_ERR_RECIPIENT_FORBIDDEN: {
    status: 403,
    message: 'the recipient is not a device of your account',
  },
  RELAY_ERR_RATE_LIMITED: { status: 429, message: 'too many requests; slow down' },
  // Connections.
  RELAY_ERR_CONNECTION_LIMIT: { status: 429, message: 'too many connections for this device, account or address' },
  RELAY_ERR_SLOW_CONSUMER: {
    status: 503,
    close: 4001,
    message: 'the connection did not keep up; reconnect to resume from the queue',
  },
  RELAY_ERR_HEARTBEAT_TIMEOUT: { status: 408, close: 4002, message: 'no heartbeat from the connection' },
  RELAY_ERR_SHUTTING_DOWN: { status: 503, close: 4000, message: 'the relay is shutting down; reconnect' },
  RELAY_ERR_SESSION_REPLACED: {
    status: 409,
    close: 4501,
    message: 'a newer connection of the same device replaced this one',
  },
  // HTTP and internal.
  RELAY_ERR_BAD_REQUEST: { status: 400, message: 'the request does not match the API schema' },
  RELAY_ERR_NOT_FOUND: { status: 404, message: 'no such endpoint' },
  RELAY_ERR_STORE_UNAVAILABLE: { status: 503, close: 4003, message: 'the relay store is unavailable' },
  RELAY_ERR_INTERNAL: { status: 500, close: 4004, message: 'internal relay error' },
} as const satisfies Record<string, CodeInfo>;

/** Every error code the relay can send. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes that existed once and must never be given a new meaning. */
export const RETIRED_ERROR_CODES: readonly string[] = [];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/**
 * Whether a refusal with this code is worth retrying unchanged later: the relay was busy, rate limiting, draining or
 * without its store (HTTP 429 or 503), as opposed to a refusal of the request itself.
 *
 * @example
 * if (isRetryable(frame.payload.code)) resendLater(frame.re);
 */
export function isRetryable(code: string): boolean {
  if (!isErrorCode(code)) return false;
  const status = httpStatusOf(code);
  return status === 429 || status === 503;
}

export function closeCodeOf(code: ErrorCode): CloseCode | undefined {
  const info: CodeInfo = ERROR_CODES[code];
  return info.close;
}
