/**
 * The app's own view state: plans, chat log, diff metadata and the ids of messages already handled. It is written to
 * localStorage synchronously inside the SDK's message handler, so a reload shows the same screen and a message the
 * SDK hands over again (`redelivered`) is recognised. Diff bodies are too large for localStorage: see diff-store.ts.
 */
import type { PlanStatus } from '@oppie/sidecar-demo/messages';

export interface PlanView {
  readonly planId: string;
  readonly prompt: string;
  readonly status: PlanStatus;
  readonly step: number;
  readonly total: number;
  /** The latest progress message (or a local note before the first one). */
  readonly message: string;
  readonly pendingDiffId?: string;
  readonly updatedAt: number;
}

/** pending | approved | rejected | error:<code>; `none` for a diff that asks for no decision. */
export type ApprovalStatus = 'none' | 'pending' | 'approved' | 'rejected' | `error:${string}`;

export interface DiffMeta {
  readonly diffId: string;
  readonly planId: string;
  readonly title: string;
  readonly files: number;
  /** Length of `unified` as received. */
  readonly bytes: number;
  readonly approval: ApprovalStatus;
  readonly receivedAt: number;
  /** False once the body was evicted from IndexedDB by the budget (diff-budget.ts), or never fit in it. */
  readonly stored?: boolean;
}

export interface ChatEntry {
  readonly id: string;
  readonly from: 'pwa' | 'sidecar';
  readonly text: string;
  readonly planId?: string;
  readonly at: number;
}

export interface ViewState {
  readonly plans: Record<string, PlanView>;
  readonly diffs: Record<string, DiffMeta>;
  readonly chat: readonly ChatEntry[];
  /** Ids of handled messages, newest last, bounded. */
  readonly seen: readonly string[];
  /** The SAS of the last pairing, shown until the user leaves the pair screen. */
  readonly sas?: string;
}

const KEY = 'oppie-pwa/view/v1';
const MAX_CHAT = 300;
const MAX_SEEN = 2000;
/** Plans kept (newest by update); their diffs go with them. */
const MAX_PLANS = 100;

export const emptyView: ViewState = { plans: {}, diffs: {}, chat: [], seen: [] };

export function loadView(): ViewState {
  try {
    const raw = localStorage.getItem(KEY);
    if (raw === null) return emptyView;
    const v = JSON.parse(raw) as Partial<ViewState>;
    return {
      plans: v.plans ?? {},
      diffs: v.diffs ?? {},
      chat: v.chat ?? [],
      seen: v.seen ?? [],
      ...(v.sas !== undefined && { sas: v.sas }),
    };
  } catch (err) {
    console.warn('oppie-pwa: discarding unreadable view state', err);
    return emptyView;
  }
}

/** Bounds the lists, then writes synchronously. Returns the bounded state. */
export function saveView(v: ViewState): ViewState {
  let { plans, diffs } = v;
  const all = Object.values(plans);
  if (all.length > MAX_PLANS) {
    const kept = all.sort((a, b) => b.updatedAt - a.updatedAt).slice(0, MAX_PLANS);
    plans = Object.fromEntries(kept.map((p) => [p.planId, p]));
    diffs = Object.fromEntries(Object.entries(diffs).filter(([, d]) => Object.hasOwn(plans, d.planId)));
  }
  const bounded: ViewState = {
    ...v,
    plans,
    diffs,
    chat: v.chat.length > MAX_CHAT ? v.chat.slice(-MAX_CHAT) : v.chat,
    seen: v.seen.length > MAX_SEEN ? v.seen.slice(-MAX_SEEN) : v.seen,
  };
  try {
    localStorage.setItem(KEY, JSON.stringify(bounded));
  } catch (err) {
    // Quota: the screen still works from memory; only the state after a reload is older.
    console.warn('oppie-pwa: could not persist the view state', err);
  }
  return bounded;
}

export function clearView(): void {
  localStorage.removeItem(KEY);
}
