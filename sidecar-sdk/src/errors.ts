/**
 * Codes the IPC bridge puts on its error lines and errors. Stable strings; a retired code is never reused.
 * Errors from the client SDK keep their own `OPPIE_ERR_*` code on the wire.
 *
 * @example
 * {"ok":false,"id":"7","error":{"code":"IPC_ERR_UNKNOWN_TYPE","message":"unknown type \"ping\""}}
 */
export const IPC_ERROR_CODES = {
  IPC_ERR_BAD_LINE: 'the line is not a JSON object with a string id, a type and a payload',
  IPC_ERR_UNKNOWN_TYPE: 'the type is not an application message type this bridge sends',
  IPC_ERR_LINE_TOO_LONG: 'the line is longer than the bridge accepts',
  IPC_ERR_TOO_MANY_CLIENTS: 'the bridge already serves its maximum number of IPC clients',
  IPC_ERR_TOO_MANY_PENDING: 'this IPC client has too many sends waiting for a receipt',
  IPC_ERR_SLOW_CONSUMER: 'this IPC client does not read its lines fast enough and is disconnected',
  IPC_ERR_SEND_FAILED: 'the client failed to send the message',
  IPC_ERR_ADDRESS_IN_USE: 'another process is listening on the socket path',
  IPC_ERR_NOT_A_SOCKET: 'the socket path exists and is not a socket',
  IPC_ERR_CLOSED: 'the bridge is closed',
} as const;

export type IpcErrorCode = keyof typeof IPC_ERROR_CODES;

/**
 * An error of the IPC bridge, with a stable `code` and the original error in `cause`.
 *
 * @example
 * try { await bridge.listen(); }
 * catch (err) { if (err instanceof IpcError && err.code === 'IPC_ERR_ADDRESS_IN_USE') process.exit(1); }
 */
export class IpcError extends Error {
  override readonly name = 'IpcError';
  readonly code: IpcErrorCode;

  constructor(code: IpcErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? IPC_ERROR_CODES[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
