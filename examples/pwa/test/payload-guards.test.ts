import { describe, expect, it } from 'vitest';
import { clip, isChat, isDiff, isProgress, isRecover, MAX_ID } from '../src/payload-guards.js';

const progress = { planId: 'p1', step: 2, total: 5, message: 'Editing a.ts', status: 'running' };
const diff = { planId: 'p1', diffId: 'p1-diff', title: 'T', unified: 'diff --git', files: 1, awaitingApproval: true };

describe('payload guards', () => {
  it('accepts what the demo sidecar sends', () => {
    expect(isProgress(progress)).toBe(true);
    expect(isProgress({ ...progress, status: 'awaiting-approval', diffId: 'p1-diff' })).toBe(true);
    expect(isDiff(diff)).toBe(true);
    expect(isChat({ text: 'hi', from: 'sidecar', planId: 'p1' })).toBe(true);
    expect(isRecover({ plans: [{ planId: 'p1', prompt: '', status: 'applied', step: 5, total: 5 }] })).toBe(true);
    expect(isDiff({ ...diff, planId: 'x'.repeat(200), diffId: `${'x'.repeat(200)}-diff` })).toBe(true);
  });

  it('refuses missing ids, wrong types and unknown statuses', () => {
    expect(isProgress({ ...progress, planId: undefined })).toBe(false);
    expect(isProgress({ ...progress, planId: '' })).toBe(false);
    expect(isProgress({ ...progress, planId: 'x'.repeat(MAX_ID + 1) })).toBe(false);
    expect(isProgress({ ...progress, step: -1 })).toBe(false);
    expect(isProgress({ ...progress, total: 1.5 })).toBe(false);
    expect(isProgress({ ...progress, status: 'done' })).toBe(false);
    expect(isProgress({ ...progress, diffId: 7 })).toBe(false);
    expect(isDiff({ ...diff, unified: undefined })).toBe(false);
    expect(isDiff({ ...diff, awaitingApproval: 'yes' })).toBe(false);
    expect(isChat({ text: 42 })).toBe(false);
    expect(isChat({ text: 'x', from: 'relay' })).toBe(false);
    expect(isRecover({ plans: [{ planId: 'p1' }] })).toBe(false);
    expect(isRecover({ plans: 'all' })).toBe(false);
    for (const v of [null, undefined, 'x', [], 3]) {
      expect(isProgress(v)).toBe(false);
      expect(isDiff(v)).toBe(false);
      expect(isChat(v)).toBe(false);
      expect(isRecover(v)).toBe(false);
    }
  });

  it('clips stored text with an ellipsis', () => {
    expect(clip('short', 10)).toBe('short');
    const long = clip('x'.repeat(50), 10);
    expect(long).toHaveLength(10);
    expect(long.endsWith('…')).toBe(true);
  });
});
