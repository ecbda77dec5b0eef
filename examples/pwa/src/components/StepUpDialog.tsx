import { useEffect, useRef, useState } from 'preact/hooks';
import { useModel } from '../hooks.js';
import { TotpForm } from './TotpForm.js';

/** Asks for the TOTP code when an approval needs a fresh step-up, then sends the approval. */
export function StepUpDialog() {
  const model = useModel();
  const prompt = model.stepUpPrompt;
  const [error, setError] = useState<string | undefined>(undefined);
  const box = useRef<HTMLElement>(null);

  useEffect(() => {
    if (prompt !== undefined) box.current?.querySelector('input')?.focus();
  }, [prompt]);

  if (prompt === undefined) return null;
  return (
    <section ref={box} class="card step-up" role="dialog" aria-modal="false" aria-labelledby="step-up-title">
      <h3 id="step-up-title">Confirm with your authenticator</h3>
      <p>To {prompt.decision} this change, enter the 6-digit code from your authenticator app.</p>
      <TotpForm
        submitLabel={prompt.decision === 'approve' ? 'Verify and approve' : 'Verify and reject'}
        error={error}
        onSubmit={async (code) => {
          setError(undefined);
          try {
            await model.submitStepUp(code);
          } catch (err) {
            setError(err instanceof Error ? err.message : String(err));
          }
        }}
      />
      <button type="button" class="secondary" onClick={() => model.cancelStepUp()}>
        Cancel
      </button>
    </section>
  );
}
