import { describe, expect, it } from 'vitest';
import { overBudget } from '../src/diff-budget.js';
import type { DiffMeta } from '../src/view-state.js';

const MiB = 1024 * 1024;
const meta = (diffId: string, bytes: number, receivedAt: number, extra: Partial<DiffMeta> = {}): DiffMeta => ({
  diffId,
  planId: 'p',
  title: diffId,
  files: 1,
  bytes,
  approval: 'approved',
  receivedAt,
  ...extra,
});

describe('diff body budget', () => {
  const budget = { maxDiffs: 3, maxBytes: 10 * MiB };

  it('keeps everything within the budget', () => {
    expect(overBudget([meta('a', MiB, 1), meta('b', MiB, 2)], budget)).toEqual([]);
  });

  it('evicts the oldest past the count', () => {
    const all = [meta('c', 1, 3), meta('a', 1, 1), meta('d', 1, 4), meta('b', 1, 2)];
    expect(overBudget(all, budget)).toEqual(['a']);
  });

  it('evicts the oldest past the bytes, decided diffs before pending ones, never counting evicted ones', () => {
    const all = [
      meta('old-pending', 4 * MiB, 1, { approval: 'pending' }),
      meta('gone', 9 * MiB, 0, { stored: false }),
      meta('mid', 4 * MiB, 2),
      meta('new', 4 * MiB, 3),
    ];
    expect(overBudget(all, budget, 'new')).toEqual(['mid']);
  });

  it('never stores a diff that alone exceeds the bytes', () => {
    expect(overBudget([meta('a', MiB, 1), meta('huge', 11 * MiB, 2)], budget, 'huge')).toEqual(['a', 'huge']);
  });
});
