import { useEffect, useState } from 'preact/hooks';
import { useModel } from '../hooks.js';
import { Chat } from './Chat.js';
import { PlanItem } from './PlanItem.js';
import { StepUpDialog } from './StepUpDialog.js';
import { Transfers } from './Transfers.js';

/** Start plans, follow their progress, review diffs and decide, chat with the workstation. */
export function WorkScreen({ focusApproval }: { focusApproval: boolean }) {
  const model = useModel();
  const [prompt, setPrompt] = useState('');
  const plans = Object.values(model.view.plans).sort((a, b) => b.updatedAt - a.updatedAt);
  const pending = model.pendingApproval()?.diffId;

  // `#/approvals` (a tapped notification): bring the pending decision into view.
  useEffect(() => {
    if (!focusApproval || pending === undefined) return;
    const el = document.querySelector<HTMLElement>(`[data-diff-id="${CSS.escape(pending)}"]`);
    el?.scrollIntoView({ block: 'start' });
    el?.querySelector<HTMLElement>('[data-testid="approve"]')?.focus();
  }, [focusApproval, pending]);

  return (
    <main class="screen" aria-labelledby="work-title">
      <h2 id="work-title">Work</h2>
      {model.peers.length === 0 && <p class="notice">Pair a workstation first.</p>}
      <StepUpDialog />
      <Transfers />
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          const text = prompt.trim();
          if (text === '') return;
          setPrompt('');
          void model.startPlan(text);
        }}
      >
        <label for="plan-input">What should the workstation do?</label>
        <textarea
          id="plan-input"
          data-testid="plan-input"
          rows={3}
          value={prompt}
          onInput={(e) => setPrompt(e.currentTarget.value)}
          placeholder="Add a health endpoint"
        />
        <button type="submit" data-testid="plan-start" disabled={prompt.trim() === ''}>
          Start plan
        </button>
      </form>
      <section aria-labelledby="plans-title">
        <h2 id="plans-title">Plans</h2>
        {plans.length === 0 ? (
          <p class="hint">No plans yet.</p>
        ) : (
          <ul class="list">
            {plans.map((p) => (
              <PlanItem key={p.planId} plan={p} />
            ))}
          </ul>
        )}
      </section>
      <Chat />
    </main>
  );
}
