/**
 * The app's own error codes, next to the SDK's `OPPIE_ERR_*` and the relay's `RELAY_ERR_*`. `codeOf` picks the most
 * specific code of any error for the banner and the approval status.
 */
export type AppErrorCode = 'APP_ERR_UNSUPPORTED' | 'APP_ERR_PUSH_DENIED' | 'APP_ERR_PUSH_FAILED' | 'APP_ERR_UNKNOWN';

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: AppErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const STEP_UP_REQUIRED = 'RELAY_ERR_STEP_UP_REQUIRED';

/** The relay's code when the relay refused, else the SDK's or the app's code. */
export function codeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const e = err as { relayCode?: unknown; code?: unknown };
    if (typeof e.relayCode === 'string') return e.relayCode;
    if (typeof e.code === 'string') return e.code;
  }
  return 'APP_ERR_UNKNOWN';
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isStepUpRequired(err: unknown): boolean {
  return codeOf(err) === STEP_UP_REQUIRED || messageOf(err).includes(STEP_UP_REQUIRED);
}
