/** Every error code the demo raises itself. Retired codes are never reused. */
export const DEMO_ERROR_CODES = [
  /** An option or command-line flag is missing or invalid. */
  'DEMO_ERR_BAD_OPTION',
  /** The relay child process exited, or did not answer /api/health in time. */
  'DEMO_ERR_RELAY_START',
  /** The PWA's Vite dev server could not be loaded or started. */
  'DEMO_ERR_VITE',
] as const;

export type DemoErrorCode = (typeof DEMO_ERROR_CODES)[number];

/**
 * The demo's error: a stable `code`, and the underlying `cause` passed through.
 *
 * @example
 * try { await runDemo(argv); } catch (err) { if (err instanceof DemoError) console.error(err.code); }
 */
export class DemoError extends Error {
  override readonly name = 'DemoError';
  constructor(
    readonly code: DemoErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `CODE: message` for any thrown value (the demo's, the SDK's `OPPIE_ERR_*`), for log lines and stderr.
 *
 * @example
 * client.send(...).catch((err) => log(`send failed: ${errorText(err)}`));
 */
export function errorText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.code === 'string' ? `${e.code}: ${message}` : message;
}
