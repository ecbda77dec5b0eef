import { useCallback, useState } from 'preact/hooks';
import { navigate, useModel } from '../hooks.js';
import { enablePush, pushPermission } from '../push.js';
import { PushButton } from './PushButton.js';
import { QrScanner } from './QrScanner.js';
import { Workstations } from './Workstations.js';

/** Pair with a workstation (paste the link or scan its QR code), compare the SAS, manage paired workstations. */
export function PairScreen() {
  const model = useModel();
  const [link, setLink] = useState('');
  const [scanning, setScanning] = useState(false);
  const [busy, setBusy] = useState(false);

  const pair = useCallback(
    async (value: string) => {
      setBusy(true);
      try {
        await model.pair(value);
        setLink('');
        // Permission given earlier (a previous pairing): subscribe again without asking.
        if (pushPermission() === 'granted')
          enablePush(model.client).catch((err: unknown) => console.warn('oppie-pwa: push not enabled', err));
      } catch (err) {
        model.fail(err);
      } finally {
        setBusy(false);
      }
    },
    [model],
  );

  const scanned = useCallback(
    (text: string) => {
      setScanning(false);
      setLink(text);
      void pair(text);
    },
    [pair],
  );

  const sas = model.view.sas;
  return (
    <main class="screen" aria-labelledby="pair-title">
      <h2 id="pair-title">Pair a workstation</h2>
      <p class="hint">
        Run the sidecar on your workstation; it prints a pairing link and its QR code. Paste the link or scan the code.
      </p>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          if (link.trim() !== '') void pair(link);
        }}
      >
        <label for="pair-link">Pairing link</label>
        <input
          id="pair-link"
          data-testid="pair-link"
          type="text"
          inputMode="url"
          autoComplete="off"
          autoCapitalize="off"
          spellcheck={false}
          placeholder="oppie://pair?…"
          value={link}
          onInput={(e) => setLink(e.currentTarget.value)}
        />
        <div class="row">
          <button type="submit" data-testid="pair-submit" disabled={busy || link.trim() === ''}>
            {busy ? 'Pairing…' : 'Pair'}
          </button>
          <button type="button" class="secondary" data-testid="scan-qr" onClick={() => setScanning((s) => !s)}>
            {scanning ? 'Stop scanning' : 'Scan QR code'}
          </button>
        </div>
      </form>
      {scanning && <QrScanner onResult={scanned} onClose={() => setScanning(false)} />}

      {sas !== undefined && (
        <section class="card sas-card" aria-labelledby="sas-title">
          <h3 id="sas-title">Check the code</h3>
          <p>The terminal on your workstation shows the same code. If it differs, revoke the workstation below.</p>
          <p class="sas" data-testid="sas" aria-live="polite">
            {sas}
          </p>
          <div class="row">
            <button type="button" onClick={() => navigate('work')}>
              Codes match, continue
            </button>
            <PushButton onError={(err) => model.fail(err)} />
          </div>
        </section>
      )}

      <Workstations onError={(err) => model.fail(err)} />
    </main>
  );
}
