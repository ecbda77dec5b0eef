/**
 * The app's own error codes, next to the SDK's `OPPIE_ERR_*` and the relay's `RELAY_ERR_*`. `codeOf` picks the most
 * specific code of any error for the banner and the approval status.
 */
export type AppErrorCode =
  /** The browser lacks an API the action needs (Web Push, a push subscription without keys). */
  | 'APP_ERR_UNSUPPORTED'
  /** The user (or the browser's policy) did not allow notifications. */
  | 'APP_ERR_PUSH_DENIED'
  /** The browser's push service refused to subscribe (none in headless or some desktop browsers). */
  | 'APP_ERR_PUSH_FAILED'
  /** No service worker is installed: the dev server registers none; push needs the production build. */
  | 'APP_ERR_PUSH_NEEDS_SW'
  /** A message from the workstation did not match the demo's contract; it was dropped, not stored. */
  | 'APP_ERR_BAD_PAYLOAD'
  | 'APP_ERR_UNKNOWN';

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
