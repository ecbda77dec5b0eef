/**
 * The demo sidecar: a daemon on sidecar-sdk that plays a coding agent for the reference PWA. It answers `runPlan`
 * with progress steps, a unified diff and a request for approval, applies or drops the diff on `approve`, answers
 * `chat`, and sends `recover` (every plan's state) whenever a PWA comes online.
 */
import { hostname } from 'node:os';
import type { DirectOptions, IncomingMessage, OppieClient } from '@oppie/client-sdk';
import { createSidecar } from '@oppie/sidecar-sdk';
import { chatReply } from './chat-reply.js';
import { DemoError, errorText } from './errors.js';
import type { DemoPayloads, PlanState } from './messages.js';
import { isApprove, isChat, isRunPlan } from './payload-guards.js';
import { PlanBook, type PlanRecord } from './plan-book.js';
import { planScript } from './plan-script.js';
import type { StepGate } from './step-gate.js';

export interface DemoSidecarOptions {
  /** The relay's base URL, `http(s)://host:port`. */
  readonly relayUrl: string;
  /** The sidecar's identity, pairings and outbox (created with mode 0700). Reuse it to keep the pairing. */
  readonly stateDir: string;
  /** The workstation name shown in the PWA. Default: `demo on <host name>`. */
  readonly name?: string;
  /** Time between progress steps. Default 400 ms. */
  readonly stepMs?: number;
  /** Where the demo writes what it does, one line per call. Default: stdout. */
  readonly log?: (line: string) => void;
  /** The WebRTC direct path; `{ enabled: false }` keeps everything on the relay. Default: sidecar-sdk's. */
  readonly direct?: DirectOptions;
  /**
   * Awaited before each progress step of a plan is sent (the running steps and the approval request), so a test can
   * hold a plan at a known step; see `createStepGate`. Default: none, the steps run free every `stepMs`.
   */
  readonly stepGate?: StepGate;
}

/** What the diff of a plan was, for checking what a PWA shows (the text itself is not kept). */
export interface SentDiff {
  readonly diffId: string;
  /** Length of the unified text, in UTF-16 code units (`unified.length`). */
  readonly bytes: number;
  readonly files: number;
}

export interface DemoSidecar {
  readonly client: OppieClient;
  /** A one-time pairing link for a PWA (`client.createPairing()`). */
  createPairing(): ReturnType<OppieClient['createPairing']>;
  /** Whether a PWA is paired with this sidecar. */
  paired(): boolean;
  /** The state of the plans kept in memory (the last 50), oldest first: what `recover` sends. */
  plans(): PlanState[];
  /** The diff sent for a plan, once sent. */
  diffOf(planId: string): SentDiff | undefined;
  /** Stops the plans' timers and closes the client. */
  close(): Promise<void>;
}

type Send = <T extends keyof DemoPayloads>(
  type: T,
  payload: DemoPayloads[T],
  to: string,
  priority?: 'high' | 'normal',
) => void;

const SEEN_IDS = 1_000;

/**
 * Starts the demo sidecar: creates (or loads) its identity in `stateDir`, registers on the first run, connects.
 *
 * Plan messages go to the PWA that started the plan; a prompt with the word `large` (or `size=<n>MiB`) gets a diff
 * of at least 5 MiB (or n MiB). See the README for the whole conversation.
 *
 * @example
 * const demo = await startDemoSidecar({ relayUrl: 'http://127.0.0.1:8080', stateDir: '.demo/sidecar' });
 * if (!demo.paired()) console.log((await demo.createPairing()).link);
 * process.on('SIGINT', () => void demo.close());
 */
export async function startDemoSidecar(opts: DemoSidecarOptions): Promise<DemoSidecar> {
  const stepMs = opts.stepMs ?? 400;
  if (!Number.isFinite(stepMs) || stepMs < 0) throw new DemoError('DEMO_ERR_BAD_OPTION', 'stepMs must be >= 0');
  if (typeof opts.stateDir !== 'string' || opts.stateDir === '') {
    throw new DemoError('DEMO_ERR_BAD_OPTION', 'stateDir must be a directory path');
  }
  const log = opts.log ?? ((line: string) => console.log(line));
  const client = await createSidecar({
    relayUrl: opts.relayUrl,
    name: opts.name ?? `demo on ${hostname()}`,
    dataDir: opts.stateDir,
    ...(opts.direct !== undefined && { direct: opts.direct }),
  });
  const book = new PlanBook();
  const seen = new Set<string>();
  let closed = false;

  const send: Send = (type, payload, to, priority = 'normal') => {
    if (closed) return;
    // Resolves on the PWA's receipt, which may come much later (it is offline): never awaited in the plan's flow.
    client.send(type, payload, { to, priority }).catch((err: unknown) => {
      log(`send ${type} to ${to} failed: ${errorText(err)}`);
    });
  };
  const isPwa = (deviceId: string) => client.peers().some((p) => p.deviceId === deviceId && p.role === 'pwa');
  const recover = (to: string) => {
    if (isPwa(to)) send('recover', { plans: book.states() }, to);
  };
  /** True the first time a message id is seen (a restart may hand a message over again, marked redelivered). */
  const fresh = (m: IncomingMessage) => {
    if (seen.has(m.id)) return false;
    seen.add(m.id);
    if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value as string);
    return true;
  };

  const progress = (plan: PlanRecord, message: string, priority?: 'high') => {
    const { planId, step, total, status, pendingDiffId } = plan;
    const payload = { planId, step, total, message, status, ...(pendingDiffId && { diffId: pendingDiffId }) };
    send('progress', payload, plan.owner, priority);
  };

  const runPlan = (m: IncomingMessage) => {
    if (!isRunPlan(m.payload)) return log(`runPlan from ${m.from}: bad payload, ignored`);
    const { planId, prompt } = m.payload;
    if (book.get(planId) !== undefined) return log(`runPlan ${planId}: already known, ignored`);
    const script = planScript(prompt);
    const plan: PlanRecord = {
      planId,
      prompt,
      owner: m.from,
      status: 'running',
      step: 0,
      total: script.steps.length + 2,
    };
    book.add(plan);
    log(`plan ${planId}: ${JSON.stringify(prompt)} (${script.files} files, ${script.unified.length} bytes of diff)`);
    const next = async () => {
      plan.timer = undefined;
      try {
        await opts.stepGate?.({ planId, step: plan.step + 1, total: plan.total });
      } catch (err) {
        return log(`plan ${planId}: step gate failed, plan stopped: ${errorText(err)}`);
      }
      // Closed, or dropped from the book, while the gate held it: a dropped plan never sends again.
      if (closed || book.get(planId) !== plan) return;
      const message = script.steps[plan.step];
      plan.step++;
      if (message !== undefined) {
        progress(plan, message);
        plan.timer = setTimeout(() => void next(), stepMs);
        return;
      }
      const diffId = `${planId}-diff`;
      const { title, unified, files } = script;
      plan.diff = { diffId, bytes: unified.length, files };
      send('diff', { planId, diffId, title, unified, files, awaitingApproval: true }, plan.owner);
      plan.status = 'awaiting-approval';
      plan.pendingDiffId = diffId;
      // High priority: queued for an offline PWA, it makes the relay send a Web Push wake-up.
      progress(plan, `Waiting for approval: ${files} files changed`, 'high');
      log(`plan ${planId}: diff ${diffId} sent, waiting for approval`);
    };
    void next();
  };

  const approve = (m: IncomingMessage) => {
    if (!isApprove(m.payload)) return log(`approve from ${m.from}: bad payload, ignored`);
    const { planId, diffId, decision } = m.payload;
    const plan = book.get(planId);
    // Only the PWA that started the plan decides on its diff (another paired PWA sees none of it).
    if (plan !== undefined && plan.owner !== m.from) {
      return log(`approve ${planId}/${diffId} from ${m.from}: not the PWA that started the plan, ignored`);
    }
    if (plan === undefined || plan.pendingDiffId !== diffId) {
      return log(`approve ${planId}/${diffId}: no such pending diff, ignored`);
    }
    plan.pendingDiffId = undefined;
    plan.status = decision === 'approve' ? 'applied' : 'rejected';
    plan.step = plan.total;
    progress(plan, decision === 'approve' ? 'Applied' : 'Rejected');
    log(`plan ${planId}: ${plan.status}`);
  };

  const chat = (m: IncomingMessage) => {
    if (!isChat(m.payload)) return log(`chat from ${m.from}: bad payload, ignored`);
    const { text, planId } = m.payload;
    const answer = chatReply(text, planId, book.states());
    send('chat', { text: answer, from: 'sidecar', ...(planId !== undefined && { planId }) }, m.from);
  };

  const guard = (name: string, handler: (m: IncomingMessage) => void) => (m: IncomingMessage) => {
    if (!fresh(m)) return;
    try {
      handler(m);
    } catch (err) {
      log(`${name} from ${m.from} failed: ${errorText(err)}`);
    }
  };
  client.events.on('runPlan', guard('runPlan', runPlan));
  client.events.on('approve', guard('approve', approve));
  client.events.on('chat', guard('chat', chat));
  client.events.on('peer', ({ deviceId, online }) => online && recover(deviceId));
  client.events.on('paired', (p) => {
    log(`paired with ${p.name} (${p.deviceId}), check code ${p.sas}`);
    recover(p.deviceId);
  });
  client.events.on('error', (e) => log(`client error: ${e.code} ${e.message}`));

  await client.connect();
  return {
    client,
    createPairing: () => client.createPairing(),
    paired: () => client.peers().some((p) => p.role === 'pwa'),
    plans: () => book.states(),
    diffOf: (planId) => book.get(planId)?.diff,
    close: async () => {
      if (closed) return;
      closed = true;
      book.stopAll();
      await client.close();
    },
  };
}
