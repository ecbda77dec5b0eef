import { useState } from 'preact/hooks';

/** A 6-digit TOTP code field (`totp-input`, `totp-submit`). */
export function TotpForm({
  submitLabel,
  error,
  onSubmit,
}: {
  submitLabel: string;
  error: string | undefined;
  onSubmit: (code: string) => Promise<void>;
}) {
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const valid = /^\d{6}$/.test(code);
  return (
    <form
      class="stack"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!valid) return;
        setBusy(true);
        try {
          await onSubmit(code);
          setCode('');
        } finally {
          setBusy(false);
        }
      }}
    >
      <label for="totp-input">6-digit code</label>
      <input
        id="totp-input"
        data-testid="totp-input"
        type="text"
        inputMode="numeric"
        autoComplete="one-time-code"
        pattern="[0-9]{6}"
        maxLength={6}
        value={code}
        aria-invalid={error !== undefined}
        aria-describedby={error !== undefined ? 'totp-error' : undefined}
        onInput={(e) => setCode(e.currentTarget.value.replace(/\D/g, ''))}
      />
      {error !== undefined && (
        <p id="totp-error" class="field-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" data-testid="totp-submit" disabled={!valid || busy}>
        {busy ? 'Checking…' : submitLabel}
      </button>
    </form>
  );
}
