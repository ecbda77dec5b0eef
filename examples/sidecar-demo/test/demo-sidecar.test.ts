import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DemoSidecar, startDemoSidecar } from '../src/demo-sidecar.js';
import { LARGE_DIFF_BYTES } from '../src/diff-size.js';
import type { DemoPayloads } from '../src/messages.js';
import { planScript } from '../src/plan-script.js';
import { createStepGate, type StepTurnstile } from '../src/step-gate.js';
import { parseUnifiedDiff } from './parse-unified-diff.js';
import { Phone } from './phone.js';

let relay: TestRelay;
let dir: string;
let demo: DemoSidecar;
let phone: Phone;
let turnstile: StepTurnstile;
const logs: string[] = [];

/** Resolves once the demo logged `line`. */
async function logged(line: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!logs.includes(line)) {
    if (Date.now() > end) throw new Error(`not logged: ${line}; got ${JSON.stringify(logs)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeEach(async () => {
  relay = await startTestRelay();
  dir = await mkdtemp(join(tmpdir(), 'oppie-demo-'));
  logs.length = 0;
  turnstile = createStepGate(); // free-running unless a test holds it
  demo = await startDemoSidecar({
    relayUrl: relay.url,
    stateDir: join(dir, 'sidecar'),
    name: 'demo box',
    stepMs: 5,
    log: (l) => logs.push(l),
    direct: { enabled: false },
    stepGate: turnstile.gate,
  });
  expect(demo.paired()).toBe(false);
  phone = await Phone.open(relay.url, join(dir, 'phone'));
  const offer = await demo.createPairing();
  const [phoneSide, sidecarSide] = await Promise.all([phone.client.pair(offer.link), offer.completed]);
  expect(phoneSide.sas).toBe(sidecarSide.sas);
  expect(demo.paired()).toBe(true);
});

afterEach(async () => {
  await phone.client.close();
  await demo.close();
  await relay.close();
  await rm(dir, { recursive: true, force: true });
});

describe('demo sidecar', () => {
  it('runs a plan: every step in order, the diff, the approval request; approve -> applied', async () => {
    const prompt = 'Add a health endpoint';
    const script = planScript(prompt);
    await phone.client.send('runPlan', { planId: 'p1', prompt } satisfies DemoPayloads['runPlan']);
    const waiting = await phone.until('progress', (p) => p.status === 'awaiting-approval');
    const total = script.steps.length + 2;
    expect(phone.of('progress', 'p1')).toEqual([
      ...script.steps.map((message, i) => ({ planId: 'p1', step: i + 1, total, message, status: 'running' })),
      {
        planId: 'p1',
        step: total - 1,
        total,
        message: 'Waiting for approval: 5 files changed',
        status: 'awaiting-approval',
        diffId: 'p1-diff',
      },
    ]);
    // The diff comes before the request to approve it.
    const types = phone.got.map((m) => m.type);
    expect(types.indexOf('diff')).toBe(types.lastIndexOf('progress') - 1);
    const [diff] = phone.of('diff', 'p1');
    expect(diff).toMatchObject({ planId: 'p1', diffId: waiting.diffId, files: 5, awaitingApproval: true });
    expect(diff?.title).toBe('Add a health endpoint');
    expect(diff?.unified).toBe(script.unified);
    expect(parseUnifiedDiff(diff!.unified).length).toBe(5);
    expect(demo.diffOf('p1')).toEqual({ diffId: 'p1-diff', bytes: script.unified.length, files: 5 });
    expect(demo.plans()).toEqual([
      { planId: 'p1', prompt, status: 'awaiting-approval', step: total - 1, total, pendingDiffId: 'p1-diff' },
    ]);

    await phone.client.send('approve', { planId: 'p1', diffId: 'p1-diff', decision: 'approve' });
    const done = await phone.until('progress', (p) => p.status === 'applied');
    expect(done).toEqual({ planId: 'p1', step: total, total, message: 'Applied', status: 'applied' });
    expect(demo.plans()[0]).toEqual({ planId: 'p1', prompt, status: 'applied', step: total, total });

    // A second decision on the same diff changes nothing.
    await phone.client.send('approve', { planId: 'p1', diffId: 'p1-diff', decision: 'reject' });
    await phone.client.send('chat', { text: 'status', planId: 'p1' });
    await phone.until('chat', () => true);
    expect(phone.of('progress', 'p1').filter((p) => p.step === total)).toHaveLength(1);
    expect(logs).toContain('approve p1/p1-diff: no such pending diff, ignored');
  });

  it('sends a diff of at least 5 MiB for a "large" prompt; reject -> rejected', async () => {
    await phone.client.send('runPlan', { planId: 'big', prompt: 'Regenerate the API client, large' });
    const waiting = await phone.until('progress', (p) => p.status === 'awaiting-approval', 30_000);
    const [diff] = phone.of('diff', 'big');
    expect(diff!.unified.length).toBeGreaterThanOrEqual(LARGE_DIFF_BYTES);
    const files = parseUnifiedDiff(diff!.unified);
    expect(files.length).toBe(6);
    expect(diff!.files).toBe(6);
    expect(demo.diffOf('big')?.bytes).toBe(diff!.unified.length);
    await phone.client.send('approve', { planId: 'big', diffId: waiting.diffId!, decision: 'reject' });
    const done = await phone.until('progress', (p) => p.status !== 'running' && p.status !== 'awaiting-approval');
    expect(done).toMatchObject({ planId: 'big', status: 'rejected', message: 'Rejected' });
  }, 60_000);

  it('answers chat from the sidecar, about a plan or in general', async () => {
    await phone.client.send('chat', { text: 'hello there' });
    const hello = await phone.until('chat', () => true);
    expect(hello).toEqual({
      text: 'Noted: "hello there". Start a plan to put me to work, or ask for the status.',
      from: 'sidecar',
    });
    await phone.client.send('runPlan', { planId: 'p1', prompt: 'Fix login' });
    await phone.until('progress', (p) => p.status === 'awaiting-approval');
    await phone.client.send('chat', { text: 'how is it?', planId: 'p1' });
    const about = await phone.until('chat', (c) => c.planId === 'p1');
    expect(about.from).toBe('sidecar');
    expect(about.text).toMatch(/^Plan "Fix login" is awaiting-approval \(step \d+ of \d+\): the diff waits/);
  });

  it('sends recover with every plan when the PWA comes back online', async () => {
    await phone.client.send('runPlan', { planId: 'p1', prompt: 'Fix login' });
    const waiting = await phone.until('progress', (p) => p.status === 'awaiting-approval');
    await phone.client.close();

    phone = await Phone.open(relay.url, join(dir, 'phone')); // same identity and pairing, from its files
    await phone.client.connect();
    const rec = await phone.until('recover', (r) => r.plans.length > 0);
    expect(rec.plans).toEqual([
      {
        planId: 'p1',
        prompt: 'Fix login',
        status: 'awaiting-approval',
        step: waiting.step,
        total: waiting.total,
        pendingDiffId: waiting.diffId,
      },
    ]);
  });

  it('ignores malformed payloads and a plan id it already has, and keeps working', async () => {
    await phone.client.send('runPlan', { planId: 7 });
    await phone.client.send('approve', { planId: 'x', diffId: 'y', decision: 'maybe' });
    await phone.client.send('runPlan', { planId: 'p1', prompt: 'Fix login' });
    await phone.client.send('runPlan', { planId: 'p1', prompt: 'Something else' });
    await phone.until('progress', (p) => p.status === 'awaiting-approval');
    expect(logs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^runPlan from \S+: bad payload, ignored$/),
        expect.stringMatching(/^approve from \S+: bad payload, ignored$/),
        'runPlan p1: already known, ignored',
      ]),
    );
    expect(demo.plans().map((p) => p.prompt)).toEqual(['Fix login']);
  });

  it('takes approve only from the PWA that started the plan; another paired PWA is logged and ignored', async () => {
    const other = await Phone.open(relay.url, join(dir, 'other-phone'));
    try {
      const offer = await demo.createPairing();
      await Promise.all([other.client.pair(offer.link), offer.completed]);
      await phone.client.send('runPlan', { planId: 'p1', prompt: 'Fix login' });
      const waiting = await phone.until('progress', (p) => p.status === 'awaiting-approval');
      await other.client.send('approve', { planId: 'p1', diffId: waiting.diffId!, decision: 'approve' });
      await logged(`approve p1/p1-diff from ${other.client.deviceId}: not the PWA that started the plan, ignored`);
      expect(demo.plans()[0]).toMatchObject({ status: 'awaiting-approval', pendingDiffId: 'p1-diff' });
      expect(other.of('progress')).toEqual([]); // it never saw the plan either

      await phone.client.send('approve', { planId: 'p1', diffId: waiting.diffId!, decision: 'approve' });
      await phone.until('progress', (p) => p.status === 'applied');
      expect(demo.plans()[0]).toMatchObject({ status: 'applied' });
    } finally {
      await other.client.close();
    }
  });

  it('a step gate holds the plan at a known step; released, every step comes once', async () => {
    const script = planScript('Fix login');
    const total = script.steps.length + 2;
    turnstile.allowThrough(2);
    await phone.client.send('runPlan', { planId: 'p1', prompt: 'Fix login' });
    expect(await turnstile.heldAt(3, 'p1')).toEqual({ planId: 'p1', step: 3, total });
    expect(demo.plans()[0]).toMatchObject({ status: 'running', step: 2 });
    await phone.until('progress', (p) => p.step === 2);
    expect(phone.of('progress', 'p1').map((p) => p.step)).toEqual([1, 2]);

    turnstile.allowThrough(total - 2); // every running step, not the request for approval
    expect(await turnstile.heldAt(total - 1, 'p1')).toMatchObject({ step: total - 1 });
    expect(demo.plans()[0]).toMatchObject({ status: 'running', step: total - 2 });
    expect(demo.diffOf('p1')).toBeUndefined();

    turnstile.allowThrough(Number.POSITIVE_INFINITY);
    await phone.until('progress', (p) => p.status === 'awaiting-approval');
    expect(phone.of('progress', 'p1').map((p) => p.step)).toEqual(Array.from({ length: total - 1 }, (_, i) => i + 1));
  });

  it('a plan closed while held at the gate sends nothing more', async () => {
    turnstile.allowThrough(1);
    await phone.client.send('runPlan', { planId: 'p1', prompt: 'Fix login' });
    await turnstile.heldAt(2, 'p1');
    await demo.close();
    turnstile.allowThrough(Number.POSITIVE_INFINITY);
    await new Promise((r) => setTimeout(r, 50));
    expect(demo.plans()[0]).toMatchObject({ step: 1 });
  });
});
