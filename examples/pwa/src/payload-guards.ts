/**
 * Checks of the payloads the workstation sends (the contract is examples/sidecar-demo/src/messages.ts). They arrive
 * as `unknown` from another program and end up in the view state in localStorage, so the shape is checked before
 * anything is stored; `clip` bounds the strings that are stored.
 */
import type {
  ChatPayload,
  DiffPayload,
  PlanState,
  PlanStatus,
  ProgressPayload,
  RecoverPayload,
} from '@oppie/sidecar-demo/messages';

/** Longest plan or diff id accepted (the sidecar takes 200-char plan ids and appends `-diff`). */
export const MAX_ID = 256;
/** Plans accepted in one `recover` (the view keeps 100). */
export const MAX_RECOVER_PLANS = 1000;

/** Longest strings written to localStorage, in UTF-16 code units; longer ones are cut with an ellipsis. */
export const STORED_TEXT = { prompt: 2000, message: 1000, chat: 4000, title: 500 } as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const STATUSES: readonly unknown[] = ['running', 'awaiting-approval', 'applied', 'rejected', 'failed'];
const isStatus = (v: unknown): v is PlanStatus => STATUSES.includes(v);

export function isProgress(v: unknown): v is ProgressPayload {
  return (
    isObj(v) &&
    isId(v.planId) &&
    isCount(v.step) &&
    isCount(v.total) &&
    typeof v.message === 'string' &&
    isStatus(v.status) &&
    (v.diffId === undefined || isId(v.diffId))
  );
}

export function isDiff(v: unknown): v is DiffPayload {
  return (
    isObj(v) &&
    isId(v.planId) &&
    isId(v.diffId) &&
    typeof v.title === 'string' &&
    typeof v.unified === 'string' &&
    isCount(v.files) &&
    typeof v.awaitingApproval === 'boolean'
  );
}

export function isChat(v: unknown): v is ChatPayload {
  return (
    isObj(v) &&
    typeof v.text === 'string' &&
    (v.planId === undefined || isId(v.planId)) &&
    (v.from === undefined || v.from === 'sidecar' || v.from === 'pwa')
  );
}

function isPlanState(v: unknown): v is PlanState {
  return (
    isObj(v) &&
    isId(v.planId) &&
    typeof v.prompt === 'string' &&
    isStatus(v.status) &&
    isCount(v.step) &&
    isCount(v.total) &&
    (v.pendingDiffId === undefined || isId(v.pendingDiffId))
  );
}

/** A `recover` with any malformed plan is refused whole: it comes from a broken peer. */
export function isRecover(v: unknown): v is RecoverPayload {
  return isObj(v) && Array.isArray(v.plans) && v.plans.length <= MAX_RECOVER_PLANS && v.plans.every(isPlanState);
}

/** `text` cut to `max` code units (the last one an ellipsis) for storage. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
