import { pairingQrSvg } from 'oppie-client';
import { useEffect, useState } from 'preact/hooks';
import { useModel } from '../hooks.js';
import { PushButton } from './PushButton.js';
import { TotpForm } from './TotpForm.js';

/** Two-step approval (TOTP enrollment), notifications, and this device's identity. */
export function SettingsScreen() {
  const model = useModel();
  const [enrollment, setEnrollment] = useState<{ secret: string; uri: string } | undefined>(undefined);
  const [confirmed, setConfirmed] = useState(false);
  const [codeError, setCodeError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [qr, setQr] = useState<string | undefined>(undefined);

  // The otpauth URI as a QR code for the authenticator app (the SDK's QR renderer takes any text).
  useEffect(() => {
    if (enrollment === undefined) return;
    let live = true;
    pairingQrSvg(enrollment.uri)
      .then((svg) => {
        if (live) setQr(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`);
      })
      .catch((err: unknown) => console.warn('oppie-pwa: no QR code for the OTP URI', err));
    return () => {
      live = false;
    };
  }, [enrollment]);

  return (
    <main class="screen" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>

      <section class="card" aria-labelledby="otp-title">
        <h3 id="otp-title">Two-step approval</h3>
        <p>
          Require a code from an authenticator app before any approval.
          {model.client.stepUpRequired && <strong> On for this account.</strong>}
        </p>
        {enrollment === undefined ? (
          <button
            type="button"
            data-testid="otp-enroll"
            disabled={busy || model.peers.length === 0}
            onClick={async () => {
              setBusy(true);
              try {
                setEnrollment(await model.client.enrollOtp());
                setConfirmed(false);
              } catch (err) {
                model.fail(err);
              } finally {
                setBusy(false);
              }
            }}
          >
            Set up two-step approval
          </button>
        ) : confirmed ? (
          <p role="status">Two-step approval is on.</p>
        ) : (
          <div class="stack">
            <p>Scan the code or add the key to your authenticator app, then enter the code it shows.</p>
            {qr !== undefined && (
              <img class="otp-qr" src={qr} alt="QR code of the setup link" width={200} height={200} />
            )}
            <p>
              <span class="label">Secret key</span>
              <code class="mono secret" data-testid="otp-secret">
                {enrollment.secret}
              </code>
            </p>
            <p>
              <span class="label">Setup link</span>
              <a class="mono small break" href={enrollment.uri} data-testid="otp-uri">
                {enrollment.uri}
              </a>
            </p>
            <TotpForm
              submitLabel="Confirm"
              error={codeError}
              onSubmit={async (code) => {
                setCodeError(undefined);
                try {
                  await model.client.stepUp(code);
                  setConfirmed(true);
                } catch (err) {
                  setCodeError(err instanceof Error ? err.message : String(err));
                }
              }}
            />
          </div>
        )}
      </section>

      <section class="card" aria-labelledby="push-title">
        <h3 id="push-title">Notifications</h3>
        <p>Get a notification when a change waits for your approval, even with the app closed.</p>
        <PushButton onError={(err) => model.fail(err)} />
      </section>

      <section class="card" aria-labelledby="device-title">
        <h3 id="device-title">This device</h3>
        <p>
          <span class="label">Device id</span>
          <code class="mono small break">{model.client.deviceId}</code>
        </p>
      </section>
    </main>
  );
}
