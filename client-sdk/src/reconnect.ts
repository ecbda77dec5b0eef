/**
 * Reconnect as a policy: `nextDelayMs(attempt)` returns the wait before attempt `attempt` (0-based), or null to stop.
 * The default is exponential backoff with full jitter and a cap, so a fleet of clients that lost the relay at the same
 * moment does not come back at the same moment.
 *
 * @example
 * const policy = exponentialBackoff({ baseMs: 500, maxMs: 30_000 });
 * policy.nextDelayMs(3); // a random delay in [0, 4000]
 */
export interface ReconnectPolicy {
  nextDelayMs(attempt: number): number | null;
}

export function exponentialBackoff(
  opts: { baseMs?: number; maxMs?: number; maxAttempts?: number; random?: () => number } = {},
): ReconnectPolicy {
  const base = opts.baseMs ?? 500;
  const max = opts.maxMs ?? 30_000;
  const random = opts.random ?? Math.random;
  return {
    nextDelayMs(attempt) {
      if (opts.maxAttempts !== undefined && attempt >= opts.maxAttempts) return null;
      const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
      return Math.floor(random() * ceiling);
    },
  };
}
