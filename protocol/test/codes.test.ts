import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, NO_RECONNECT_RANGE, RECONNECT_RANGE, shouldReconnect } from '../src/close-codes.js';
import { closeCodeOf, ERROR_CODES, httpStatusOf, isErrorCode, isRetryable, RETIRED_ERROR_CODES } from '../src/codes.js';
import { RelayError } from '../src/errors.js';

// The registry is an API: this snapshot fails when a code is renamed or removed. Adding a code means adding it here;
// removing one means moving it to RETIRED_ERROR_CODES, never reusing it.
const REGISTERED = [
  'RELAY_ERR_TOKEN_MISSING',
  'RELAY_ERR_TOKEN_MALFORMED',
  'RELAY_ERR_TOKEN_EXPIRED',
  'RELAY_ERR_TOKEN_NOT_YET_VALID',
  'RELAY_ERR_TOKEN_ALG_NOT_ALLOWED',
  'RELAY_ERR_TOKEN_SIGNATURE_INVALID',
  'RELAY_ERR_TOKEN_ISSUER_INVALID',
  'RELAY_ERR_TOKEN_AUDIENCE_INVALID',
  'RELAY_ERR_TOKEN_KID_UNKNOWN',
  'RELAY_ERR_TOKEN_CLAIMS_INVALID',
  'RELAY_ERR_DEVICE_REVOKED',
  'RELAY_ERR_DEVICE_UNKNOWN',
  'RELAY_ERR_DEVICE_NOT_FOUND',
  'RELAY_ERR_DEVICE_EXISTS',
  'RELAY_ERR_ROLE_FORBIDDEN',
  'RELAY_ERR_PROOF_INVALID',
  'RELAY_ERR_SIGNATURE_INVALID',
  'RELAY_ERR_CHALLENGE_INVALID',
  'RELAY_ERR_TIMESTAMP_SKEW',
  'RELAY_ERR_NONCE_REPLAYED',
  'RELAY_ERR_ENROLLMENT_REQUIRED',
  'RELAY_ERR_ENROLLMENT_INVALID',
  'RELAY_ERR_PAIRING_CODE_INVALID',
  'RELAY_ERR_PAIRING_CODE_EXPIRED',
  'RELAY_ERR_PAIRING_ATTEMPTS_EXCEEDED',
  'RELAY_ERR_OTP_NOT_ENROLLED',
  'RELAY_ERR_OTP_ALREADY_ENROLLED',
  'RELAY_ERR_OTP_INVALID',
  'RELAY_ERR_STEP_UP_REQUIRED',
  'RELAY_ERR_PUSH_DISABLED',
  'RELAY_ERR_PUSH_SUBSCRIPTION_INVALID',
  'RELAY_ERR_BINARY_UNSUPPORTED',
  'RELAY_ERR_MALFORMED_JSON',
  'RELAY_ERR_JSON_TOO_DEEP',
  'RELAY_ERR_PAYLOAD_TOO_LARGE',
  'RELAY_ERR_ENVELOPE_INVALID',
  'RELAY_ERR_TYPE_NOT_ALLOWED',
  'RELAY_ERR_SENDER_MISMATCH',
  'RELAY_ERR_RECIPIENT_FORBIDDEN',
  'RELAY_ERR_RATE_LIMITED',
  'RELAY_ERR_CONNECTION_LIMIT',
  'RELAY_ERR_SLOW_CONSUMER',
  'RELAY_ERR_HEARTBEAT_TIMEOUT',
  'RELAY_ERR_SHUTTING_DOWN',
  'RELAY_ERR_SESSION_REPLACED',
  'RELAY_ERR_BAD_REQUEST',
  'RELAY_ERR_NOT_FOUND',
  'RELAY_ERR_STORE_UNAVAILABLE',
  'RELAY_ERR_INTERNAL',
];

describe('error code registry', () => {
  it('holds exactly the registered codes', () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual([...REGISTERED].sort());
  });

  it('uses the RELAY_ERR_ prefix, never reuses a retired code, and has a message for each', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^RELAY_ERR_[A-Z_]+$/);
      expect(RETIRED_ERROR_CODES).not.toContain(code);
      expect(info.message.length).toBeGreaterThan(5);
      expect(info.status).toBeGreaterThanOrEqual(400);
      expect(info.status).toBeLessThan(600);
    }
  });

  it('maps codes with a close code into the registered close codes', () => {
    const closeCodes = new Set<number>(Object.values(CLOSE_CODES));
    for (const code of Object.keys(ERROR_CODES)) {
      if (!isErrorCode(code)) throw new Error(code);
      const close = closeCodeOf(code);
      if (close !== undefined) expect(closeCodes.has(close)).toBe(true);
    }
    expect(closeCodeOf('RELAY_ERR_DEVICE_REVOKED')).toBe(CLOSE_CODES.DEVICE_REVOKED);
    expect(httpStatusOf('RELAY_ERR_TOKEN_EXPIRED')).toBe(401);
  });

  it('builds RelayError with code, status and close code', () => {
    const err = new RelayError('RELAY_ERR_SLOW_CONSUMER', undefined, { cause: new Error('x') });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('RELAY_ERR_SLOW_CONSUMER');
    expect(err.status).toBe(503);
    expect(err.closeCode).toBe(4001);
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.toJSON()).toEqual({
      code: 'RELAY_ERR_SLOW_CONSUMER',
      message: ERROR_CODES.RELAY_ERR_SLOW_CONSUMER.message,
    });
    expect(isErrorCode('RELAY_ERR_NOPE')).toBe(false);
  });
});

describe('close codes', () => {
  it('splits reconnect and do-not-reconnect ranges', () => {
    for (const code of Object.values(CLOSE_CODES)) {
      const inReconnect = code >= RECONNECT_RANGE.min && code <= RECONNECT_RANGE.max;
      const inNoReconnect = code >= NO_RECONNECT_RANGE.min && code <= NO_RECONNECT_RANGE.max;
      expect(inReconnect !== inNoReconnect).toBe(true);
      expect(shouldReconnect(code)).toBe(inReconnect);
    }
    expect(shouldReconnect(1001)).toBe(true);
    expect(shouldReconnect(1006)).toBe(true);
    expect(shouldReconnect(1008)).toBe(false);
    expect(shouldReconnect(CLOSE_CODES.DEVICE_REVOKED)).toBe(false);
    expect(shouldReconnect(CLOSE_CODES.SHUTTING_DOWN)).toBe(true);
  });

  it('calls exactly the 429 and 503 codes retryable, and nothing unknown', () => {
    const retryable = Object.keys(ERROR_CODES).filter(isRetryable);
    expect(retryable).toEqual(
      Object.keys(ERROR_CODES).filter((c) => [429, 503].includes(httpStatusOf(c as keyof typeof ERROR_CODES))),
    );
    expect(retryable).toEqual(expect.arrayContaining(['RELAY_ERR_RATE_LIMITED', 'RELAY_ERR_STORE_UNAVAILABLE']));
    expect(isRetryable('RELAY_ERR_RECIPIENT_FORBIDDEN')).toBe(false);
    expect(isRetryable('RELAY_ERR_NO_SUCH_CODE')).toBe(false);
  });
});
