import { useModel } from '../hooks.js';

/** The latest error, with its code, until dismissed. */
export function ErrorBanner() {
  const model = useModel();
  const err = model.error;
  if (err === undefined) return null;
  return (
    <div class="error-banner" role="alert" data-testid="error" data-code={err.code}>
      <p>
        <strong>{err.code}</strong> {err.message}
      </p>
      <button type="button" class="secondary" onClick={() => model.dismissError()}>
        Dismiss
      </button>
    </div>
  );
}
