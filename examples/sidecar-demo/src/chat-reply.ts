import type { PlanState } from './messages.js';

const quote = (text: string) => `"${text.length > 80 ? `${text.slice(0, 77)}...` : text}"`;

function describePlan(p: PlanState): string {
  const base = `Plan ${quote(p.prompt)} is ${p.status} (step ${p.step} of ${p.total})`;
  return p.status === 'awaiting-approval' ? `${base}: the diff waits for your approval.` : `${base}.`;
}

/**
 * The sidecar's answer to a chat message: the plan's state when the message names a plan, a summary when it asks
 * for the status, an acknowledgement otherwise.
 *
 * @example
 * chatReply('status?', undefined, book.states()); // 'Plans: 1 running, 1 applied. Latest: Plan "..." is running ...'
 */
export function chatReply(text: string, planId: string | undefined, plans: readonly PlanState[]): string {
  if (planId !== undefined) {
    const plan = plans.find((p) => p.planId === planId);
    return plan === undefined ? `I have no plan ${quote(planId)} (I keep the last 50).` : describePlan(plan);
  }
  if (/\b(status|plans?|progress)\b/i.test(text)) {
    const latest = plans.at(-1);
    if (latest === undefined) return 'No plans yet. Start one and I will report each step here.';
    const counts = new Map<string, number>();
    for (const p of plans) counts.set(p.status, (counts.get(p.status) ?? 0) + 1);
    const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
    return `Plans: ${summary}. Latest: ${describePlan(latest)}`;
  }
  return `Noted: ${quote(text)}. Start a plan to put me to work, or ask for the status.`;
}
