/** Holding a demo plan at a known step: for tests and walkthroughs that must act between two steps, not after a delay. */

/** The progress step a plan is about to send (1-based; `total - 1` is the request for approval). */
export interface GatedStep {
  readonly planId: string;
  readonly step: number;
  readonly total: number;
}

/** Awaited by the demo sidecar before it sends each progress step (`DemoSidecarOptions.stepGate`). */
export type StepGate = (next: GatedStep) => Promise<void> | void;

export interface StepTurnstile {
  /** Pass it as `stepGate`. */
  readonly gate: StepGate;
  /** Lets every plan send steps up to and including `step`; later ones wait. `Infinity` lets everything run. */
  allowThrough(step: number): void;
  /** Resolves once a plan (this one, if given) waits to send `step`: every step before it was sent. */
  heldAt(step: number, planId?: string): Promise<GatedStep>;
}

/**
 * A gate that lets steps through up to a limit, and says when a plan waits at the limit.
 *
 * @example
 * const turnstile = createStepGate(2);
 * const demo = await startDemoSidecar({ relayUrl, stateDir, stepGate: turnstile.gate });
 * await turnstile.heldAt(3); // steps 1 and 2 sent, step 3 waits
 * turnstile.allowThrough(Infinity);
 */
export function createStepGate(through = Number.POSITIVE_INFINITY): StepTurnstile {
  let limit = through;
  const waiting: Array<{ next: GatedStep; pass: () => void }> = [];
  const watchers: Array<{ step: number; planId: string | undefined; found: (next: GatedStep) => void }> = [];
  const notify = () => {
    for (const w of [...watchers]) {
      const hit = waiting.find((x) => x.next.step === w.step && (w.planId === undefined || x.next.planId === w.planId));
      if (hit === undefined) continue;
      watchers.splice(watchers.indexOf(w), 1);
      w.found(hit.next);
    }
  };
  return {
    gate: (next) => {
      if (next.step <= limit) return;
      return new Promise<void>((pass) => {
        waiting.push({ next, pass });
        notify();
      });
    },
    allowThrough(step) {
      limit = step;
      for (const w of waiting.filter((x) => x.next.step <= limit)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.pass();
      }
    },
    heldAt(step, planId) {
      return new Promise((found) => {
        watchers.push({ step, planId, found });
        notify();
      });
    },
  };
}
