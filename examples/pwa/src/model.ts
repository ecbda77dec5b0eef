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
import { deleteDiffBody, getDiffBody, putDiffBody } from './diff-store.js';
import { codeOf, isStepUpRequired, messageOf } from './errors.js';
import { stepUp, stepUpRequired } from './sdk-ext.js';
import { type ApprovalStatus, type DiffMeta, loadView, type PlanView, saveView, type ViewState } from './view-state.js';

export interface Transfer {
  readonly peer: string;
  readonly id: string;
  readonly done: number;
  readonly total: number;
}

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

const TRANSFER_LINGER_MS = 1500;
/** Diff texts kept in memory (each may be several MB); older ones are read again from IndexedDB. */
const MAX_BODIES_IN_MEMORY = 4;

export class AppModel {
  view: ViewState = loadView();
  state: ConnectionState;
  path: PathName = 'relay';
  peers: PeerInfo[] = [];
  readonly online = new Map<string, boolean>();
  readonly transfers = new Map<string, Transfer>();
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
    ev.on('transfer', (t) => this.transfer(t));
    ev.on('message', (m) => this.received(m));
    ev.on('error', (e) => this.fail(e));
    if (this.peers.length > 0) this.connect();
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
    for (const diffId of Object.keys(next.diffs)) {
      if (this.view.diffs[diffId] !== undefined) continue;
      this.bodies.delete(diffId); // its plan was dropped from the bounded view
      deleteDiffBody(diffId).catch((err: unknown) => this.fail(err));
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
      prompt,
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
    const entry = { id: `local-${Date.now().toString(36)}`, from: 'pwa' as const, text, at: Date.now() };
    this.commit({ ...this.view, chat: [...this.view.chat, planId === undefined ? entry : { ...entry, planId }] });
    try {
      await this.client.send('chat', payload);
    } catch (err) {
      this.fail(err);
    }
  }

  // --- approvals ---------------------------------------------------------------------------------------------------

  async decide(diffId: string, decision: Decision): Promise<void> {
    if (stepUpRequired(this.client)) {
      this.stepUpPrompt = { diffId, decision };
      this.changed();
      return;
    }
    await this.sendDecision(diffId, decision);
  }

  /** Verifies the TOTP code, then sends the approval that waited for it. Rejects (for the form) on a bad code. */
  async submitStepUp(code: string): Promise<void> {
    await stepUp(this.client, code);
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
    const meta = this.view.diffs[diffId];
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
    const meta = this.view.diffs[diffId];
    if (meta === undefined) return;
    this.commit({ ...this.view, diffs: { ...this.view.diffs, [diffId]: { ...meta, approval } } });
  }

  /** The first diff waiting for a decision (the `#/approvals` route scrolls to it). */
  pendingApproval(): DiffMeta | undefined {
    return Object.values(this.view.diffs).find((d) => d.approval === 'pending');
  }

  // --- diffs -------------------------------------------------------------------------------------------------------

  /** The diff text, from memory or IndexedDB (after a reload). */
  async diffBody(diffId: string): Promise<string | undefined> {
    const cached = this.bodies.get(diffId);
    if (cached !== undefined) return cached;
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

  private transfer(t: { peer: string; id: string; direction: 'in' | 'out'; done: number; total: number }): void {
    if (t.direction !== 'in') return;
    this.transfers.set(t.id, { peer: t.peer, id: t.id, done: t.done, total: t.total });
    if (t.done >= t.total) setTimeout(() => this.dropTransfer(t.id), TRANSFER_LINGER_MS);
    this.changed();
  }

  private dropTransfer(id: string): void {
    if (this.transfers.delete(id)) this.changed();
  }

  // --- incoming ----------------------------------------------------------------------------------------------------

  private received(m: IncomingMessage): void {
    if (this.seen.has(m.id)) return; // handed over again after a reload (`redelivered`)
    this.seen.add(m.id);
    let next: ViewState = { ...this.view, seen: [...this.view.seen, m.id] };
    switch (m.type) {
      case 'progress':
        next = this.progress(next, m.payload as ProgressPayload);
        break;
      case 'diff':
        next = this.diff(next, m.payload as DiffPayload);
        for (const t of this.transfers.values())
          if (t.peer === m.from && t.done >= t.total) this.transfers.delete(t.id);
        break;
      case 'chat': {
        const p = m.payload as ChatPayload;
        // Another phone of the account may chat too; only the sidecar's answers are from the workstation.
        const entry = {
          id: m.id,
          from: p.from === 'pwa' ? ('pwa' as const) : ('sidecar' as const),
          text: p.text,
          at: Date.now(),
        };
        next = { ...next, chat: [...next.chat, p.planId === undefined ? entry : { ...entry, planId: p.planId }] };
        break;
      }
      case 'recover':
        next = this.recover(next, m.payload as RecoverPayload);
        break;
      default:
        break; // runPlan / approve are PWA -> sidecar
    }
    this.commit(next);
  }

  private plan(v: ViewState, planId: string): PlanView {
    return (
      v.plans[planId] ?? {
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
      message: p.message,
      updatedAt: Date.now(),
      ...(p.status === 'awaiting-approval' && p.diffId !== undefined && { pendingDiffId: p.diffId }),
    };
    return settleDiffs({ ...v, plans: { ...v.plans, [p.planId]: plan } }, plan);
  }

  private diff(v: ViewState, p: DiffPayload): ViewState {
    this.keepBody(p.diffId, p.unified);
    putDiffBody(p.diffId, p.unified).catch((err: unknown) => this.fail(err));
    const prev = v.diffs[p.diffId];
    const meta: DiffMeta = {
      diffId: p.diffId,
      planId: p.planId,
      title: p.title,
      files: p.files,
      bytes: p.unified.length,
      approval: prev?.approval ?? (p.awaitingApproval ? 'pending' : 'none'),
      receivedAt: Date.now(),
    };
    const plan = this.plan(v, p.planId);
    return { ...v, plans: { ...v.plans, [p.planId]: plan }, diffs: { ...v.diffs, [p.diffId]: meta } };
  }

  /** The sidecar's whole state after a reconnect: it wins over what this device saw, except local prompts. */
  private recover(v: ViewState, p: RecoverPayload): ViewState {
    let next = v;
    for (const s of p.plans) {
      const { pendingDiffId: _old, ...prev } = this.plan(next, s.planId);
      const plan: PlanView = {
        ...prev,
        prompt: s.prompt || prev.prompt,
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
