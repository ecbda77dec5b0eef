/**
 * The app controller: owns the OppieClient, turns its events into view state, and exposes the user's actions
 * (pair, revoke, start a plan, chat, approve with step-up). Components read its fields and re-render on `subscribe`.
 * View state goes to localStorage synchronously in each handler (see view-state.ts), diff bodies to IndexedDB.
 */
import type {
  ApprovePayload,
  ChatPayload,
  DiffPayload,
  ProgressPayload,
  RecoverPayload,
  RunPlanPayload,
} from '@oppie/sidecar-demo/messages';
import type { ConnectionState, IncomingMessage, OppieClient, PathName, PeerInfo } from 'oppie-client';
import { isStored, overBudget } from './diff-budget.js';
import { deleteDiffBodies, getDiffBody, putDiffBody, storedDiffIds } from './diff-store.js';
import { AppError, codeOf, isStepUpRequired, messageOf } from './errors.js';
import { clip, isChat, isDiff, isProgress, isRecover, STORED_TEXT } from './payload-guards.js';
import { Transfers } from './transfers.js';
import { type ApprovalStatus, type DiffMeta, loadView, type PlanView, saveView, type ViewState } from './view-state.js';

export type { Transfer } from './transfers.js';

export interface Banner {
  readonly code: string;
  readonly message: string;
}

export type Decision = ApprovePayload['decision'];

/** An approval waiting for the user's TOTP code (the relay or the account asked for a step-up). */
export interface StepUpPrompt {
  readonly diffId: string;
  readonly decision: Decision;
}

/** Diff texts kept in memory (each may be several MB); older ones are read again from IndexedDB. */
const MAX_BODIES_IN_MEMORY = 4;

export class AppModel {
  view: ViewState = loadView();
  state: ConnectionState;
  path: PathName = 'relay';
  peers: PeerInfo[] = [];
  readonly online = new Map<string, boolean>();
  readonly transfers = new Transfers(() => this.changed());
  error: Banner | undefined;
  stepUpPrompt: StepUpPrompt | undefined;
  /** Diffs whose approve/reject is on its way (buttons disabled). */
  readonly deciding = new Set<string>();
  /** Diff texts already read, by diffId. */
  private readonly bodies = new Map<string, string>();
  private readonly listeners = new Set<() => void>();
  private seen: Set<string>;

  constructor(readonly client: OppieClient) {
    this.state = client.state;
    this.peers = client.peers();
    this.seen = new Set(this.view.seen);
    const first = this.peers[0];
    if (first !== undefined) this.path = client.pathTo(first.deviceId);
  }

  /** Wires the client's events and connects when already paired. */
  start(): void {
    const ev = this.client.events;
    ev.on('state', ({ to }) => {
      this.state = to;
      if (to === 'open') this.transfers.reconnected();
      this.changed();
    });
    ev.on('path', ({ path }) => {
      this.path = path;
      this.changed();
    });
    ev.on('peer', ({ deviceId, online }) => {
      this.online.set(deviceId, online);
      this.changed();
    });
    ev.on('paired', () => this.refreshPeers());
    ev.on('transfer', (t) => {
      if (t.direction === 'in') this.transfers.progress(t.peer, t.id, t.done, t.total);
    });
    ev.on('message', (m) => this.received(m));
    ev.on('error', (e) => this.fail(e));
    if (this.peers.length > 0) this.connect();
    this.tidyDiffBodies().catch((err: unknown) => this.fail(err));
  }

  /**
   * On start: applies the body budget to the state as loaded (it may predate the budget) and deletes stored bodies
   * the view no longer refers to (their plan was dropped while a delete failed, or the tab closed in between).
   */
  private async tidyDiffBodies(): Promise<void> {
    this.evict(overBudget(Object.values(this.view.diffs)));
    const stored = await storedDiffIds();
    // The view as it is now: a diff received while the keys were read is in it already.
    const unused = stored.filter((id) => {
      const d = own(this.view.diffs, id);
      return d === undefined || !isStored(d);
    });
    await deleteDiffBodies(unused);
  }

  /** Marks `diffIds` as not stored and deletes their bodies from IndexedDB and memory. */
  private evict(diffIds: readonly string[]): void {
    if (diffIds.length === 0) return;
    let diffs = this.view.diffs;
    for (const id of diffIds) {
      const d = own(diffs, id);
      if (d !== undefined) diffs = { ...diffs, [id]: { ...d, stored: false } };
      this.bodies.delete(id);
    }
    this.commit({ ...this.view, diffs });
    deleteDiffBodies(diffIds).catch((err: unknown) => this.fail(err));
  }

  connect(): void {
    this.client.connect().catch((err: unknown) => this.fail(err));
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private commit(next: ViewState): void {
    this.view = saveView(next);
    const dropped = Object.keys(next.diffs).filter((diffId) => !Object.hasOwn(this.view.diffs, diffId));
    if (dropped.length > 0) {
      // Their plans were dropped from the bounded view.
      for (const diffId of dropped) this.bodies.delete(diffId);
      deleteDiffBodies(dropped).catch((err: unknown) => this.fail(err));
    }
    // The persisted id list is bounded; the lookup set follows it from time to time.
    if (this.seen.size > this.view.seen.length + 500) this.seen = new Set(this.view.seen);
    this.changed();
  }

  fail(err: unknown): void {
    this.error = { code: codeOf(err), message: messageOf(err) };
    this.changed();
  }

  dismissError(): void {
    this.error = undefined;
    this.changed();
  }

  refreshPeers(): void {
    this.peers = this.client.peers();
    this.changed();
  }

  // --- pairing -----------------------------------------------------------------------------------------------------

  /** Claims the link; resolves with the SAS to compare with the terminal. */
  async pair(link: string): Promise<string> {
    const r = await this.client.pair(link.trim());
    this.peers = this.client.peers();
    this.commit({ ...this.view, sas: r.sas });
    return r.sas;
  }

  async revoke(deviceId: string): Promise<void> {
    await this.client.revoke(deviceId);
    this.refreshPeers();
  }

  // --- plans and chat ----------------------------------------------------------------------------------------------

  async startPlan(prompt: string): Promise<void> {
    const planId = `plan-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const plan: PlanView = {
      planId,
      prompt: clip(prompt, STORED_TEXT.prompt),
      status: 'running',
      step: 0,
      total: 0,
      message: 'Sent to the workstation',
      updatedAt: Date.now(),
    };
    this.commit({ ...this.view, plans: { ...this.view.plans, [planId]: plan } });
    const payload: RunPlanPayload = { planId, prompt };
    try {
      await this.client.send('runPlan', payload);
    } catch (err) {
      this.fail(err);
    }
  }

  async sendChat(text: string, planId?: string): Promise<void> {
    const payload: ChatPayload = { text, from: 'pwa', ...(planId !== undefined && { planId }) };
    const entry = {
      id: `local-${Date.now().toString(36)}`,
      from: 'pwa' as const,
      text: clip(text, STORED_TEXT.chat),
      at: Date.now(),
    };
    this.commit({ ...this.view, chat: [...this.view.chat, planId === undefined ? entry : { ...entry, planId }] });
    try {
      await this.client.send('chat', payload);
    } catch (err) {
      this.fail(err);
    }
  }

  // --- approvals ---------------------------------------------------------------------------------------------------

  async decide(diffId: string, decision: Decision): Promise<void> {
    if (this.client.stepUpRequired) {
      this.stepUpPrompt = { diffId, decision };
      this.changed();
      return;
    }
    await this.sendDecision(diffId, decision);
  }

  /** Verifies the TOTP code, then sends the approval that waited for it. Rejects (for the form) on a bad code. */
  async submitStepUp(code: string): Promise<void> {
    await this.client.stepUp(code);
    const waiting = this.stepUpPrompt;
    this.stepUpPrompt = undefined;
    this.changed();
    if (waiting !== undefined) await this.sendDecision(waiting.diffId, waiting.decision);
  }

  cancelStepUp(): void {
    this.stepUpPrompt = undefined;
    this.changed();
  }

  private async sendDecision(diffId: string, decision: Decision): Promise<void> {
    const meta = own(this.view.diffs, diffId);
    if (meta === undefined) return;
    const payload: ApprovePayload = { planId: meta.planId, diffId, decision };
    this.deciding.add(diffId);
    this.setApproval(diffId, 'pending');
    try {
      await this.client.send('approve', payload);
      this.setApproval(diffId, decision === 'approve' ? 'approved' : 'rejected');
    } catch (err) {
      if (isStepUpRequired(err)) {
        this.stepUpPrompt = { diffId, decision };
        this.setApproval(diffId, 'pending');
      } else {
        this.setApproval(diffId, `error:${codeOf(err)}`);
        this.fail(err);
      }
    } finally {
      this.deciding.delete(diffId);
      this.changed();
    }
  }

  private setApproval(diffId: string, approval: ApprovalStatus): void {
    const meta = own(this.view.diffs, diffId);
    if (meta === undefined) return;
    this.commit({ ...this.view, diffs: { ...this.view.diffs, [diffId]: { ...meta, approval } } });
  }

  /** The first diff waiting for a decision (the `#/approvals` route scrolls to it). */
  pendingApproval(): DiffMeta | undefined {
    return Object.values(this.view.diffs).find((d) => d.approval === 'pending');
  }

  // --- diffs -------------------------------------------------------------------------------------------------------

  /** The diff text, from memory or IndexedDB (after a reload); undefined when not stored on this device. */
  async diffBody(diffId: string): Promise<string | undefined> {
    const cached = this.bodies.get(diffId);
    if (cached !== undefined) return cached;
    const meta = own(this.view.diffs, diffId);
    if (meta !== undefined && !isStored(meta)) return undefined;
    const stored = await getDiffBody(diffId);
    if (stored !== undefined) this.keepBody(diffId, stored);
    return stored;
  }

  private keepBody(diffId: string, unified: string): void {
    this.bodies.delete(diffId);
    this.bodies.set(diffId, unified);
    for (const oldest of this.bodies.keys()) {
      if (this.bodies.size <= MAX_BODIES_IN_MEMORY) break;
      this.bodies.delete(oldest);
    }
  }

  // --- incoming ----------------------------------------------------------------------------------------------------

  private received(m: IncomingMessage): void {
    if (this.seen.has(m.id)) return; // handed over again after a reload (`redelivered`)
    this.seen.add(m.id);
    this.transfers.messageFrom(m.from);
    // The id is recorded even when the payload is refused, so a redelivery does not raise the banner again.
    let next: ViewState = { ...this.view, seen: [...this.view.seen, m.id] };
    let bad = false;
    switch (m.type) {
      case 'progress':
        if (isProgress(m.payload)) next = this.progress(next, m.payload);
        else bad = true;
        break;
      case 'diff':
        if (isDiff(m.payload)) next = this.diff(next, m.payload);
        else bad = true;
        break;
      case 'chat':
        if (isChat(m.payload)) next = chat(next, m.id, m.payload);
        else bad = true;
        break;
      case 'recover':
        if (isRecover(m.payload)) next = this.recover(next, m.payload);
        else bad = true;
        break;
      default:
        break; // runPlan / approve are PWA -> sidecar
    }
    this.commit(next);
    if (bad) {
      this.fail(
        new AppError('APP_ERR_BAD_PAYLOAD', `a ${m.type} message from the workstation was malformed and was ignored`),
      );
    }
  }

  private plan(v: ViewState, planId: string): PlanView {
    return (
      own(v.plans, planId) ?? {
        planId,
        prompt: '',
        status: 'running',
        step: 0,
        total: 0,
        message: '',
        updatedAt: Date.now(),
      }
    );
  }

  private progress(v: ViewState, p: ProgressPayload): ViewState {
    const { pendingDiffId: _old, ...prev } = this.plan(v, p.planId);
    const plan: PlanView = {
      ...prev,
      status: p.status,
      step: p.step,
      total: p.total,
      message: clip(p.message, STORED_TEXT.message),
      updatedAt: Date.now(),
      ...(p.status === 'awaiting-approval' && p.diffId !== undefined && { pendingDiffId: p.diffId }),
    };
    return settleDiffs({ ...v, plans: { ...v.plans, [p.planId]: plan } }, plan);
  }

  /** Keeps the body (memory, IndexedDB within the budget) and returns the view with the diff's metadata. */
  private diff(v: ViewState, p: DiffPayload): ViewState {
    this.keepBody(p.diffId, p.unified);
    const prev = own(v.diffs, p.diffId);
    const meta: DiffMeta = {
      diffId: p.diffId,
      planId: p.planId,
      title: clip(p.title, STORED_TEXT.title),
      files: p.files,
      bytes: p.unified.length,
      approval: prev?.approval ?? (p.awaitingApproval ? 'pending' : 'none'),
      receivedAt: Date.now(),
    };
    let diffs: Record<string, DiffMeta> = { ...v.diffs, [p.diffId]: meta };
    const evicted = overBudget(Object.values(diffs), undefined, p.diffId);
    for (const id of evicted) {
      const d = own(diffs, id);
      if (d !== undefined) diffs = { ...diffs, [id]: { ...d, stored: false } };
      // The new diff stays in memory even when it alone is over the budget; evicted older ones go.
      if (id !== p.diffId) this.bodies.delete(id);
    }
    if (!evicted.includes(p.diffId)) putDiffBody(p.diffId, p.unified).catch((err: unknown) => this.fail(err));
    deleteDiffBodies(evicted).catch((err: unknown) => this.fail(err));
    const plan = this.plan(v, p.planId);
    return { ...v, plans: { ...v.plans, [p.planId]: plan }, diffs };
  }

  /** The sidecar's whole state after a reconnect: it wins over what this device saw, except local prompts. */
  private recover(v: ViewState, p: RecoverPayload): ViewState {
    let next = v;
    for (const s of p.plans) {
      const { pendingDiffId: _old, ...prev } = this.plan(next, s.planId);
      const plan: PlanView = {
        ...prev,
        prompt: s.prompt !== '' ? clip(s.prompt, STORED_TEXT.prompt) : prev.prompt,
        status: s.status,
        step: s.step,
        total: s.total,
        message: prev.step === s.step && prev.message !== '' ? prev.message : `Step ${s.step} of ${s.total}`,
        // Unchanged plans keep their place in the list.
        updatedAt: prev.status === s.status && prev.step === s.step ? prev.updatedAt : Date.now(),
        ...(s.pendingDiffId !== undefined && { pendingDiffId: s.pendingDiffId }),
      };
      next = settleDiffs({ ...next, plans: { ...next.plans, [s.planId]: plan } }, plan);
    }
    return next;
  }
}

/** `rec[key]` if it is the record's own entry: ids come from the peer and may be `constructor` or `__proto__`. */
function own<T>(rec: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

function chat(v: ViewState, id: string, p: ChatPayload): ViewState {
  // Another phone of the account may chat too; only the sidecar's answers are from the workstation.
  const entry = {
    id,
    from: p.from === 'pwa' ? ('pwa' as const) : ('sidecar' as const),
    text: clip(p.text, STORED_TEXT.chat),
    at: Date.now(),
  };
  return { ...v, chat: [...v.chat, p.planId === undefined ? entry : { ...entry, planId: p.planId }] };
}

/** A plan that reached applied/rejected settles its diffs still marked pending; one awaiting approval reopens it. */
function settleDiffs(v: ViewState, plan: PlanView): ViewState {
  let diffs = v.diffs;
  for (const d of Object.values(v.diffs)) {
    if (d.planId !== plan.planId) continue;
    let approval: ApprovalStatus = d.approval;
    if (d.approval === 'pending' && plan.status === 'applied') approval = 'approved';
    else if (d.approval === 'pending' && plan.status === 'rejected') approval = 'rejected';
    else if (plan.status === 'awaiting-approval' && plan.pendingDiffId === d.diffId && d.approval.startsWith('error:'))
      approval = 'pending';
    if (approval !== d.approval) diffs = { ...diffs, [d.diffId]: { ...d, approval } };
  }
  return diffs === v.diffs ? v : { ...v, diffs };
}
