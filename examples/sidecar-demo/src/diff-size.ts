/** A prompt that mentions "large" produces a diff of at least this size (5 MiB). */
export const LARGE_DIFF_BYTES = 5 * 1024 * 1024;
/** The cap on a `size=` hint: keeps one diff well inside the SDK's outbox and the relay's per-device queue. */
export const MAX_DIFF_BYTES = 12 * 1024 * 1024;

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1 << 20,
  mb: 1 << 20,
  mib: 1 << 20,
};

/**
 * How large the prompt asks the diff to be, in bytes, or undefined for a normal (few KiB) diff.
 *
 * - `size=<n>[KiB|MiB]` (also `size:`; `k`/`kb`/`m`/`mb` work too) asks for at least that many bytes, capped at
 *   {@link MAX_DIFF_BYTES};
 * - otherwise the word `large` asks for at least {@link LARGE_DIFF_BYTES}.
 *
 * @example
 * requestedDiffBytes('Refactor auth, large'); // 5242880
 * requestedDiffBytes('Bump deps size=2MiB');  // 2097152
 */
export function requestedDiffBytes(prompt: string): number | undefined {
  const hint = /\bsize\s*[=:]\s*(\d+(?:\.\d+)?)\s*([a-z]*)\b/i.exec(prompt);
  if (hint !== null) {
    const unit = UNITS[(hint[2] ?? '').toLowerCase()];
    if (unit !== undefined) return Math.min(MAX_DIFF_BYTES, Math.ceil(Number(hint[1]) * unit));
  }
  return /\blarge\b/i.test(prompt) ? LARGE_DIFF_BYTES : undefined;
}
