/** Small statistics and formatting helpers for the bench report. */

/** The q-quantile (0..1) of already sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** The median of already sorted values: the mean of the two middle ones for an even count. */
export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const hi = sorted[n >> 1] as number;
  return n % 2 === 1 ? hi : ((sorted[(n >> 1) - 1] as number) + hi) / 2;
}

/**
 * The item whose `mbps` is the median of `items` (the upper middle one of an even count): a whole run, for its other
 * measurements too.
 *
 * @example
 * const judged = medianRun([{ mbps: 40 }, { mbps: 55 }, { mbps: 47 }]); // { mbps: 47 }
 */
export function medianRun<T extends { readonly mbps: number }>(items: readonly T[]): T {
  const sorted = [...items].sort((x, y) => x.mbps - y.mbps);
  return sorted[sorted.length >> 1] as T;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Summarizes samples (any unit; the bench uses microseconds). */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** A number with thousands separators and `digits` decimals; `-` for NaN. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Renders rows as a plain-text table with aligned columns (also valid markdown). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
