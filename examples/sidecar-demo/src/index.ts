/**
 * @oppie/sidecar-demo: a demo sidecar on sidecar-sdk that plays a coding agent for the reference PWA (progress,
 * diffs, approval, chat, recovery), and the message contract both ends share.
 *
 * @example
 * import { startDemoSidecar } from '@oppie/sidecar-demo';
 * const demo = await startDemoSidecar({ relayUrl: 'http://127.0.0.1:8080', stateDir: '.demo/sidecar' });
 * const { link, completed } = await demo.createPairing();
 */
export { chatReply } from './chat-reply.js';
export { type DemoSidecar, type DemoSidecarOptions, type SentDiff, startDemoSidecar } from './demo-sidecar.js';
export { LARGE_DIFF_BYTES, MAX_DIFF_BYTES, requestedDiffBytes } from './diff-size.js';
export { DEMO_ERROR_CODES, DemoError, type DemoErrorCode, errorText } from './errors.js';
export type * from './messages.js';
export { showPairing } from './pairing-output.js';
export { MAX_PLANS } from './plan-book.js';
export { type PlanScript, planScript } from './plan-script.js';
export { createStepGate, type GatedStep, type StepGate, type StepTurnstile } from './step-gate.js';
export { type FileChange, type Hunk, type HunkLine, unifiedDiff } from './unified-diff.js';
