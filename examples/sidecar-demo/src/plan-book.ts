import type { PlanState, PlanStatus } from './messages.js';

/** A plan as the sidecar keeps it: the state the PWA sees, plus who asked and what the diff was. */
export interface PlanRecord {
  readonly planId: string;
  readonly prompt: string;
  /** The PWA that started the plan: its progress and diff go there. */
  readonly owner: string;
  status: PlanStatus;
  step: number;
  total: number;
  pendingDiffId?: string;
  /** The diff sent for this plan: its id, length of the unified text and file count (the text itself is not kept). */
  diff?: { readonly diffId: string; readonly bytes: number; readonly files: number };
  /** Pending step timer; cleared when the plan is dropped or the sidecar closes. */
  timer?: ReturnType<typeof setTimeout>;
}

/** Plans kept in memory; the oldest is dropped beyond this. */
export const MAX_PLANS = 50;

/**
 * The last {@link MAX_PLANS} plans by id, oldest first. Dropping a plan stops its timer, so a dropped plan never
 * sends again.
 *
 * @example
 * const book = new PlanBook();
 * book.add({ planId: 'p1', prompt: 'x', owner: pwa, status: 'running', step: 0, total: 8 });
 */
export class PlanBook {
  private readonly plans = new Map<string, PlanRecord>();
  /** Plans dropped because the book was full. */
  dropped = 0;

  constructor(private readonly max = MAX_PLANS) {}

  get(planId: string): PlanRecord | undefined {
    return this.plans.get(planId);
  }

  add(plan: PlanRecord): void {
    this.plans.set(plan.planId, plan);
    for (const [id, old] of this.plans) {
      if (this.plans.size <= this.max) break;
      clearTimeout(old.timer);
      this.plans.delete(id);
      this.dropped++;
    }
  }

  /** The state of every plan, as `recover` carries it. */
  states(): PlanState[] {
    return [...this.plans.values()].map((p) => ({
      planId: p.planId,
      prompt: p.prompt,
      status: p.status,
      step: p.step,
      total: p.total,
      ...(p.pendingDiffId !== undefined && { pendingDiffId: p.pendingDiffId }),
    }));
  }

  /** Stops every timer (the sidecar is closing). */
  stopAll(): void {
    for (const p of this.plans.values()) clearTimeout(p.timer);
  }
}
