import { describe, expect, it } from 'vitest';
import { chatReply } from '../src/chat-reply.js';
import { LARGE_DIFF_BYTES, MAX_DIFF_BYTES, requestedDiffBytes } from '../src/diff-size.js';
import { MAX_PLANS, PlanBook } from '../src/plan-book.js';
import { planScript } from '../src/plan-script.js';
import { parseUnifiedDiff } from './parse-unified-diff.js';

describe('planScript', () => {
  it('is a deterministic unified diff of several TypeScript, JSON and Markdown files', () => {
    const s = planScript('Add a health endpoint');
    expect(planScript('Add a health endpoint')).toEqual(s);
    expect(planScript('Add a metrics endpoint').unified).not.toBe(s.unified);
    const files = parseUnifiedDiff(s.unified);
    expect(files.map((f) => f.path)).toEqual([
      'src/health-endpoint.ts',
      'src/server.ts',
      'test/health-endpoint.test.ts',
      'package.json',
      'README.md',
    ]);
    expect(s.files).toBe(files.length);
    expect(files.filter((f) => f.created).length).toBe(2);
    expect(files.find((f) => f.path === 'src/server.ts')).toMatchObject({ hunks: 2, added: 3, removed: 1 });
    expect(s.steps).toEqual([
      'Reading repository',
      'Planning changes',
      ...files.map((f) => `Editing ${f.path}`),
      'Running tests',
    ]);
    expect(s.unified.length).toBeLessThan(10_000);
  });

  it('makes a diff of at least 5 MiB for a prompt with "large", with a valid JSON fixture', () => {
    const s = planScript('Refactor the auth module, large');
    expect(s.unified.length).toBeGreaterThanOrEqual(LARGE_DIFF_BYTES);
    const files = parseUnifiedDiff(s.unified);
    const fixture = files.at(-1);
    expect(fixture).toMatchObject({ path: 'fixtures/refactor-auth-module-requests.json', created: true, hunks: 1 });
    const json = s.unified
      .slice(s.unified.indexOf('+[\n'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.slice(1))
      .join('\n');
    expect((JSON.parse(json) as unknown[]).length).toBe(fixture!.added - 2);
  });

  it('reads size hints, capped', () => {
    expect(requestedDiffBytes('small change')).toBeUndefined();
    expect(requestedDiffBytes('a LARGE one')).toBe(LARGE_DIFF_BYTES);
    expect(requestedDiffBytes('size=2MiB')).toBe(2 * 1024 * 1024);
    expect(requestedDiffBytes('bump, size: 300 KiB')).toBe(300 * 1024);
    expect(requestedDiffBytes('size=1000mb')).toBe(MAX_DIFF_BYTES);
    expect(planScript('docs size=1MiB').unified.length).toBeGreaterThanOrEqual(1024 * 1024);
  });
});

describe('PlanBook', () => {
  it(`keeps the last ${MAX_PLANS} plans, oldest first, and counts the dropped`, () => {
    const book = new PlanBook();
    for (let i = 0; i <= MAX_PLANS; i++) {
      book.add({ planId: `p${i}`, prompt: 'x', owner: 'pwa', status: 'running', step: 1, total: 9 });
    }
    const states = book.states();
    expect(states.length).toBe(MAX_PLANS);
    expect(states[0]?.planId).toBe('p1');
    expect(book.get('p0')).toBeUndefined();
    expect(book.dropped).toBe(1);
  });
});

describe('chatReply', () => {
  const plans = [
    { planId: 'p1', prompt: 'Add a health endpoint', status: 'applied' as const, step: 10, total: 10 },
    { planId: 'p2', prompt: 'Fix login', status: 'awaiting-approval' as const, step: 9, total: 10, pendingDiffId: 'd' },
  ];
  it('reports the named plan, a summary on a status question, else acknowledges', () => {
    expect(chatReply('how is it going?', 'p2', plans)).toBe(
      'Plan "Fix login" is awaiting-approval (step 9 of 10): the diff waits for your approval.',
    );
    expect(chatReply('?', 'nope', plans)).toContain('no plan "nope"');
    expect(chatReply('status please', undefined, plans)).toBe(
      'Plans: 1 applied, 1 awaiting-approval. Latest: Plan "Fix login" is awaiting-approval (step 9 of 10): the diff waits for your approval.',
    );
    expect(chatReply('status', undefined, [])).toMatch(/^No plans yet/);
    expect(chatReply('hello', undefined, plans)).toBe(
      'Noted: "hello". Start a plan to put me to work, or ask for the status.',
    );
  });
});
