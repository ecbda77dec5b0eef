/**
 * The budget of diff bodies kept in IndexedDB (diff-store.ts). A plan may produce many diffs of several MiB each, so
 * bodies are bounded by count and by size, whatever the number of plans kept: past the budget the oldest bodies are
 * evicted first (diffs still waiting for a decision only after all decided ones). An evicted diff keeps its metadata
 * and shows "not stored on this device".
 */
import type { DiffMeta } from './view-state.js';

export interface DiffBudget {
  /** Bodies kept at most. */
  readonly maxDiffs: number;
  /** Sum of the kept bodies' sizes at most, in `unified.length` units (the size the app shows as `bytes`). */
  readonly maxBytes: number;
}

export const DIFF_BUDGET: DiffBudget = { maxDiffs: 20, maxBytes: 64 * 1024 * 1024 };

/** Whether the body of `d` is (meant to be) in IndexedDB; state written before the budget has no `stored`. */
export const isStored = (d: DiffMeta): boolean => d.stored !== false;

/**
 * The ids of the stored bodies to evict so that the rest fits `budget`. `keep` (the diff just received) is evicted
 * only when it alone exceeds the byte budget.
 */
export function overBudget(diffs: Iterable<DiffMeta>, budget: DiffBudget = DIFF_BUDGET, keep?: string): string[] {
  const stored = [...diffs].filter(isStored);
  let count = stored.length;
  let bytes = stored.reduce((n, d) => n + d.bytes, 0);
  if (count <= budget.maxDiffs && bytes <= budget.maxBytes) return [];
  const decidedFirst = (d: DiffMeta) => (d.approval === 'pending' ? 1 : 0);
  const order = stored
    .filter((d) => d.diffId !== keep)
    .sort((a, b) => decidedFirst(a) - decidedFirst(b) || a.receivedAt - b.receivedAt);
  const evict: string[] = [];
  for (const d of order) {
    if (count <= budget.maxDiffs && bytes <= budget.maxBytes) break;
    evict.push(d.diffId);
    count--;
    bytes -= d.bytes;
  }
  const kept = keep === undefined ? undefined : stored.find((d) => d.diffId === keep);
  if (kept !== undefined && kept.bytes > budget.maxBytes) evict.push(kept.diffId);
  return evict;
}
