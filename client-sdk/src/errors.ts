/**
 * The SDK's error class. Codes are stable strings (`OPPIE_ERR_*`); relay refusals keep the relay's code in
 * `relayCode` and the original error in `cause`.
 *
 * @example
 * try { await client.send('chat', { text: 'hi' }); }
 * catch (err) { if (err instanceof OppieError && err.code === 'OPPIE_ERR_OUTBOX_FULL') showBackoff(); }
 */
export const SDK_ERROR_CODES = {
  OPPIE_ERR_NOT_PAIRED: 'no paired peer to send to',
  OPPIE_ERR_OUTBOX_FULL: 'the outbox is full; wait for the peer to acknowledge',
  OPPIE_ERR_PAYLOAD_TOO_LARGE: 'the payload is larger than the SDK accepts',
  OPPIE_ERR_DECRYPT: 'a frame failed authentication (tampered, forged or for another key)',
  OPPIE_ERR_REPLAY: 'a frame was replayed or reordered outside its sequence window',
  OPPIE_ERR_PAIRING_LINK: 'the pairing link is malformed',
  OPPIE_ERR_PAIRING_PROOF: 'the peer did not prove knowledge of the pairing secret (possible relay interference)',
  OPPIE_ERR_PAIRING_TIMEOUT: 'pairing did not complete in time',
  OPPIE_ERR_AUTH: 'the relay refused authentication',
  OPPIE_ERR_RELAY: 'the relay refused a request',
  OPPIE_ERR_CLOSED: 'the client is closed',
  OPPIE_ERR_TIMEOUT: 'the operation timed out',
  OPPIE_ERR_STORAGE: 'the key or outbox storage failed',
  OPPIE_ERR_PROTOCOL: 'the peer or relay sent a frame that breaks the protocol',
} as const;

export type SdkErrorCode = keyof typeof SDK_ERROR_CODES;

export class OppieError extends Error {
  override readonly name = 'OppieError';
  readonly code: SdkErrorCode;
  /** The relay's RELAY_ERR_* code, when the relay refused something. */
  readonly relayCode: string | undefined;

  constructor(code: SdkErrorCode, message?: string, options?: { cause?: unknown; relayCode?: string }) {
    super(message ?? SDK_ERROR_CODES[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.relayCode = options?.relayCode;
  }
}
