/** Checks of the payloads a PWA sends: they arrive as `unknown` and come from another program. */
import type { ApprovePayload, ChatPayload, RunPlanPayload } from './messages.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

export function isRunPlan(v: unknown): v is RunPlanPayload {
  return isObj(v) && text(v.planId, 200) && text(v.prompt, 10_000);
}

export function isChat(v: unknown): v is ChatPayload {
  return isObj(v) && text(v.text, 10_000) && (v.planId === undefined || text(v.planId, 200));
}

export function isApprove(v: unknown): v is ApprovePayload {
  return (
    isObj(v) && text(v.planId, 200) && text(v.diffId, 200) && (v.decision === 'approve' || v.decision === 'reject')
  );
}
