/**
 * The one error class of the test kit. Tests branch on `code`; `status` and `body` carry what the relay answered when
 * an HTTP call or a WebSocket upgrade was refused, so a test can assert the relay's own error code.
 */
export type TestKitErrorCode =
  /** A wait for a frame, a connection or a close did not finish in time. */
  | 'TESTKIT_TIMEOUT'
  /** The socket closed before a matching frame arrived. */
  | 'TESTKIT_CLOSED'
  /** The relay refused the WebSocket upgrade with an HTTP status. */
  | 'TESTKIT_UPGRADE_REFUSED'
  /** The connection failed below HTTP (refused, reset, DNS). */
  | 'TESTKIT_CONNECT_FAILED'
  /** A REST call answered with a non-2xx status. */
  | 'TESTKIT_HTTP'
  /** The relay sent something the harness cannot read (not JSON, wrong shape). */
  | 'TESTKIT_BAD_RESPONSE';

/** A relay error body, `{ code, message }`, when one could be read. */
export interface RelayErrorBody {
  readonly code: string;
  readonly message: string;
}

/**
 * @example
 * await expect(registerDevice(url, 'x')).rejects.toMatchObject({ code: 'TESTKIT_HTTP', status: 429 });
 */
export class TestKitError extends Error {
  override readonly name = 'TestKitError';
  readonly code: TestKitErrorCode;
  /** HTTP status of a refused call or upgrade. */
  readonly status: number | undefined;
  /** Parsed error body of a refused call or upgrade, when it was `{ code, message }`. */
  readonly body: RelayErrorBody | undefined;

  constructor(
    code: TestKitErrorCode,
    message: string,
    options: { status?: number; body?: RelayErrorBody | undefined; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.body = options.body;
  }
}

/** Reads `{ code, message }` out of a parsed JSON body, or undefined when it has another shape. */
export function asErrorBody(value: unknown): RelayErrorBody | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as { code?: unknown; message?: unknown };
  if (typeof v.code !== 'string') return undefined;
  return { code: v.code, message: typeof v.message === 'string' ? v.message : '' };
}
