/**
 * The application payloads the reference PWA and the demo sidecar exchange, by message type.
 *
 * The relay never sees these (they travel end-to-end encrypted); they are the demo app's own contract, kept in one
 * file that both ends import (the PWA type-only), so a change breaks the build of both.
 *
 * @example
 * import type { DemoPayloads } from '@oppie/sidecar-demo/messages';
 * const p: DemoPayloads['runPlan'] = { planId: 'p1', prompt: 'Add a health endpoint' };
 * await client.send('runPlan', p, { to: workstation });
 */

/** PWA -> sidecar: start a plan (a simulated coding task). */
export interface RunPlanPayload {
  readonly planId: string;
  readonly prompt: string;
}

/** PWA -> sidecar, and sidecar -> PWA as the answer: free text about a plan (or none). */
export interface ChatPayload {
  readonly text: string;
  readonly planId?: string;
  /** Set by the sidecar on its answers. */
  readonly from?: 'sidecar' | 'pwa';
}

/**
 * Sidecar -> PWA: one step of a plan. `step` counts from 1; `status` is the plan's state after it.
 *
 * The step that asks for a decision has `status: 'awaiting-approval'` and the `diffId`, and the sidecar sends it with
 * `priority: 'high'`: a high-priority envelope queued for an offline PWA makes the relay send a Web Push wake-up.
 */
export interface ProgressPayload {
  readonly planId: string;
  readonly step: number;
  readonly total: number;
  readonly message: string;
  readonly status: PlanStatus;
  readonly diffId?: string;
}

export type PlanStatus = 'running' | 'awaiting-approval' | 'applied' | 'rejected' | 'failed';

/**
 * Sidecar -> PWA: a unified diff (`git diff` format) the plan produced. The SDK chunks large ones; the PWA renders
 * it when the message is complete (with `transfer` events meanwhile). `awaitingApproval` asks for an `approve`.
 */
export interface DiffPayload {
  readonly planId: string;
  readonly diffId: string;
  readonly title: string;
  readonly unified: string;
  readonly files: number;
  readonly awaitingApproval: boolean;
}

/** PWA -> sidecar: the decision on a diff. The relay requires a recent TOTP step-up when the account has OTP. */
export interface ApprovePayload {
  readonly planId: string;
  readonly diffId: string;
  readonly decision: 'approve' | 'reject';
}

/** Sidecar -> PWA: the whole state, sent when a PWA comes online, so a PWA that was away catches up. */
export interface RecoverPayload {
  readonly plans: readonly PlanState[];
}

export interface PlanState {
  readonly planId: string;
  readonly prompt: string;
  readonly status: PlanStatus;
  readonly step: number;
  readonly total: number;
  /** The diff waiting for a decision, if any (its id; the diff itself was sent as a `diff` message). */
  readonly pendingDiffId?: string;
}

export interface DemoPayloads {
  runPlan: RunPlanPayload;
  chat: ChatPayload;
  progress: ProgressPayload;
  diff: DiffPayload;
  approve: ApprovePayload;
  recover: RecoverPayload;
}
