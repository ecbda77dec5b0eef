import { useModel } from '../hooks.js';
import type { PlanView } from '../view-state.js';
import { DiffView } from './DiffView.js';

const STATUS_LABEL: Record<PlanView['status'], string> = {
  running: 'Running',
  'awaiting-approval': 'Waiting for your decision',
  applied: 'Applied',
  rejected: 'Rejected',
  failed: 'Failed',
};

/** One plan: its live progress and its diffs. */
export function PlanItem({ plan }: { plan: PlanView }) {
  const model = useModel();
  const diffs = Object.values(model.view.diffs)
    .filter((d) => d.planId === plan.planId)
    .sort((a, b) => a.receivedAt - b.receivedAt);
  const pct = plan.total > 0 ? Math.round((plan.step / plan.total) * 100) : 0;
  return (
    <li class="card plan" data-testid="plan" data-plan-id={plan.planId} data-status={plan.status}>
      <h3 class="plan-title">{plan.prompt || plan.planId}</h3>
      <p class={`badge status-${plan.status}`}>{STATUS_LABEL[plan.status]}</p>
      <div class="progress-row">
        <progress
          max={Math.max(plan.total, 1)}
          value={plan.step}
          aria-label={`Plan progress, step ${plan.step} of ${plan.total}`}
        >
          {pct}%
        </progress>
        <span class="small">
          {plan.step}/{plan.total}
        </span>
      </div>
      <p
        class="progress-message"
        data-testid="progress"
        data-step={plan.step}
        data-total={plan.total}
        aria-live="polite"
      >
        {plan.message}
      </p>
      {diffs.map((d) => (
        <DiffView key={d.diffId} meta={d} />
      ))}
    </li>
  );
}
