import type { CloseCode } from './close-codes.js';
import { closeCodeOf, ERROR_CODES, type ErrorCode, httpStatusOf } from './codes.js';

/**
 * The one error class of the relay protocol. `code` is a stable registry code; `status` and `closeCode` say how the
 * error travels on HTTP and on a WebSocket.
 *
 * @example
 * try { await relay.authenticate(token); }
 * catch (err) { if (err instanceof RelayError && err.code === 'RELAY_ERR_TOKEN_EXPIRED') refresh(); }
 */
export class RelayError extends Error {
  override readonly name = 'RelayError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly closeCode: CloseCode | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.code = code;
    this.status = httpStatusOf(code);
    this.closeCode = closeCodeOf(code);
  }

  /** The JSON body used for REST errors and upgrade refusals. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isRelayError(err: unknown, code?: ErrorCode): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code);
}
